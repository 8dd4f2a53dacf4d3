"""A key pasted in « Options » (or given by « Me connecter avec MEG »), maybe of another Libeo account.

A request whose answer MEG never heard belongs to the Libeo account it was
sent to (``PaymentAttempt.libeo_account_id``): that account may have paid
it. When the key of another account replaces the connection's (the former
one could not be asked: Libeo down, its key already revoked), MEG never
sends the request to the new account, which would pay the invoice a second
time. It reads « Vérification impossible », with the next step: check in the
former account whether it was paid. The invoice stays locked until an
« Achats » administrator confirms it was not (``confirm_not_paid``,
journaled with the person); nothing unlocks it on its own. A key of the
former account pasted later makes those requests « Vérification en cours »
again, replayed as ever.
"""

from __future__ import annotations

from sqlalchemy import update

from core.dates import date_fr, paris_today, utcnow
from core.db import rowcount
from core.money import format_amount
from models.meg.achats.models import SupplierInvoice
from models.meg.companies.models import Company, User
from models.meg.db import db
from models.meg.journal import record as journal
from models.meg.libeo_link.attempts import (
    CONFIRMED_UNPAID,
    PaymentAttempt,
    PaymentState,
    elsewhere_reason,
    latest_payment,
    refresh_invoice_states,
    unknown_outcomes,
    unverifiable_requests,
)
from models.meg.libeo_link.connection import LibeoConnection, LibeoLinkError, connect_company, connection_row

CONFIRMATION_LABEL = "J'ai vérifié dans l'ancien compte Libeo que cette facture n'a pas été payée"


def connect_libeo(company: Company, api_key: str, user: User | None) -> LibeoConnection:
    """Checks the key with Libeo and saves it (``connect_company``); then the requests still unanswered are
    kept to their own account: those sent to another are held, those of this one are asked again."""
    former = connection_row(company)
    former_account, former_name = (former.libeo_account_id, former.account_name) if former else (None, None)
    connection = connect_company(company, api_key, user)
    account = connection.libeo_account_id
    held = [attempt for attempt in unknown_outcomes(company.id) if attempt.sent_elsewhere(account)]
    for attempt in held:
        named = former_name if attempt.libeo_account_id == former_account else None
        attempt.set_unverifiable(elsewhere_reason(named, connection.account_name))
    if held:
        journal(company, "payment.unverifiable",
                f"Clé d'un autre compte Libeo (« {connection.account_name} ») : {_invoices(held)}, demandée(s) sans "
                "réponse connue à l'ancien compte, ne lui est (sont) pas renvoyée(s) : « Vérification impossible » "
                "jusqu'à ce qu'un administrateur « Achats » confirme, après vérification dans l'ancien compte, "
                "qu'elle(s) n'a (n'ont) pas été payée(s).", user)
    resumed = [attempt for attempt in unverifiable_requests(company.id)
               if account and attempt.libeo_account_id == account]
    for attempt in resumed:
        attempt.status, attempt.pending_reason, attempt.claimed_until = PaymentState.REQUESTED, None, None
    if resumed:
        journal(company, "payment.verifiable",
                f"Clé du compte Libeo « {connection.account_name} » de nouveau : {_invoices(resumed)}, demandée(s) "
                "à ce compte sans réponse connue, y est (sont) de nouveau vérifiée(s).", user)
    db.session.flush()
    return connection


def _invoices(attempts: list[PaymentAttempt]) -> str:
    numbers = ", ".join(attempt.invoice.number for attempt in attempts)
    return f"facture(s) {numbers}"


def confirm_not_paid(invoice: SupplierInvoice, user: User, checked: bool) -> PaymentAttempt:
    """« Débloquer « Payer » »: an « Achats » administrator checked in the former Libeo account that the request
    « Vérification impossible » was not paid there; the invoice may be paid again. Journaled with the person.

    Anything else changes nothing and says why in French.
    """
    company = invoice.company
    if not user.is_achats_admin(company):
        raise LibeoLinkError("Seul un administrateur « Achats » peut confirmer qu'une facture n'a pas été payée par "
                             "l'ancien compte Libeo : rien n'a été changé.")
    attempt = latest_payment(invoice)
    if attempt is None or attempt.status is not PaymentState.UNVERIFIABLE:
        raise LibeoLinkError(f"La facture {invoice.number} n'attend pas de confirmation (aucune demande de paiement "
                             "« Vérification impossible ») : rien n'a été changé.")
    if not checked:
        raise LibeoLinkError(f"Cochez « {CONFIRMATION_LABEL} » pour débloquer « Payer » : rien n'a été changé.",
                             field="checked")
    who = f"{user.full_name} ({user.email})" if user.full_name else user.email
    refusal = f"Non payée par l'ancien compte Libeo : vérifié par {who} le {date_fr(paris_today())}."[:500]
    db.session.flush()
    # Only over « Vérification impossible »: a key of the former account pasted meanwhile asks it again.
    if not rowcount(db.session.execute(
        update(PaymentAttempt)
        .where(PaymentAttempt.id == attempt.id, PaymentAttempt.status == PaymentState.UNVERIFIABLE)
        .values(status=PaymentState.REFUSED, refusal_code=CONFIRMED_UNPAID, refusal=refusal, pending_reason=None,
                claimed_until=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )):
        raise LibeoLinkError("Cette demande de paiement n'attend plus de confirmation : rechargez la page.")
    refresh_invoice_states([invoice.id])
    db.session.refresh(attempt)
    amount = format_amount(invoice.amount_cents, invoice.currency)
    journal(company, "payment.confirmed_unpaid",
            f"Facture {invoice.number} ({amount}, {invoice.supplier.name}) confirmée non payée par l'ancien compte "
            "Libeo, où sa demande de paiement était restée sans réponse connue : « Payer » est de nouveau proposé.",
            user)
    db.session.flush()
    return attempt
