from flask import Blueprint

bp = Blueprint("approvals", __name__)

from . import routes  # noqa: E402,F401
