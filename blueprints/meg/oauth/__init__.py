"""MEG as OAuth 2.0 / OpenID Connect provider, and the API its tokens open."""

from flask import Blueprint

bp = Blueprint("oauth", __name__)

from . import routes  # noqa: E402,F401
