"""Libeo's database and domain. Nothing here imports MEG code."""

from core.db import declarative_db

db = declarative_db()

from .entities import (  # noqa: E402,F401
    ACTIVE_PAYMENT_STATUSES,
    Account,
    ApiKey,
    BankStatusImport,
    Channel,
    IdempotencyRecord,
    InitiatorRole,
    Invoice,
    InvoiceDocument,
    InvoiceSource,
    InvoiceStatus,
    LibeoUser,
    Payment,
    PaymentEvent,
    PaymentStatus,
    PaymentUsage,
    Plan,
    SepaBatch,
)
from .billing import StripeEvent, StripeSubscription  # noqa: E402,F401
from .journal import JournalEntry  # noqa: E402,F401
from .meg_link import MegIdentity  # noqa: E402,F401
from .safeguards import KnownSupplierIban  # noqa: E402,F401
