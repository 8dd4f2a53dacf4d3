"""What MEG tells, to whom, and where each e-mail leads (``events`` writes them)."""

from __future__ import annotations

from sqlalchemy import select

from core.notifications import Kind, Notifier, Setting
from core.reminders import DUE_REMINDER, SETTING_DESCRIPTION, SETTING_LABEL
from core.reminders import subject as reminder_subject
from models.meg.companies.models import User
from models.meg.db import db
from models.meg.libeo_link.connection import LibeoConnection
from models.meg.libeo_link.outbox import refused_updates
from models.meg.notifications.events import (
    CANCELLED,
    CONNECTION_BROKEN,
    LIBEO_CONNECTION,
    NOT_SENT,
    PAYMENT_OUTCOME,
    PAYMENT_PAID,
    REFUSED,
    REJECTED,
    UPDATES_REFUSED,
)
from models.meg.notifications.models import NotificationSetting, outbox
from models.meg.notifications.reminders import still_owed

SETTINGS = [
    Setting(PAYMENT_OUTCOME, "Issue de vos paiements Libeo",
            "Un paiement que vous avez demandé avec « Payer » est refusé par Libeo après « Vérification en cours », "
            "rejeté par la banque, refusé à l'approbation ou annulé dans Libeo."),
    Setting(PAYMENT_PAID, "Paiements débités",
            "Le virement d'un paiement que vous avez demandé avec « Payer » est débité par la banque : le fournisseur "
            "est payé."),
    Setting(LIBEO_CONNECTION, "Connexion à Libeo",
            "La connexion de l'entreprise à Libeo ne fonctionne plus, ou des mises à jour de factures refusées par "
            "Libeo attendent dans « Options » (au plus une fois par jour et par problème).",
            administrators_only=True),
    Setting(DUE_REMINDER, SETTING_LABEL, SETTING_DESCRIPTION),
]

_OUTCOME_WORDS = {REFUSED: "refusé par Libeo", REJECTED: "rejeté par la banque", CANCELLED: "annulé dans Libeo",
                  NOT_SENT: "non envoyé à Libeo"}


def _outcome_subject(data: dict) -> str:
    words = "refusé à l'approbation dans Libeo" if data.get("approval_refused") else _OUTCOME_WORDS[data["outcome"]]
    return f"Paiement {words} : facture {data['invoice_number']}, {data['supplier']}, {data['amount']}"


def _connection_subject(data: dict) -> str:
    if data["state"] == "key_revoked":
        return f"{data['company_name']} : Libeo refuse la clé d'API, « Payer » ne fonctionne plus"
    return f"{data['company_name']} : Libeo ne répond pas, les paiements et mises à jour attendent"


def _connection_still_broken(data: dict) -> bool:
    state = db.session.scalar(select(LibeoConnection.state).where(LibeoConnection.company_id == data["company_id"]))
    return state is not None and state.value == data["state"]


def _updates_still_refused(data: dict) -> bool:
    return bool(refused_updates(data["company_id"]))


def _options(data: dict) -> tuple[str, dict]:
    return "achats.options", {"entreprise": data["company_id"]}


KINDS = {
    kind.code: kind
    for kind in (
        Kind(PAYMENT_OUTCOME, _outcome_subject,
             lambda d: ("achats.invoice", {"invoice_id": d["invoice_id"], "entreprise": d["company_id"]})),
        Kind(PAYMENT_PAID,
             lambda d: f"Paiement débité : facture {d['invoice_number']}, {d['supplier']}, {d['amount']}",
             lambda d: ("achats.invoice", {"invoice_id": d["invoice_id"], "entreprise": d["company_id"]})),
        Kind(CONNECTION_BROKEN, _connection_subject, _options, setting=LIBEO_CONNECTION,
             still_due=_connection_still_broken),
        Kind(UPDATES_REFUSED,
             lambda d: f"{d['company_name']} : des mises à jour de factures refusées par Libeo attendent",
             _options, setting=LIBEO_CONNECTION, still_due=_updates_still_refused),
        Kind(DUE_REMINDER, reminder_subject,
             lambda d: ("achats.invoice", {"invoice_id": d["invoice_id"], "entreprise": d["company_id"]}),
             still_due=still_owed),
    )
}

notifier = Notifier(outbox=outbox, setting_table=NotificationSetting, user=User, kinds=KINDS, settings=SETTINGS,
                    product="meg")


def settings_for(user: User) -> list[Setting]:
    """The lines of a user's « Notifications » page: the connection's for « Achats » administrators only."""
    administers = any(user.is_achats_admin(company) for company in user.companies())
    return [setting for setting in SETTINGS if administers or not setting.administrators_only]
