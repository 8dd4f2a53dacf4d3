"""Libeo's database and domain. Nothing here imports MEG code.

Every table is imported here, so that ``db`` knows them all (migrations,
``create_all``); code imports each from its domain's package.
"""

from models.libeo.accounts.models import Account, ApiKey, DebtorIbanChange, LibeoUser, Plan
from models.libeo.billing.subscriptions import StripeEvent, StripeSubscription
from models.libeo.db import Model, db
from models.libeo.invoices.models import Invoice, InvoiceDocument, InvoiceSource, InvoiceStatus
from models.libeo.journal import JournalEntry
from models.libeo.meg_link.vouching import MegIdentity
from models.libeo.notifications.models import Notification, NotificationSetting
from models.libeo.payments.models import (
    ACTIVE_PAYMENT_STATUSES,
    BankAnomaly,
    BankStatusImport,
    Channel,
    IdempotencyRecord,
    InitiatorRole,
    Payment,
    PaymentApproval,
    PaymentEvent,
    PaymentStatus,
    PaymentUsage,
    SepaBatch,
)
from models.libeo.payments.safeguards import KnownSupplierIban
from models.libeo.strong_auth.models import Passkey, RecoveryCode, StrongAuthChallenge, TotpFactor

__all__ = [
    "ACTIVE_PAYMENT_STATUSES", "Account", "ApiKey", "BankAnomaly", "BankStatusImport", "Channel", "DebtorIbanChange",
    "IdempotencyRecord", "InitiatorRole", "Invoice", "InvoiceDocument", "InvoiceSource", "InvoiceStatus",
    "JournalEntry", "KnownSupplierIban", "LibeoUser", "MegIdentity", "Model", "Notification", "NotificationSetting",
    "Payment", "PaymentApproval", "PaymentEvent", "PaymentStatus",
    "Passkey", "PaymentUsage", "Plan", "RecoveryCode", "SepaBatch", "StrongAuthChallenge", "StripeEvent",
    "StripeSubscription", "TotpFactor", "db",
]
