"""MEG's database and domain. Nothing here imports Libeo code.

Every table is imported here, so that ``db`` knows them all (migrations,
``create_all``); code imports each from its domain's package.
"""

from models.meg.achats.models import PaymentMode, Supplier, SupplierInvoice
from models.meg.companies.models import AccountingFirm, AchatsRole, Company, ModuleRole, User
from models.meg.companies.second_factor import MegRecoveryCode, MegSecondFactorRefusal, MegTotpFactor
from models.meg.db import Model, db
from models.meg.einvoices.documents import InvoiceDocument
from models.meg.journal import MegJournalEntry
from models.meg.libeo_link.attempts import PaymentAttempt
from models.meg.libeo_link.connection import LibeoConnection
from models.meg.libeo_link.outbox import OutboxMessage
from models.meg.libeo_link.sync import SyncRun
from models.meg.notifications.models import Notification, NotificationSetting
from models.meg.oauth import OAuthAuthorizationCode, OAuthClient, OAuthToken

__all__ = [
    "AccountingFirm", "AchatsRole", "Company", "InvoiceDocument", "LibeoConnection", "MegJournalEntry",
    "MegRecoveryCode", "MegSecondFactorRefusal", "MegTotpFactor", "Model",
    "ModuleRole", "Notification", "NotificationSetting", "OAuthAuthorizationCode", "OAuthClient", "OAuthToken",
    "OutboxMessage", "PaymentAttempt", "PaymentMode", "Supplier", "SupplierInvoice", "SyncRun", "User", "db",
]
