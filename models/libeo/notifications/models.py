"""Libeo's notification outbox and each person's choices."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.notifications import NotificationColumns, NotificationSettingColumns, Outbox, notification_table_args
from models.libeo.db import Model, db


class Notification(NotificationColumns, Model):
    """One e-mail to one person about one event of an account (``core.notifications``)."""

    __tablename__ = "notification"
    __table_args__ = notification_table_args("notification")

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("libeo_user.id", ondelete="SET NULL"))


class NotificationSetting(NotificationSettingColumns, Model):
    """A person's choice for one kind of notification: at once, in the daily digest, or never."""

    __tablename__ = "notification_setting"


outbox = Outbox(db, Notification, "account_id")
