"""MEG's notification outbox and each person's choices (``core.notifications``)."""

from __future__ import annotations

from core.notifications import notification_tables
from models.meg.db import Model, db

Notification, NotificationSetting, outbox = notification_tables(
    db, Model, __name__, scope="company", user_table="user_account")
