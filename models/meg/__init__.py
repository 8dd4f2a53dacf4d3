"""MEG's database and domain. Nothing here imports Libeo code."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from core.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

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
from .libeo_link import LibeoConnection, LibeoPayment, OutboxMessage  # noqa: E402,F401
from .oauth import OAuthAuthorizationCode, OAuthClient, OAuthToken  # noqa: E402,F401
