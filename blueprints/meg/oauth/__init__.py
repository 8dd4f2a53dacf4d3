"""MEG as OAuth 2.0 / OpenID Connect provider, and the API its tokens open."""

from .routes import bp

__all__ = ["bp"]
