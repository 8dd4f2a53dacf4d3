from flask import Blueprint

bp = Blueprint("achats", __name__)

from . import routes  # noqa: E402,F401
