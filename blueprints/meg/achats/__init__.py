
from .routes import bp, confirmation_anchor

__all__ = ["bp", "confirmation_anchor"]
