"""The notifications of Libeo's events, written in the transaction of the event itself.

Payments are told from the status they move to, through one table
(:data:`TOLD_ON_STATUS`): every change of a payment's state goes through
``record_payment_events``, which hands the moved payments here; a status
the table does not name tells nobody, at the cost of no statement.

Who hears what: administrators decide (held payments), transmit files and
keep the account safe; the person who asked for a payment in Libeo (a user of the account) hears
how it ended; a person who asked through MEG (the API: an account's user,
its expert-comptable, or an address merely given) hears it from MEG,
rejected or debited, once, and never from Libeo.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select

from core.dates import date_fr
from core.money import format_amount
from core.notifications import Recipient
from core.validators import mask_iban
from models.libeo.accounts.models import Account, LibeoUser
from models.libeo.db import db
from models.libeo.notifications.kinds import (
    API_KEY_CREATED,
    BANK_ANOMALY,
    MEG_CONNECTED,
    PAYMENT_DEBITED,
    PAYMENT_HELD,
    PAYMENT_REJECTED,
    QUOTA_REACHED,
    SEPA_FILE_READY,
    SIRET_CLAIMED,
)
from models.libeo.notifications.models import outbox
from models.libeo.payments.models import HOLD_LABELS, BankAnomaly, Channel, Payment, PaymentStatus, SepaBatch

# The status a payment moves to → what is told. New states slot in here.
TOLD_ON_STATUS = {
    "awaiting_approval": PAYMENT_HELD,
    "failed": PAYMENT_REJECTED,
    "paid": PAYMENT_DEBITED,
    # Its SEPA file is made: one notice per file, to download it and hand it to the bank.
    "file_ready": SEPA_FILE_READY,
}

_ADMINISTRATORS = (
    select(LibeoUser.email, LibeoUser.id.label("user_id"))
    .where(LibeoUser.account_id == bindparam("account_id"), LibeoUser.is_admin.is_(True))
    .order_by(LibeoUser.id)
)


def administrators(account_id: int) -> list[Recipient]:
    return [Recipient(email, user_id) for email, user_id in db.session.execute(_ADMINISTRATORS,
                                                                                {"account_id": account_id})]


def requester(account_id: int, email: str) -> list[Recipient]:
    """The person who asked in Libeo for a payment, a user of the account (see the module's notes)."""
    email = email.strip().lower()
    user_id = db.session.scalar(
        select(LibeoUser.id).where(LibeoUser.account_id == account_id, LibeoUser.email == email)
    )
    return [Recipient(email, user_id)] if user_id is not None else []


def payment_data(payment: Payment) -> dict:
    """What an e-mail says of a payment: never its full IBAN."""
    return {
        "payment_id": payment.id,
        "invoice_number": payment.invoice.number,
        "supplier": payment.creditor_name,
        "amount": format_amount(payment.amount_cents, payment.currency),
        "iban": mask_iban(payment.creditor_iban),
        "bank": payment.creditor_bank_name,
        "execution_date": date_fr(payment.execution_date),
        "status_label": payment.status_label,
        "hold_codes": list(payment.hold_reasons or ()),
        "hold": [HOLD_LABELS.get(reason, reason) for reason in payment.hold_reasons or ()],
        "hold_details": list(payment.hold_details or ()),
        "failure_reason": payment.failure_reason,
        "requested_by": payment.initiated_by_email,
        "channel": payment.channel.value,
    }


def payments_moved(account_id: int, payments: Iterable[Payment]) -> None:
    """Notifications of the payments that just moved (or were created), in the caller's transaction."""
    told = [(TOLD_ON_STATUS[p.status.value], p) for p in payments if p.status.value in TOLD_ON_STATUS]
    if not told:
        return
    files: dict[int, list[Payment]] = {}
    held: list[tuple[str, dict]] = []
    for kind, payment in told:
        key = f"payment:{payment.id}:{payment.status.value}"
        if kind == SEPA_FILE_READY:
            if payment.batch_id is not None:
                files.setdefault(payment.batch_id, []).append(payment)
        elif kind == PAYMENT_HELD:
            held.append((key, payment_data(payment)))
        elif kind == PAYMENT_REJECTED:
            # Who asked through MEG hears of it from MEG (« Paiement rejeté par la banque »), not twice.
            asked = [] if payment.channel is Channel.MEG else requester(account_id, payment.initiated_by_email)
            recipients = asked + administrators(account_id)
            outbox.enqueue(kind, key, recipients, payment_data(payment), account_id)
        elif payment.channel is not Channel.MEG:  # debited: who asked through MEG hears it from MEG, once
            outbox.enqueue(kind, key, requester(account_id, payment.initiated_by_email), payment_data(payment),
                           account_id)
    # Held when created: one statement more in « Payer »'s transaction (for all the payments it holds), not two.
    outbox.enqueue_each_to(PAYMENT_HELD, held, _ADMINISTRATORS, {"account_id": account_id}, account_id)
    admins = administrators(account_id) if files else []
    for batch_id, members in files.items():
        batch = db.session.get(SepaBatch, batch_id)
        if batch is None:
            continue
        count = batch.payment_count or len(members)
        total = batch.total_cents or sum(p.amount_cents for p in members)
        outbox.enqueue(SEPA_FILE_READY, f"batch:{batch_id}", admins, {
            "batch_id": batch_id, "reference": batch.reference, "count": count, "total": format_amount(total),
            "execution_date": date_fr(batch.execution_date),
        }, account_id)


def quota_used_up(account: Account, month: str) -> None:
    """The payment just counted was the last of the month on a plan with a limit (once a month)."""
    outbox.enqueue(QUOTA_REACHED, f"quota:{account.id}:{month}", administrators(account.id), {
        "limit": account.payment_limit, "plan": account.plan.label, "month": month, "account_id": account.id,
    }, account.id)


def api_key_created(account: Account, prefix: str, actor: str | None, replaced: bool) -> None:
    outbox.enqueue(API_KEY_CREATED, f"key:{prefix}", administrators(account.id), {
        "account_name": account.name, "prefix": prefix, "actor": actor or "Libeo", "replaced": replaced,
    }, account.id)


def meg_connected(account: Account, event: str, company_name: str, by: str | None, *, with_key: bool = False) -> None:
    """The account linked to a MEG company (« Me connecter avec MEG »: ``meg-link:<id>``), or its MEG key saved in a
    company's « Options » (``with_key``, the article's first path: ``meg-key:<id>``): a security notice."""
    outbox.enqueue(MEG_CONNECTED, event, administrators(account.id), {
        "account_name": account.name, "company_name": company_name, "by": by or "un utilisateur de MEG",
        "with_key": with_key,
    }, account.id)


def siret_claimed(account: Account, siret: str, claimant: str, *, lost: bool, moment: str) -> None:
    """The account's SIRET is claimed by the company's verified claimant (kept until support reviews it), or was
    taken back (``lost``): its administrators are told, never left to find their key dead (a security notice).
    ``moment``: the claim's or the loss's time, so that each one is told once."""
    kind = "lost" if lost else "claim"
    outbox.enqueue(SIRET_CLAIMED, f"siret-{kind}:{account.id}:{siret}:{moment}", administrators(account.id), {
        "account_name": account.name, "siret": siret, "claimant": claimant, "lost": lost,
    }, account.id)


# An e-mail lists this many anomalies at most (« Remises » has them all).
ANOMALIES_TOLD = 10


def bank_anomalies_found(account_id: int, import_id: int, report: str, imported_by: str,
                         anomalies: list[BankAnomaly]) -> None:
    """A bank file left anomalies for a person: the account's administrators are told once per file (an
    import run by the command line, from cron, is seen by nobody otherwise), but not the person who imported
    it on « Remises », who has just read them there."""
    if not anomalies:
        return
    recipients = [r for r in administrators(account_id) if r.email.lower() != (imported_by or "").strip().lower()]
    items = []
    for anomaly in anomalies[:ANOMALIES_TOLD]:
        payment = anomaly.payment
        items.append({"anomaly_id": anomaly.id, "message": anomaly.message, **({
            "payment_id": payment.id, "invoice_number": payment.invoice.number, "supplier": payment.creditor_name,
            "amount": format_amount(payment.amount_cents, payment.currency), "from_meg": payment.channel is Channel.MEG,
            # Rejected, yet maybe debited: neither product pays its invoice again until a person decides.
            "holds_payer": payment.status is PaymentStatus.FAILED,
        } if payment is not None else {})})
    outbox.enqueue(BANK_ANOMALY, f"bank-import:{import_id}", recipients, {
        "report": report[:1].upper() + report[1:],  # « Avis de débit (camt.054) CAMT054-… »
        "items": items, "more": max(0, len(anomalies) - ANOMALIES_TOLD),
    }, account_id)
