"""What an operator watches of Libeo: its gauges (read from the database) and its refusal counters.

``/metrics`` serves :func:`snapshot`'s readings and the counters; ``flask
--app app libeo status`` prints the same as a French table and exits 1 when a
person must act (README « Operations »). Each reading costs a fixed number
of queries, bounded by the work in flight, never by the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select

from core.dates import as_utc, date_fr, paris_today, utcnow
from core.observability.metrics import counter, counter_values
from core.observability.status import Snapshot, age_fr
from models.libeo.accounts.models import Account
from models.libeo.db import db
from models.libeo.notifications.kinds import notifier
from models.libeo.payments.models import (
    AT_BANK,
    BankAnomaly,
    BankStatusImport,
    Payment,
    PaymentStatus,
    SepaBatch,
)

# Settled payments are counted over this window (the open ones, all of them).
RECENT = timedelta(days=30)
OPEN = (PaymentStatus.AWAITING_APPROVAL, PaymentStatus.SCHEDULED, *AT_BANK)
SETTLED = (PaymentStatus.PAID, PaymentStatus.FAILED, PaymentStatus.CANCELLED)
# (one, several): « 1 payé », « 3 payés ».
STATE_WORDS = {
    PaymentStatus.AWAITING_APPROVAL: ("à approuver", "à approuver"),
    PaymentStatus.SCHEDULED: ("programmé", "programmés"),
    PaymentStatus.FILE_READY: ("fichier prêt à transmettre", "fichiers prêts à transmettre"),
    PaymentStatus.TRANSMITTED: ("transmis à la banque", "transmis à la banque"),
    PaymentStatus.ACCEPTED: ("accepté par la banque", "acceptés par la banque"),
    PaymentStatus.PAID: ("payé", "payés"),
    PaymentStatus.FAILED: ("rejeté", "rejetés"),
    PaymentStatus.CANCELLED: ("annulé", "annulés"),
}


def _counted(count: int, status: PaymentStatus) -> str:
    one, several = STATE_WORDS[status]
    return f"{count} {one if count <= 1 else several}"


SHOWN_BATCHES = 3


# --- counters (kept by the servers' processes) ------------------------------------------------------

def key_failures():
    return counter("libeo_api_key_failures_total", "API calls refused for a wrong, malformed or revoked key.")


def idempotency_replays():
    return counter("libeo_idempotency_replays_total",
                   "Payment requests answered with the stored answer of their Idempotency-Key.")


def quota_refusals():
    return counter("libeo_quota_refusals_total", "Payments refused because the month's free quota was used up.")


COUNTERS = (
    ("libeo_api_key_failures_total", "Clés d'API refusées"),
    ("libeo_idempotency_replays_total", "Demandes de paiement rejouées (même Idempotency-Key)"),
    ("libeo_quota_refusals_total", "Paiements refusés, quota du mois atteint"),
)


# --- gauges (read from the database) -----------------------------------------------------------------

_OPEN_PAYMENTS = (
    select(Payment.status, func.count(Payment.id), func.min(Payment.created_at))
    .where(Payment.status.in_(OPEN))
    .group_by(Payment.status)
)
_SETTLED_PAYMENTS = (
    select(Payment.status, func.count(Payment.id))
    .where(Payment.status.in_(SETTLED), Payment.execution_date >= bindparam("since"))
    .group_by(Payment.status)
)
# The files whose transfers the bank has not settled yet: still to transmit, or transmitted and unanswered.
_WAITING_FILES = (
    select(SepaBatch.reference, SepaBatch.execution_date, SepaBatch.created_at, Account.name)
    .join(Account, Account.id == SepaBatch.account_id)
    .where(SepaBatch.id.in_(select(Payment.batch_id).where(Payment.status.in_(AT_BANK))))
    .order_by(SepaBatch.execution_date, SepaBatch.id)
)
_BANK_REPORTS = select(func.count(BankStatusImport.id), func.max(BankStatusImport.imported_at))
# What bank files said that Libeo did not apply, still waiting for a person of the account (its partial index).
_OPEN_ANOMALIES = (
    select(func.count(BankAnomaly.id), func.count(func.distinct(BankAnomaly.account_id)),
           func.min(BankAnomaly.created_at))
    .where(BankAnomaly.resolved_at.is_(None))
)


def _age(now: datetime, moment: datetime | None) -> float | None:
    return (now - as_utc(moment)).total_seconds() if moment is not None else None


def snapshot(now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    today = paris_today(now)
    shot = Snapshot()
    session = db.session

    open_rows = {status: (count, oldest) for status, count, oldest in session.execute(_OPEN_PAYMENTS)}
    settled: dict[PaymentStatus, int] = dict(
        session.execute(_SETTLED_PAYMENTS, {"since": today - RECENT}).tuples().all())
    for status in (*OPEN, *SETTLED):
        count = open_rows[status][0] if status in open_rows else settled.get(status, 0)
        shot.add("libeo_payments", "Payments by state: every open one; the settled ones whose execution date is "
                 "within the last 30 days.", count, (("state", status.value),))
    awaiting, oldest_awaiting = open_rows.get(PaymentStatus.AWAITING_APPROVAL, (0, None))
    awaiting_age = _age(now, oldest_awaiting)
    shot.add("libeo_payments_awaiting_approval", "Payments held until an administrator of the account decides.",
             awaiting)
    shot.add("libeo_payments_awaiting_approval_oldest_age_seconds",
             "Age of the oldest payment awaiting approval (0 when none).", awaiting_age or 0)
    shot.show("Paiements à approuver (par les comptes)",
              f"{awaiting}" + (f" (le plus ancien : {age_fr(awaiting_age)})" if awaiting else ""))
    shot.show("Paiements en cours", ", ".join(
        _counted(open_rows.get(status, (0, None))[0], status) for status in OPEN[1:]))
    shot.show("Paiements sur 30 jours", ", ".join(_counted(settled.get(status, 0), status) for status in SETTLED))

    files = session.execute(_WAITING_FILES).all()
    overdue = [row for row in files if row.execution_date < today]
    oldest_file = _age(now, min((row.created_at for row in files), default=None))
    shot.add("libeo_sepa_files_waiting", "SEPA files whose transfers the bank has not settled yet "
             "(to transmit, or transmitted without the bank's answer).", len(files))
    shot.add("libeo_sepa_files_waiting_oldest_age_seconds", "Age of the oldest of those files (0 when none).",
             oldest_file or 0)
    shot.add("libeo_sepa_files_overdue", "Those files whose execution date has passed.", len(overdue))
    alert = None
    if overdue:
        named = ", ".join(f"{row.reference} ({row.name}, exécution le {date_fr(row.execution_date)})"
                          for row in overdue[:SHOWN_BATCHES])
        more = f" et {len(overdue) - SHOWN_BATCHES} autre(s)" if len(overdue) > SHOWN_BATCHES else ""
        alert = (f"{len(overdue)} remise(s) sans réponse de la banque après leur date d'exécution : {named}{more}. "
                 "Vérifiez qu'elles ont été transmises à la banque (« Remises ») et importez son relevé.")
    shot.show("Remises en attente de la banque",
              f"{len(files)}" + (f" (la plus ancienne : {age_fr(oldest_file)} ; {len(overdue)} après leur date "
                                 "d'exécution)" if files else ""), alert)

    reports, last_report = session.execute(_BANK_REPORTS).one()
    shot.add("libeo_bank_reports_imported", "Bank status reports imported.", reports)
    shot.add("libeo_bank_report_last_import_timestamp_seconds",
             "When the last bank status report was imported (Unix time; 0 when none).",
             as_utc(last_report).timestamp() if last_report else 0)
    shot.show("Relevés de la banque importés",
              f"{reports}" + (f" (le dernier il y a {age_fr(_age(now, last_report))})" if reports else ""))

    anomalies, accounts, oldest_anomaly = session.execute(_OPEN_ANOMALIES).one()
    anomaly_age = _age(now, oldest_anomaly)
    shot.add("libeo_bank_anomalies_open", "What bank files said that Libeo did not apply (a rejection of a debited "
             "transfer…), waiting for a person of the account to decide.", anomalies)
    shot.add("libeo_bank_anomalies_open_oldest_age_seconds", "Age of the oldest of those (0 when none).",
             anomaly_age or 0)
    several = anomalies > 1
    shot.show("Anomalies bancaires à décider", f"{anomalies}" + (
        f" dans {accounts} compte{'s' if accounts > 1 else ''} (la plus ancienne : {age_fr(anomaly_age)})"
        if anomalies else ""),
        (f"{anomalies} anomalie{'s' if several else ''} bancaire{'s' if several else ''} "
         f"attend{'ent' if several else ''} la décision d'une personne du compte dans « Remises » : un virement a "
         "peut-être été débité malgré son rejet, ou l'inverse.") if anomalies else None)

    counts = counter_values("libeo")
    if counts is None:
        shot.show("Refus comptés par les serveurs", "non lisibles ici (PROMETHEUS_MULTIPROC_DIR non défini) : "
                                                    "voir /metrics")
    else:
        for name, label in COUNTERS:
            shot.show(label, f"{int(counts.get(name, 0))} depuis le démarrage des serveurs")
    notifier.watch(shot, "libeo", now)
    return shot


def readings():
    return snapshot().readings
