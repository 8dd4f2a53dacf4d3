"""« Configuration »: the company and its bank account, users, expert-comptable, integrations."""

from flask import Blueprint

bp = Blueprint("settings", __name__)

from . import routes  # noqa: E402,F401
