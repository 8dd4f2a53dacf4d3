"""Libeo's database: the Flask-SQLAlchemy handle ``db`` and ``Model``, the typed base of its tables."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from core.db import NAMING_CONVENTION


class Model(DeclarativeBase):
    """Libeo's tables: metadata of their own, constraints named by the shared convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Model)
