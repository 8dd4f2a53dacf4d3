"""MEG's API for programs holding one of its OAuth access tokens (Libeo delivers its key here)."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import routes  # noqa: E402,F401
