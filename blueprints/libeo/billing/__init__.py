"""« Abonnement »: the Partnerships plan paid through Stripe, and Stripe's webhooks."""

from flask import Blueprint

bp = Blueprint("billing", __name__)

from . import commands, routes  # noqa: E402,F401
