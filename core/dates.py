"""Time as both products keep it (UTC, aware) and show it (Europe/Paris, French formats)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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


def paris_moment(value: datetime | None) -> datetime | None:
    """A stored moment as Paris's clocks read it, without its offset: what a spreadsheet cell holds (XLSX has
    no time zones)."""
    return as_utc(value).astimezone(PARIS).replace(tzinfo=None) if value else None


def datetime_fr(value: datetime | None) -> str:
    """« 02/11/2026 à 14:05 », Paris time."""
    return as_utc(value).astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else ""


# « Échéance proche »: due within this many days.
DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class DueFlag:
    label: str  # « En retard », « Échéance proche »
    badge: str


OVERDUE = DueFlag("En retard", "badge-err")
DUE_SOON = DueFlag("Échéance proche", "badge-warn")


def due_flag(due: date | None, today: date | None = None) -> DueFlag | None:
    """How an invoice still to pay stands against its due date (Paris days): late, soon due, or neither."""
    if due is None:
        return None
    today = today or paris_today()
    if due < today:
        return OVERDUE
    return DUE_SOON if (due - today).days <= DUE_SOON_DAYS else None


def week_of(today: date | None = None) -> tuple[date, date]:
    """This week, Monday to Sunday (Paris): « Cette semaine »."""
    today = today or paris_today()
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def register_date_filters(app) -> None:
    """The one way both products write dates for people (templates: ``|date_fr``, ``|datetime_fr``,
    ``due_flag(invoice.due_date)``)."""
    app.add_template_filter(date_fr, "date_fr")
    app.add_template_filter(datetime_fr, "datetime_fr")
    app.add_template_global(due_flag, "due_flag")
