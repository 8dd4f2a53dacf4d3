"""MEG's database and domain. Nothing here imports Libeo code."""

from core.db import declarative_db

db = declarative_db()

from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.companies.models import (
    AccountingFirm,
    AchatsRole,
    Company,
    ModuleRole,
    User,
)
from models.meg.einvoices.documents import InvoiceDocument  # noqa: E402,F401
from models.meg.journal import MegJournalEntry  # noqa: E402,F401
from models.meg.libeo_link.attempts import PaymentAttempt
from models.meg.libeo_link.connection import LibeoConnection  # noqa: E402,F401
from models.meg.libeo_link.outbox import OutboxMessage  # noqa: E402,F401
from models.meg.libeo_link.sync import SyncRun  # noqa: E402,F401
from models.meg.oauth import OAuthAuthorizationCode, OAuthClient, OAuthToken  # noqa: E402,F401
