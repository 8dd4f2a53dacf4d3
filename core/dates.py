"""Time as both products keep it (UTC, aware) and show it (Europe/Paris, French formats)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def utcnow() -> datetime:
    return datetime.now(UTC)


def paris_now(now: datetime | None = None) -> datetime:
    return (now or utcnow()).astimezone(PARIS)


def paris_today(now: datetime | None = None) -> date:
    """Today in France: « this month » and « today » of payments are Paris days."""
    return paris_now(now).date()


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes: they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def date_fr(value: date | None) -> str:
    """« 04/01/2027 »."""
    # Formatted by hand: strftime costs more, and « Règlements » writes 50 of these per page.
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}" if value else ""


def datetime_fr(value: datetime | None) -> str:
    """« 02/11/2026 à 14:05 », Paris time."""
    return as_utc(value).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else ""


def register_date_filters(app) -> None:
    """The one way both products write dates for people (templates: ``|date_fr``, ``|datetime_fr``)."""
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(datetime_fr, "datetime_fr")
