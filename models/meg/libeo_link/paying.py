"""« Payer » and its replays: the use cases that send a payment request to Libeo and record its answer.

Transactions of :func:`pay_invoice`, in order (each committed here, because
an HTTP call must not hold a database transaction, and SQLite's write lock):
0. the checks (who asks, the invoice, the date): a read, ended by its commit
   (``end_reading``), so that they never hold SQLite's writers' turn;
1. the attempt row (key and body), so that a crash after the call still
   knows which key to replay;
2. no transaction while Libeo is called;
3. Libeo's answer: the payment, a refusal, or nothing heard (the attempt
   stays « Vérification en cours » until a replay is answered).
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import (
    select,
)
from sqlalchemy.exc import IntegrityError

from core.calendar import default_execution_date
from core.dates import paris_today, utcnow
from core.db import end_reading, keep_loaded
from models.meg.achats.models import PaymentMode, SupplierInvoice
from models.meg.companies.models import Company, User
from models.meg.db import db
from models.meg.libeo_link.attempts import (
    NOT_SENT,
    NOT_SENT_REASON,
    QUOTA_EXCEEDED,
    TRANSFER_FIELDS,
    Payer,
    PaymentAttempt,
    PaymentState,
    anomaly_refusal,
    check_execution_date,
    elsewhere_reason,
    external_id,
    invoice_payload,
    latest_payment,
    payer_for,
    payment_refusal,
    record_all,
    retry_refusal,
)
from models.meg.libeo_link.client import (
    LibeoApiError,
    LibeoClient,
    LibeoKeyRefused,
    LibeoPaymentInfo,
    LibeoUnheard,
)
from models.meg.libeo_link.connection import (
    ConnectionState,
    LibeoConnection,
    LibeoLinkError,
    connection_of,
)
from models.meg.libeo_link.outbox import (
    invoice_changed,
    queue_document,
    queue_documents,
    supersede_pending_updates,
)
from models.meg.notifications.events import payment_ended
from models.meg.signing import initiator_assertion


def check_payable(invoice: SupplierInvoice, user: User) -> tuple[LibeoConnection, Payer]:
    company = invoice.company
    if invoice.payment_mode is not PaymentMode.LIBEO:
        raise LibeoLinkError("Seules les factures en « Virement par Libeo » se paient avec Libeo.")
    if invoice.is_paid:
        raise LibeoLinkError("Cette facture est déjà réglée.")
    connection = connection_of(company)
    refusal = payment_refusal(user, company, connection)
    if refusal:
        raise LibeoLinkError(refusal)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est pas encore connectée à Libeo.", not_connected=True)
    payer = payer_for(user, company)
    assert payer is not None  # payment_refusal said who may not pay
    return connection, payer


def _open_attempt(connection: LibeoConnection, invoice: SupplierInvoice, user: User, payer: Payer,
                  execution_date: date, refusal_seen: bool = False) -> tuple[PaymentAttempt, bool]:
    """The attempt whose key and body this click sends, and whether this click created it.

    Created once, shared by concurrent clicks. A request sent to another Libeo account than the
    connection's is never sent again, nor is another made: « Vérification impossible » says why.
    """
    for _ in range(3):
        current = latest_payment(invoice)
        if current is not None and held_for_its_account(connection, current):
            db.session.commit()
        if current is not None and current.status is PaymentState.UNVERIFIABLE:
            raise LibeoLinkError(f"Vérification impossible : {current.unverifiable}")
        if current is not None and current.status.holds_invoice:
            return current, False
        # Rejected, yet maybe debited: the Libeo account's decision first; rejected for the supplier's account:
        # its new IBAN first.
        refusal = anomaly_refusal(current) or retry_refusal(invoice, current)
        if refusal:
            raise LibeoLinkError(refusal)
        if current is not None and current.fraud_refusal and not refusal_seen:
            raise LibeoLinkError(current.fraud_refusal + " Cochez « J'ai vérifié l'IBAN auprès du fournisseur » pour "
                                 "payer de nouveau.", field="refusal_seen")
        attempt = new_attempt(invoice, current, user, payer, execution_date, connection.libeo_account_id)
        db.session.add(attempt)
        try:
            db.session.commit()
            return attempt, True
        except IntegrityError:
            db.session.rollback()  # another click created it first: use theirs
    raise LibeoLinkError("Un paiement de cette facture est déjà en cours : rechargez la page.")


def pay_invoice(invoice: SupplierInvoice, user: User, execution_date: date | None = None, *,
                refusal_seen: bool = False) -> PaymentAttempt:
    """« Confirmer le paiement »: asks Libeo to pay the invoice on that date, once (see the module's steps).

    After a refusal in Libeo for a possible fraud, only with ``refusal_seen``: the person read its reason.
    """
    connection, payer = check_payable(invoice, user)
    # A refused date comes back to « Payer »'s panel with the proposed one in the field.
    execution_date = check_execution_date(execution_date or default_execution_date(invoice.due_date, paris_today()),
                                          suggestion_shown=True)
    with keep_loaded(db):
        end_reading(db)  # the checks' transaction ends: the attempt's takes the writers' turn for its own statements
        attempt, created = _open_attempt(connection, invoice, user, payer, execution_date, refusal_seen)
        if attempt.status is PaymentState.REQUESTED:  # else already answered (a double click)
            send(connection, attempt, first=created)
    return attempt


def send(connection: LibeoConnection, attempt: PaymentAttempt, *, first: bool = False,
         seen: bool | None = None) -> None:
    """Sends (or sends again) the attempt's request and records Libeo's answer; commits.

    ``seen``: the person who asked is looking at the answer (their click, or
    « Vérifier maintenant »; by default only the first sending). An answer
    nobody looks at that ends the payment otherwise is told by e-mail.

    Only Libeo's decision on the request (a payment, or a refusal with its
    error code) settles an attempt. Anything else — no answer, the key
    refused (401), the key's rights (403), « too many requests » (429) —
    leaves it « requested », with the reason and what to do
    (``pending_reason``): the next replay, by the sync pass or a click, uses
    the same key and body, so Libeo either answers what it did the first time
    or does it now, once. Only the first sending of an attempt that reached
    no decision of Libeo may forget it (nothing was paid). A request is only
    ever sent to the Libeo account it was first sent to (``held_for_its_account``).
    """
    if held_for_its_account(connection, attempt):
        db.session.commit()
        return
    # Read everything, then end the transaction: the HTTP call holds none.
    client, (key, body) = connection.client(), attempt.sent_request
    reference = external_id(attempt.invoice_id)
    initiator = initiator_of(attempt)
    seen = first if seen is None else seen
    db.session.commit()
    try:
        info = client.create_payment(reference, key, body, initiator)
    except LibeoApiError as error:
        if not error.decided:
            connection.record_failure(error)
            if first and not error.maybe_done and not isinstance(error, LibeoUnheard):
                # The call was refused before any decision on the request: the next click starts afresh.
                db.session.delete(attempt)
                db.session.commit()
                raise LibeoLinkError(error.message + " Rien n'a été payé.") from error
            attempt.claimed_until = next_try(error)
            attempt.pending_reason = pending_reason_for(error)
        elif error.code == "payment_exists" and error.payment_id:
            connection.record_success()
            _adopt(connection, attempt, error.payment_id, seen=seen)
        else:
            connection.record_success()
            if error.code == QUOTA_EXCEEDED:
                connection.quota_used_up()
            refused = _refuse(attempt, error.message, seen=seen, code=error.code)
            db.session.commit()
            if refused:
                raise LibeoLinkError(error.message, upgrade_url=error.upgrade_url) from error
    else:
        connection.record_success()
        info = current_state(client, info)
        if attempt.status is PaymentState.REQUESTED and info.status not in ENDED_STATUSES:
            connection.count_payment()
        record_payment(attempt, info, connection.company_id, seen=seen)
        # « Payer » sent the invoice's current state: older queued states must not overwrite it.
        supersede_pending_updates(attempt.invoice_id)
    db.session.commit()


# Libeo's statuses of a payment that no longer takes a slot of the month.
ENDED_STATUSES = ("cancelled", "failed")


def current_state(client: LibeoClient, info: LibeoPaymentInfo) -> LibeoPaymentInfo:
    """The payment as it is now: a replayed answer (``info.replayed``) is the payment as Libeo first answered,
    which a cancel in Libeo since then (while MEG never heard that answer) made untrue; one more call for those
    only. The replayed answer when Libeo does not answer that call: the next sync pass reads the newer one."""
    if not info.replayed:
        return info
    try:
        return client.get_payment(info.id)
    except LibeoApiError:
        return info


RECONNECT = ("MEG ne peut pas savoir si ce paiement a été créé. Reconnectez Libeo dans Options pour connaître "
             "l'issue de ce paiement ; ne réglez pas cette facture autrement d'ici là.")
WAIT = "MEG vérifiera de nouveau d'elle-même dans quelques instants ; ne réglez pas cette facture autrement d'ici là."
DISCONNECTED = f"La connexion à Libeo a été supprimée : {RECONNECT}"


def held_for_its_account(connection: LibeoConnection, attempt: PaymentAttempt) -> bool:
    """Whether ``attempt``, unanswered, went to another Libeo account than the connection's: then it is never
    sent to this one (the other may have paid it, this one would pay again): « Vérification impossible ».
    """
    if attempt.status is not PaymentState.REQUESTED or not attempt.sent_elsewhere(connection.libeo_account_id):
        return False
    attempt.set_unverifiable(elsewhere_reason(None, connection.account_name))
    return True


# A request whose key Libeo refuses is asked again at most this often: until a key is pasted again in « Options »
# (which asks at once), every try would be refused alike, and take the turn of other companies' requests.
KEY_REFUSED_PAUSE = timedelta(minutes=5)


def next_try(error: LibeoApiError) -> datetime:
    """When the sync pass may replay an attempt this error left unsettled (``claimed_until``): at its next pass,
    after the attempts tried longer ago (``claim_unheard`` takes the least recently tried first, so that requests
    Libeo keeps refusing never hold back the others); a refused key, after ``KEY_REFUSED_PAUSE``."""
    return utcnow() + (KEY_REFUSED_PAUSE if isinstance(error, LibeoKeyRefused) else timedelta(0))


def pending_reason_for(error: LibeoApiError) -> str:
    """Why a replay did not settle the attempt, and what to do, as the invoice and « Options » say it."""
    if isinstance(error, LibeoKeyRefused):
        return f"Libeo refuse la clé enregistrée : {RECONNECT}"
    if error.status == 403:
        return f"Libeo n'accepte plus de demande de paiement de la clé enregistrée : {RECONNECT}"
    if error.status == 429:
        return f"Libeo demande de patienter (trop de requêtes) : {WAIT}"
    return f"Libeo n'a pas répondu : {WAIT}"


def _refuse(attempt: PaymentAttempt, message: str, *, seen: bool, code: str | None = None) -> bool:
    """Libeo said no; ``seen``: to the click the person is looking at (else they are told by e-mail).

    False when MEG meanwhile learnt of a payment for this attempt (its account stands).
    """
    before = attempt.status.value
    if not attempt.refuse(message, code):
        return False
    payment_ended(attempt, before, seen=seen)
    return True


def _adopt(connection: LibeoConnection, attempt: PaymentAttempt, payment_id: str, *, seen: bool) -> None:
    """Libeo already has a payment of this invoice (made elsewhere): this attempt is that payment."""
    try:
        record_payment(attempt, connection.client(attempts=1).get_payment(payment_id), seen=seen)
    except LibeoApiError:
        _refuse(attempt, "Un paiement de cette facture existe déjà dans Libeo.", seen=seen)


def give_up(connection: LibeoConnection, attempt: PaymentAttempt, *, seen: bool = False) -> None:
    """The connection is (being) removed while Libeo's answer to this request is unheard: Libeo tells what it
    did with it, and closes it if it never received it; commits.

    Never received: « Non envoyé », no longer in flight (it is not a payment
    Libeo may be making: Libeo will never make it). Received: its payment (or
    refusal) is recorded, and followed like any other. Libeo not answering,
    or the request still running there: « Vérification en cours », with why.
    Another account than the request's is never asked: it would answer that it
    never received it.
    """
    if held_for_its_account(connection, attempt):
        db.session.commit()
        return
    client, (key, _) = connection.client(attempts=1), attempt.sent_request
    db.session.commit()
    try:
        outcome = client.void_request(key)
    except LibeoApiError as error:
        connection.record_failure(error)
        attempt.pending_reason, attempt.claimed_until = (
            pending_reason_for(error) if isinstance(error, LibeoKeyRefused) else DISCONNECTED), None
        db.session.commit()
        return
    connection.record_success()
    if outcome is None:
        _refuse(attempt, NOT_SENT_REASON, seen=seen, code=NOT_SENT)
    elif isinstance(outcome, LibeoPaymentInfo):
        record_payment(attempt, outcome, connection.company_id, seen=seen)
    elif outcome.code == "payment_exists" and outcome.payment_id:
        _adopt(connection, attempt, outcome.payment_id, seen=seen)
    elif outcome.decided:
        _refuse(attempt, outcome.message, seen=seen, code=outcome.code)
    else:
        attempt.pending_reason, attempt.claimed_until = DISCONNECTED, None
    db.session.commit()


def replay(attempt: PaymentAttempt, *, seen: bool = False) -> None:
    """Asks Libeo again, with the same key and body, what became of an unheard request."""
    connection = connection_of(attempt.invoice.company)
    if connection is not None and connection.is_removed and connection.state not in (
            ConnectionState.REMOVED, ConnectionState.KEY_REVOKED):
        # The key MEG keeps to follow what is in flight never sends a request again: Libeo tells what it
        # did with this one, and closes it if it never received it.
        give_up(connection, attempt, seen=seen)
        return
    if connection is None or connection.is_removed:
        # No key left to ask with: until one of the same account is pasted, the invoice says why MEG
        # cannot know.
        attempt.pending_reason, attempt.claimed_until = DISCONNECTED, None
        db.session.commit()
        return
    # Recorded on the attempt (refused) or forgotten (never reached Libeo).
    with contextlib.suppress(LibeoLinkError):
        send(connection, attempt, seen=seen)


def replay_for(invoice: SupplierInvoice, user: User) -> PaymentAttempt | None:
    """« Vérifier maintenant » on an invoice « Vérification en cours »."""
    check_payable(invoice, user)
    attempt = latest_payment(invoice)
    if attempt is not None and attempt.status is PaymentState.REQUESTED and attempt.idempotency_key:
        replay(attempt, seen=True)
    return attempt


def apply_payment_info(company: Company, info: LibeoPaymentInfo,
                       account_id: str | None = None) -> PaymentAttempt | None:
    """Records a payment's latest state from Libeo's feed (of the account ``account_id``); idempotent, never
    touches the invoice's fields.

    A payment MEG did not hear about (the answer was lost) is found by its
    invoice, among the requests sent to this account; one made in Libeo
    directly for a MEG invoice is recorded too, so that MEG never shows
    « À régler » for an invoice Libeo is paying.
    """
    payment = db.session.scalar(
        select(PaymentAttempt).join(SupplierInvoice)
        .where(PaymentAttempt.libeo_payment_id == info.id, SupplierInvoice.company_id == company.id)
    )
    if payment is None:
        invoice = _invoice_of(company, info.invoice_external_id)
        if invoice is None:
            return None  # an invoice entered in Libeo: not MEG's
        payment = latest_payment(invoice)
        if payment is None or payment.status is not PaymentState.REQUESTED or payment.sent_elsewhere(account_id):
            payment = PaymentAttempt(invoice_id=invoice.id, attempt=(payment.attempt + 1) if payment else 1,
                                     libeo_account_id=account_id)
            db.session.add(payment)
    record_payment(payment, info, company.id)
    return payment


def record_payment(attempt: PaymentAttempt, info: LibeoPaymentInfo, company_id: int | None = None, *,
                   seen: bool = False) -> None:
    """Records Libeo's account of a payment; ``seen``: the person who asked is looking at this answer.

    The first payment MEG learns of for an invoice means Libeo now has the
    invoice: its file (if any) is queued after it (``libeo_outbox``). A
    payment that ended otherwise than its person saw is told to them
    (``models.meg.notifications.events``).
    """
    before = attempt.status.value if attempt.status else PaymentState.REQUESTED.value
    first = attempt.libeo_payment_id is None and (attempt.attempt == 1 or db.session.scalar(
        select(PaymentAttempt.id).where(PaymentAttempt.invoice_id == attempt.invoice_id,
                                      PaymentAttempt.libeo_payment_id.is_not(None)).limit(1)
    ) is None)
    if not attempt.record(info):
        return  # MEG already holds a newer account of this payment
    payment_ended(attempt, before, seen=seen)
    if first:
        queue_document(attempt.invoice_id, company_id or attempt.invoice.company_id)
    if PaymentState(before).holds_invoice and not attempt.status.holds_invoice and not attempt.maybe_debited:
        invoice_freed(attempt)


def invoice_freed(attempt: PaymentAttempt) -> None:
    """The payment that held the invoice ended (rejected, cancelled): Libeo kept the beneficiary and amount it
    was asked to pay (``libeo_payload``) while MEG's changed (the supplier's new IBAN); Libeo's invoice now
    follows MEG's again, for its next payment from Libeo's own pages."""
    invoice = attempt.invoice
    sent = (attempt.request_body or {}).get("invoice") or {}
    now = invoice_payload(invoice)
    if any(sent.get(name) != now.get(name) for name in TRANSFER_FIELDS if name in sent):
        invoice_changed(invoice)


def record_payments(answers: list[tuple[PaymentAttempt, LibeoPaymentInfo]], company_id: int, *,
                    seen: bool = False) -> bool:
    """:func:`record_payment` for several attempts, each Libeo's first account of its payment (a selection's
    answers), in a statement per table. False when an attempt holds a newer account already: nothing is
    recorded then, and the caller rolls back and records them one by one (``record_payment``)."""
    if any(attempt.libeo_payment_id is not None for attempt, _ in answers):
        return False
    before = [attempt.status.value if attempt.status else PaymentState.REQUESTED.value for attempt, _ in answers]
    retried = [attempt.invoice_id for attempt, _ in answers if attempt.attempt != 1]
    told_before = set(db.session.scalars(
        select(PaymentAttempt.invoice_id).where(PaymentAttempt.invoice_id.in_(retried),
                                                PaymentAttempt.libeo_payment_id.is_not(None)))) if retried else set()
    if not record_all(answers):
        return False
    for (attempt, _), status in zip(answers, before, strict=True):
        payment_ended(attempt, status, seen=seen)
    queue_documents([attempt.invoice_id for attempt, _ in answers if attempt.invoice_id not in told_before],
                    company_id)
    return True


def _invoice_of(company: Company, reference: str) -> SupplierInvoice | None:
    prefix, _, number = reference.partition("-")
    if prefix != "meg" or not number.isdigit() or len(number) > 18:
        return None
    return db.session.scalar(
        select(SupplierInvoice).where(SupplierInvoice.id == int(number), SupplierInvoice.company_id == company.id)
    )


def initiator_of(attempt: PaymentAttempt) -> str:
    """MEG's signed word on who asked for ``attempt``: the person and role MEG recorded at the click."""
    _key, body = attempt.sent_request
    asked = body["initiated_by"]
    return initiator_assertion(attempt.invoice.company, asked["email"], asked["role"], attempt.requested_by_id)


def new_attempt(invoice: SupplierInvoice, current: PaymentAttempt | None, user: User, payer: Payer,
                execution_date: date, account_id: str | None) -> PaymentAttempt:
    """The request a « Payer » records (alone or in a selection): a fresh key, the exact body sent, and the
    Libeo account it is sent to (``account_id``, the connection's), the only one it will ever be sent to."""
    return PaymentAttempt(
        libeo_account_id=account_id,
        invoice_id=invoice.id,
        attempt=(current.attempt + 1) if current else 1,
        idempotency_key=secrets.token_urlsafe(24),
        request_body={
            "initiated_by": {"email": payer.email, "role": payer.role},
            "execution_date": execution_date.isoformat(),
            "invoice": invoice_payload(invoice),
        },
        execution_date=execution_date,
        requested_by_id=user.id,
    )
