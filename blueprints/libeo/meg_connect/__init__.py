"""« Me connecter avec MEG »: Libeo as an OpenID Connect client of MEG."""

from .routes import bp

__all__ = ["bp"]
