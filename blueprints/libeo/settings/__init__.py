"""« Configuration »: the company and its bank account, users, expert-comptable, integrations."""

from .routes import bp

__all__ = ["bp"]
