"""Libeo's database and domain. Nothing here imports MEG code."""

from core.db import declarative_db

db = declarative_db()

from models.libeo.accounts.models import Account, ApiKey, DebtorIbanChange, LibeoUser, Plan  # noqa: F401
from models.libeo.billing.subscriptions import StripeEvent, StripeSubscription  # noqa: E402,F401
from models.libeo.invoices.models import (
    Invoice,
    InvoiceDocument,
    InvoiceSource,
    InvoiceStatus,
)
from models.libeo.journal import JournalEntry  # noqa: E402,F401
from models.libeo.meg_link.vouching import MegIdentity  # noqa: E402,F401
from models.libeo.payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    BankAnomaly,
    BankStatusImport,
    Channel,
    IdempotencyRecord,
    InitiatorRole,
    Payment,
    PaymentEvent,
    PaymentStatus,
    PaymentUsage,
    SepaBatch,
)
from models.libeo.payments.safeguards import KnownSupplierIban
