"""« Notifications » of MEG: the pages are the same in both products (core.notifications_routes)."""

from __future__ import annotations

from core.notifications_routes import notifications_blueprint
from models.meg import db
from models.meg.notifications.kinds import notifier, settings_for

from ..extensions import csrf

bp = notifications_blueprint(product="meg", db=db, notifier=notifier, settings_for=settings_for, csrf=csrf)
