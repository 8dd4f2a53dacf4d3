"""What Libeo tells, to whom, and where each e-mail leads.

Each kind's data is what the event was when it happened (copied into the
outbox row): an e-mail says what happened then, and its link opens the page
that shows what it is now. No secret ever goes into it (a new API key is
named by its public prefix), and IBANs only masked.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core.notifications import Kind, Notifier, Setting
from core.reminders import DUE_REMINDER, SETTING_LABEL
from core.reminders import subject as reminder_subject
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.notifications.models import NotificationSetting, outbox
from models.libeo.notifications.reminders import still_owed
from models.libeo.payments.models import BankAnomaly
from models.libeo.payments.quota import PaymentQuota

PAYMENT_HELD = "payment_held"
PAYMENT_REJECTED = "payment_rejected"
PAYMENT_DEBITED = "payment_debited"
SEPA_FILE_READY = "sepa_file_ready"
BANK_ANOMALY = "bank_anomaly"
QUOTA_REACHED = "quota_reached"
API_KEY_CREATED = "api_key_created"
MEG_CONNECTED = "meg_connected"
SIRET_CLAIMED = "siret_claimed"
SECURITY = "security"

SETTINGS = [
    Setting(PAYMENT_HELD, "Paiements à approuver",
            "Un paiement est retenu par les contrôles de Libeo et attend la décision d'un administrateur.",
            administrators_only=True),
    Setting(PAYMENT_REJECTED, "Paiements rejetés",
            "Un virement n'est pas exécuté : la banque l'a rejeté, ou il ne pouvait pas être mis au format SEPA "
            "(à la personne qui l'a demandé et aux administrateurs)."),
    Setting(PAYMENT_DEBITED, "Paiements débités",
            "Un virement que vous avez demandé est débité du compte de l'entreprise."),
    Setting(SEPA_FILE_READY, "Remises SEPA prêtes",
            "Un fichier de virements SEPA est prêt : à télécharger dans « Remises » et à transmettre à la banque.",
            administrators_only=True),
    Setting(BANK_ANOMALY, "Anomalies bancaires",
            "Un fichier de la banque dit d'un virement autre chose que ce que Libeo sait, ou un débit peut être "
            "plusieurs virements : Libeo n'a rien changé, un administrateur vérifie et décide dans « Remises ».",
            administrators_only=True),
    Setting(QUOTA_REACHED, "Quota de paiements atteint",
            "Les paiements du mois inclus dans la formule Gratuit sont tous utilisés.", administrators_only=True),
    Setting(DUE_REMINDER, SETTING_LABEL,
            "Une facture saisie dans Libeo et à payer arrive à échéance dans les 7 jours, ou son échéance est "
            "dépassée (un rappel pour chacun, par facture ; celles de MEG sont rappelées par MEG)."),
    Setting(SECURITY, "Alertes de sécurité",
            "Une nouvelle clé d'API est créée, le compte est relié à une entreprise de MEG, ou son SIRET est "
            "revendiqué par le compte vérifié de l'entreprise. "
            "Ces alertes sont toujours envoyées.", locked=True, administrators_only=True),
]


def _payment_page(data: dict) -> tuple[str, dict]:
    return "payments.payment", {"payment_id": data["payment_id"]}


# Why a payment is held, as a subject line says it (the e-mail itself has Libeo's full sentences).
SHORT_HOLD_LABELS = {
    "new_iban": "nouvel IBAN",
    "duplicate_suspected": "doublon possible",
    "payee_name_mismatch": "nom du bénéficiaire différent",
    "approval_rule": "règle d'approbation",
    "mixed_scripts": "écritures mélangées",
}


def _held_subject(data: dict) -> str:
    """« 1 paiement à approuver : Minoterie Dupont, 410,00 €, nouvel IBAN »."""
    reasons = ", ".join(SHORT_HOLD_LABELS.get(code, code) for code in data.get("hold_codes") or ())
    return f"1 paiement à approuver : {data['supplier']}, {data['amount']}" + (f", {reasons}" if reasons else "")


def _anomaly_subject(data: dict) -> str:
    """« 1 anomalie bancaire à vérifier : Minoterie Dupont, 410,00 € (facture F-12) »."""
    count = len(data["items"])
    if count == 1 and (item := data["items"][0]).get("supplier"):
        return (f"1 anomalie bancaire à vérifier : {item['supplier']}, {item['amount']} "
                f"(facture {item['invoice_number']})")
    return f"{count} anomalie{'s' if count > 1 else ''} bancaire{'s' if count > 1 else ''} à vérifier dans « Remises »"


def _anomalies_still_open(data: dict) -> bool:
    """Told only while one of them waits for a decision: resolved meanwhile, there is nothing left to do."""
    ids = [item["anomaly_id"] for item in data["items"]]
    return bool(db.session.scalar(
        select(func.count(BankAnomaly.id)).where(BankAnomaly.id.in_(ids), BankAnomaly.resolved_at.is_(None))
    ))


def _quota_still_used_up(data: dict) -> bool:
    """Told only while the month is still full: a payment cancelled or refused meanwhile gave its slot back (and
    a plan without limit has none to use up)."""
    if "account_id" not in data:  # written before the e-mail checked it: told as it was
        return True
    account = db.session.get(Account, data["account_id"])
    if account is None:
        return False
    quota = PaymentQuota(account, data["month"])
    return quota.limit is not None and quota.used >= quota.limit


KINDS = {
    kind.code: kind
    for kind in (
        Kind(PAYMENT_HELD, _held_subject, _payment_page),
        Kind(PAYMENT_REJECTED,
             lambda d: f"Paiement rejeté : {d['supplier']}, {d['amount']} "
                       f"(facture {d['invoice_number']})",
             _payment_page),
        Kind(PAYMENT_DEBITED,
             lambda d: f"Paiement débité : {d['supplier']}, {d['amount']} (facture {d['invoice_number']})",
             _payment_page),
        Kind(SEPA_FILE_READY,
             lambda d: f"Remise SEPA prête à transmettre à la banque : {d['count']} virement"
                       f"{'s' if d['count'] > 1 else ''}, {d['total']}",
             lambda d: ("remittances.batch", {"batch_id": d["batch_id"]})),
        Kind(BANK_ANOMALY, _anomaly_subject,
             lambda d: ("remittances.list_batches", {"_anchor": "anomalies"}), still_due=_anomalies_still_open),
        Kind(QUOTA_REACHED,
             lambda d: f"Les {d['limit']} paiements du mois de la formule Gratuit sont utilisés",
             lambda d: ("billing.subscription", {}), still_due=_quota_still_used_up),
        Kind(DUE_REMINDER, reminder_subject, lambda d: ("invoices.invoice", {"invoice_id": d["invoice_id"]}),
             still_due=still_owed),
        Kind(API_KEY_CREATED,
             lambda d: f"Sécurité : nouvelle clé d'API MEG pour {d['account_name']}",
             lambda d: ("settings.integrations", {}), setting=SECURITY, locked=True),
        Kind(MEG_CONNECTED,
             lambda d: f"Sécurité : votre compte Libeo est relié à « {d['company_name']} » de MEG",
             lambda d: ("settings.integrations", {}), setting=SECURITY, locked=True),
        Kind(SIRET_CLAIMED,
             lambda d: (f"Sécurité : le SIRET {d['siret']} de votre compte Libeo "
                        + ("a été confirmé par un autre compte" if d["lost"] else "est revendiqué")),
             lambda d: ("journal.entries", {}), setting=SECURITY, locked=True),
    )
}

def _entitled(row) -> bool:
    """A user of the account (users are never removed), or the account's expert-comptable while they are."""
    if row.user_id is not None:
        return True
    accountant = db.session.scalar(select(Account.accountant_email).where(Account.id == row.account_id))
    if accountant and accountant.strip().lower() == row.recipient:
        return True
    return db.session.scalar(select(LibeoUser.id).where(LibeoUser.account_id == row.account_id,
                                                        func.lower(LibeoUser.email) == row.recipient)) is not None


notifier = Notifier(outbox=outbox, setting_table=NotificationSetting, user=LibeoUser, kinds=KINDS, settings=SETTINGS,
                    product="libeo", entitled=_entitled)


def settings_for(user: LibeoUser) -> list[Setting]:
    """The lines of a user's « Notifications » page: an administrator's are all of them."""
    return [setting for setting in SETTINGS if user.is_admin or not setting.administrators_only]
