"""« Abonnement »: the Partnerships plan paid through Stripe, and Stripe's webhooks."""

from . import commands  # noqa: F401 (registers its commands)
from .routes import bp

__all__ = ["bp"]
