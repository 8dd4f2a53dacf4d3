"""MEG's notification outbox and each person's choices."""

from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from core.notifications import NotificationColumns, NotificationSettingColumns, Outbox, notification_table_args
from models.meg.db import Model, db


class Notification(NotificationColumns, Model):
    """One e-mail to one person about one event of a company (``core.notifications``)."""

    __tablename__ = "notification"
    __table_args__ = notification_table_args("notification")

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class NotificationSetting(NotificationSettingColumns, Model):
    """A person's choice for one kind of notification: at once, in the daily digest, or never."""

    __tablename__ = "notification_setting"


outbox = Outbox(db, Notification, "company_id")
