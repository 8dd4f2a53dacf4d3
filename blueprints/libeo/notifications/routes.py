"""« Notifications » of Libeo: the pages are the same in both products (core.notifications_routes)."""

from __future__ import annotations

from core.notifications_routes import notifications_blueprint
from models.libeo import db
from models.libeo.notifications.kinds import notifier, settings_for

from ..extensions import csrf

bp = notifications_blueprint(product="libeo", db=db, notifier=notifier, settings_for=settings_for, csrf=csrf)
