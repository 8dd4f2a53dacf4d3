"""Libeo's REST API v1: JSON, ``Authorization: Bearer <api key>``."""

from .routes import bp

__all__ = ["bp"]
