"""What an operator watches of MEG's exchange with Libeo: gauges for ``/metrics`` and ``flask meg status``.

Read from the database at each scrape with a fixed number of queries (four),
bounded by the work in flight and the connected companies, never by the
history. The thresholds are those of the runbook, README « Operations ».
"""

from __future__ import annotations

from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import case, func, select

from core.dates import as_utc, utcnow
from core.http import kept_http_session
from core.observability.status import Snapshot, age_fr
from models.meg.companies.models import Company
from models.meg.db import db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
from models.meg.libeo_link.connection import ConnectionState, LibeoConnection
from models.meg.libeo_link.outbox import OutboxMessage
from models.meg.libeo_link.sync import SyncRun
from models.meg.notifications.kinds import notifier

UNHEARD_ALERT = timedelta(hours=1)
LAG_ALERT = timedelta(minutes=15)
SYNC_ALERT = timedelta(minutes=15)
SHOWN_COMPANIES = 3
CONNECTION_WORDS = {
    ConnectionState.ACTIVE: "active(s)",
    ConnectionState.UNREACHABLE: "Libeo injoignable",
    ConnectionState.KEY_REVOKED: "clé révoquée",
    ConnectionState.REMOVED: "supprimée(s)",
}

_UNHEARD = select(func.count(PaymentAttempt.id), func.min(PaymentAttempt.requested_at)).where(
    PaymentAttempt.status == PaymentState.REQUESTED, PaymentAttempt.idempotency_key.is_not(None))
_undelivered = OutboxMessage.delivered_at.is_(None) & OutboxMessage.ignored_at.is_(None)
_waiting = _undelivered & OutboxMessage.refused_at.is_(None)
_dead = _undelivered & OutboxMessage.refused_at.is_not(None)
_OUTBOX = select(
    func.sum(case((_waiting, 1), else_=0)),
    func.min(case((_waiting, OutboxMessage.created_at))),
    func.sum(case((_dead, 1), else_=0)),
).where(_undelivered)
_CONNECTIONS = (
    select(Company.name, LibeoConnection.state, LibeoConnection.events_read_at, LibeoConnection.connected_at)
    .join(Company, Company.id == LibeoConnection.company_id)
    .order_by(LibeoConnection.company_id)
)
_DEAD_COMPANIES = (
    select(Company.name).where(Company.id.in_(select(OutboxMessage.company_id).where(_dead)))
    .order_by(Company.name).limit(SHOWN_COMPANIES)
)


def _age(now: datetime, moment: datetime | None) -> float | None:
    return max(0.0, (now - as_utc(moment)).total_seconds()) if moment is not None else None


def _names(names: list[str], total: int) -> str:
    shown = ", ".join(f"« {name} »" for name in names)
    return shown + (f" et {total - len(names)} autre(s)" if total > len(names) else "")


def snapshot(now: datetime | None = None) -> Snapshot:
    now = now or utcnow()
    shot = Snapshot()
    session = db.session

    unheard, oldest = session.execute(_UNHEARD).one()
    unheard_age = _age(now, oldest)
    shot.add("meg_unheard_payment_requests",
             "Payment requests sent to Libeo whose answer MEG has not heard yet (replayed by the sync pass).", unheard)
    shot.add("meg_unheard_payment_requests_oldest_age_seconds",
             "Age of the oldest unheard payment request (0 when none).", unheard_age or 0)
    alert = None
    if unheard_age is not None and unheard_age > UNHEARD_ALERT.total_seconds():
        alert = (f"{unheard} demande(s) de paiement sans réponse de Libeo, la plus ancienne depuis "
                 f"{age_fr(unheard_age)} : vérifiez que la synchronisation tourne (`flask --app app meg sync "
                 "--loop`) et que Libeo répond (/readyz).")
    shot.show("Demandes de paiement sans réponse de Libeo",
              f"{unheard}" + (f" (la plus ancienne : {age_fr(unheard_age)})" if unheard else ""), alert)

    waiting, oldest_waiting, dead = session.execute(_OUTBOX).one()
    waiting, dead = int(waiting or 0), int(dead or 0)
    waiting_age = _age(now, oldest_waiting)
    shot.add("meg_outbox_depth", "Invoice updates waiting to be delivered to Libeo.", waiting)
    shot.add("meg_outbox_oldest_age_seconds", "Age of the oldest waiting invoice update (0 when none).",
             waiting_age or 0)
    shot.add("meg_outbox_dead_letters", "Invoice updates Libeo refused for good, waiting for a person "
             "(« Réessayer » or « Ignorer » in « Options »).", dead)
    shot.show("Mises à jour de factures à envoyer à Libeo",
              f"{waiting}" + (f" (la plus ancienne : {age_fr(waiting_age)})" if waiting else ""))
    alert = None
    if dead:
        names = list(session.scalars(_DEAD_COMPANIES))
        companies = ", ".join(f"« {name} »" for name in names) + (" …" if len(names) == SHOWN_COMPANIES else "")
        alert = (f"{dead} mise(s) à jour refusée(s) définitivement par Libeo (entreprises : {companies}) : "
                 "un administrateur « Achats » de l'entreprise choisit « Réessayer » ou « Ignorer » dans « Options ».")
    shot.show("Mises à jour refusées par Libeo (lettres mortes)", f"{dead}", alert)

    by_state = dict.fromkeys(ConnectionState, 0)
    lagging: list[tuple[float, str]] = []
    worst: tuple[float, str] | None = None
    for name, state, read_at, connected_at in session.execute(_CONNECTIONS):
        by_state[state] += 1
        if state in (ConnectionState.KEY_REVOKED, ConnectionState.REMOVED):
            continue  # never read again until the company pastes a new key: its administrators are told
        lag = _age(now, read_at or connected_at) or 0.0
        if worst is None or lag > worst[0]:
            worst = (lag, name)
        if lag > LAG_ALERT.total_seconds():
            lagging.append((lag, name))
    # Aggregates, not a series per company (their number grows with the customers): ``status`` names them.
    shot.add("meg_libeo_events_lag_max_seconds", "Seconds since MEG last read a company's Libeo events feed to "
             "its end, for the company read the longest ago (companies whose key works; 0 when none).",
             worst[0] if worst else 0)
    shot.add("meg_libeo_events_lagging_companies", "Companies whose Libeo events were not read to the end for "
             f"more than {int(LAG_ALERT.total_seconds())} s.", len(lagging))
    for state, count in by_state.items():
        shot.add("meg_libeo_connections", "Companies connected to Libeo, by what the last exchange said.", count,
                 (("state", state.value),))
    shot.show("Connexions à Libeo",
              ", ".join(f"{count} {CONNECTION_WORDS[state]}" for state, count in by_state.items()))
    alert = None
    if lagging:
        lagging.sort(reverse=True)
        shown = _names([name for _, name in lagging[:SHOWN_COMPANIES]], len(lagging))
        alert = (f"Les événements Libeo de {len(lagging)} entreprise(s) n'ont pas été lus depuis plus de "
                 f"{age_fr(LAG_ALERT.total_seconds())} ({shown}) : Libeo est-il joignable ? "
                 "La synchronisation tourne-t-elle ?")
    shot.show("Retard de lecture des événements Libeo",
              f"{age_fr(worst[0])} au plus (« {worst[1]} »)" if worst else "—", alert)

    run = session.get(SyncRun, 1)
    since = _age(now, run.finished_at) if run is not None else None
    shot.add("meg_sync_pass_duration_seconds", "Duration of the last sync pass that went to its end.",
             run.duration_ms / 1000 if run is not None else 0)
    shot.add("meg_sync_last_success_timestamp_seconds",
             "When the last sync pass went to its end (Unix time; 0 when none ever did).",
             as_utc(run.finished_at).timestamp() if run is not None else 0)
    alert = None
    connected = sum(count for state, count in by_state.items()
                    if state not in (ConnectionState.KEY_REVOKED, ConnectionState.REMOVED))
    if connected and (since is None or since > SYNC_ALERT.total_seconds()):
        alert = ("Aucun passage de synchronisation avec Libeo n'a abouti " +
                 ("depuis " + age_fr(since) if since is not None else "jusqu'ici") +
                 " : démarrez ou relancez `flask --app app meg sync --loop` et lisez son journal.")
    duration = f"{run.duration_ms / 1000:.1f}".replace(".", ",") if run is not None else ""
    shot.show("Dernier passage de synchronisation réussi",
              f"il y a {age_fr(since)} (durée {duration} s)" if run is not None else "jamais", alert)
    notifier.watch(shot, "meg", now)
    return shot


def readings():
    return snapshot().readings


def libeo_answers() -> bool:
    """Whether Libeo says it is ready (``GET /readyz``), asked with a short timeout."""
    url = current_app.config["LIBEO_URL"].rstrip("/") + "/readyz"
    try:
        response = kept_http_session(current_app).get(url, timeout=min(2.0, current_app.config["HTTP_TIMEOUT"]),
                                                      allow_redirects=False)
    except requests.RequestException:
        return False
    return response.status_code == 200
