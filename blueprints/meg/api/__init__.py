"""MEG's API for programs holding one of its OAuth access tokens (Libeo delivers its key here)."""

from .routes import bp

__all__ = ["bp"]
