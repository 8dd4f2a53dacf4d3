"""The notifications of MEG's events, written in the transaction that records each event.

- A « Payer » that ended otherwise than its person saw: refused by Libeo
  after « Vérification en cours », rejected by the bank, cancelled in Libeo.
  The person who clicked « Payer » is told (a payment made in Libeo
  directly has nobody here to tell).
- A « Payer » whose transfer the bank debited: the person who clicked is
  told, unless they turned it off (« Paiements débités »). Libeo tells the
  people of its account who asked in Libeo; whoever asked through MEG hears
  it from MEG, once.
- The connection to Libeo broken (key revoked, Libeo unreachable), or
  invoice updates Libeo refused for good waiting in « Options »: the
  company's « Achats » administrators are told, at most once a day per
  problem (the day is part of the event's key), and not at all if the
  problem is gone when the e-mail is due (an unreachable Libeo is told only
  if it lasts ``UNREACHABLE_GRACE``).

This module sits below the payment attempts and the connection, which call
it: it reads them through the attributes it is handed, never imports them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import bindparam, select

from core.dates import datetime_fr, paris_today, utcnow
from core.money import format_amount
from core.notifications import Recipient
from core.validators import mask_iban
from models.meg.companies.models import AchatsRole, Company, ModuleRole, User
from models.meg.db import db
from models.meg.notifications.models import outbox

if TYPE_CHECKING:
    from models.meg.libeo_link.attempts import PaymentAttempt
    from models.meg.libeo_link.connection import LibeoConnection

PAYMENT_OUTCOME = "payment_outcome"
PAYMENT_PAID = "payment_paid"
CONNECTION_BROKEN = "connection_broken"
UPDATES_REFUSED = "updates_refused"
# The one setting of both connection problems.
LIBEO_CONNECTION = "libeo_connection"

UNREACHABLE_GRACE = timedelta(minutes=15)

# What the person who clicked « Payer » did not see coming: (state before, state after) → outcome.
REFUSED, REJECTED, CANCELLED = "refused", "rejected", "cancelled"
# The transfer debited: told as its own kind (``PAYMENT_PAID``), which a person may turn off alone.
PAID = "paid"
# A request Libeo never received, closed when the connection was removed (« Non envoyé »).
NOT_SENT = "not_sent"

_ACHATS_ADMINISTRATORS = (
    select(User.email, User.id)
    .join(ModuleRole, ModuleRole.user_id == User.id)
    .where(ModuleRole.company_id == bindparam("company_id"), ModuleRole.module == "achats",
           ModuleRole.role == AchatsRole.ADMIN)
    .order_by(User.id)
)


def achats_administrators(company_id: int) -> list[Recipient]:
    return [Recipient(email, user_id)
            for email, user_id in db.session.execute(_ACHATS_ADMINISTRATORS, {"company_id": company_id})]


def _outcome(before: str, after: str, seen: bool) -> str | None:
    if after == before or seen:
        return None
    if after == "refused" and before == "requested":
        return REFUSED
    if after == "failed":
        return REJECTED
    if after == "cancelled":
        return CANCELLED
    if after == "paid":
        return PAID
    return None


def payment_ended(attempt: PaymentAttempt, before: str, *, seen: bool) -> None:
    """After an attempt's state changed from ``before``: tells its person if they did not see it end so.

    ``seen``: someone is looking at the answer (a click's flash): the person who clicked « Payer » sees it
    only if it is them (another person of the company cancelling their payment, asking Libeo again or paying
    it in a selection does not tell them).
    """
    seen = seen and _looking_is(attempt.requested_by_id)
    outcome = _outcome(before, attempt.status.value, seen)
    if outcome is None or attempt.requested_by_id is None:
        return
    if outcome == REFUSED and attempt.not_sent:
        outcome = NOT_SENT
    person = db.session.get(User, attempt.requested_by_id)
    if person is None:
        return
    invoice = attempt.invoice
    sent = ((attempt.request_body or {}).get("invoice") or {})
    iban = (sent.get("supplier") or {}).get("iban") or invoice.supplier.iban
    amount = sent.get("amount_cents") or invoice.amount_cents
    reason = {REFUSED: attempt.refusal, NOT_SENT: attempt.refusal, REJECTED: attempt.failure_reason,
              CANCELLED: attempt.cancel_reason, PAID: None}[outcome]
    kind = PAYMENT_PAID if outcome == PAID else PAYMENT_OUTCOME
    outbox.enqueue(kind, f"attempt:{attempt.id}:{outcome}", [Recipient(person.email, person.id)], {
        "outcome": outcome,
        "invoice_id": invoice.id,
        "invoice_number": invoice.number,
        "company_id": invoice.company_id,
        "company_name": invoice.company.name,
        "supplier": invoice.supplier.name,
        "amount": format_amount(amount, invoice.currency),
        "iban": mask_iban(iban),
        "status_label": attempt.label,
        "reason": (reason or "").removeprefix("Rejeté : ") or None,
        "bank_text": attempt.bank_text if outcome == REJECTED else None,
        # Cancelled by an administrator who refused to approve it (« Annulé — approbation refusée : … »).
        "approval_refused": outcome == CANCELLED and bool(attempt.cancel_reason),
        # Who refused it and when, as Libeo said (the invoice's page says « Refusé par … le …, dans Libeo »).
        "decided_by": attempt.decided_by if outcome == CANCELLED else None,
        "decided_at": datetime_fr(attempt.decided_at) if outcome == CANCELLED else None,
        # What « Payer » asks first, when it does not simply offer to pay again (the page says the same).
        "next_step": attempt.retry_refusal or attempt.fraud_refusal,
    }, invoice.company_id)


def _looking_is(user_id: int | None) -> bool:
    """The person signed in to this request is ``user_id`` (no request: nobody is looking)."""
    if user_id is None or not has_request_context() or not current_user.is_authenticated:
        return False
    return current_user.id == user_id


def connection_broken(connection: LibeoConnection, now: datetime | None = None) -> None:
    """The connection just turned revoked or unreachable (``connection.state``)."""
    now = now or utcnow()
    state = connection.state.value
    company = db.session.get(Company, connection.company_id)
    due = now + UNREACHABLE_GRACE if state == "unreachable" else now
    outbox.enqueue(
        CONNECTION_BROKEN, f"connection:{connection.company_id}:{state}:{paris_today(now).isoformat()}",
        achats_administrators(connection.company_id),
        {"company_id": connection.company_id, "company_name": company.name if company else "",
         "state": state, "account_name": connection.account_name, "key_prefix": connection.key_prefix,
         "error": connection.last_error},
        connection.company_id, due_at=due,
    )


def updates_refused(company_id: int, invoice_number: str, reason: str | None, now: datetime | None = None) -> None:
    """An invoice update Libeo refused for good now waits in « Options »."""
    now = now or utcnow()
    company = db.session.get(Company, company_id)
    outbox.enqueue(
        UPDATES_REFUSED, f"updates-refused:{company_id}:{paris_today(now).isoformat()}",
        achats_administrators(company_id),
        {"company_id": company_id, "company_name": company.name if company else "", "invoice_number": invoice_number,
         "reason": reason},
        company_id,
    )
