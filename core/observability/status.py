"""What ``flask … status`` prints: the gauges as a short French table, and what needs a person.

A product's monitoring module builds a :class:`Snapshot` from the database:
its Prometheus readings (the same ``/metrics`` serves), the lines a person
reads, and the alerts. The command exits 1 when there is an alert, so that a
cron job mails it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.dates import datetime_fr, utcnow
from core.observability.metrics import Reading


@dataclass(frozen=True)
class Line:
    label: str
    shown: str
    # What a person must do about it, in French; None when all is well.
    alert: str | None = None


@dataclass
class Snapshot:
    readings: list[Reading] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    @property
    def alerts(self) -> list[str]:
        return [line.alert for line in self.lines if line.alert]

    def add(self, name: str, help: str, value: float, labels: tuple[tuple[str, str], ...] = ()) -> None:
        self.readings.append(Reading(name, help, float(value), labels))

    def show(self, label: str, shown: str, alert: str | None = None) -> None:
        self.lines.append(Line(label, shown, alert))


def age_fr(seconds: float | None) -> str:
    """« 45 s », « 12 min », « 3 h 05 min », « 2 j 4 h »; « — » for nothing."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} j {hours} h"


def render(product: str, snapshot: Snapshot) -> str:
    width = max((len(line.label) for line in snapshot.lines), default=0)
    rows = [f"{product} — état au {datetime_fr(utcnow())} (heure de Paris)"]
    for line in snapshot.lines:
        mark = "!" if line.alert else " "
        rows.append(f" {mark} {line.label.ljust(width)}  {line.shown}")
    alerts = snapshot.alerts
    rows.append("")
    if alerts:
        rows.append("À traiter :")
        rows.extend(f"  - {alert}" for alert in alerts)
    else:
        rows.append("Rien à signaler.")
    return "\n".join(rows)
