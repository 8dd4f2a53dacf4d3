"""MEG's database and domain. Nothing here imports Libeo code."""

from core.db import declarative_db

db = declarative_db()

from .entities import (  # noqa: E402,F401
    AccountingFirm,
    AchatsRole,
    Company,
    ModuleRole,
    PaymentMode,
    Supplier,
    SupplierInvoice,
    User,
)
from .invoice_documents import InvoiceDocument  # noqa: E402,F401
from .journal import MegJournalEntry  # noqa: E402,F401
from .libeo_connection import LibeoConnection  # noqa: E402,F401
from .libeo_outbox import OutboxMessage  # noqa: E402,F401
from .libeo_payments import LibeoPayment  # noqa: E402,F401
from .oauth import OAuthAuthorizationCode, OAuthClient, OAuthToken  # noqa: E402,F401
