"""Libeo's database and domain. Nothing here imports MEG code."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from core.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

from .entities import (  # noqa: E402,F401
    ACTIVE_PAYMENT_STATUSES,
    Account,
    ApiKey,
    Channel,
    IdempotencyRecord,
    InitiatorRole,
    Invoice,
    InvoiceSource,
    InvoiceStatus,
    LibeoUser,
    Payment,
    PaymentStatus,
    PaymentUsage,
    Plan,
    SepaBatch,
)
from .billing import StripeEvent, StripeSubscription  # noqa: E402,F401
from .meg_identity import MegIdentity  # noqa: E402,F401
