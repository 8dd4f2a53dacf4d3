from flask import Blueprint

bp = Blueprint("remittances", __name__)

from . import routes  # noqa: E402,F401
