"""Libeo's database and domain. Nothing here imports MEG code."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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
