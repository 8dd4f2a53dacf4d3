from flask import Blueprint

bp = Blueprint("meg_journal", __name__)

from . import routes  # noqa: E402,F401
