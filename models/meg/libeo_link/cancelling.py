"""« Annuler » from MEG: a payment Libeo can still cancel (programmé, à approuver), cancelled through its API.

The same step as in Libeo: a page says what will happen and asks first.
Libeo cancels it and gives the month's quota slot back; MEG records Libeo's
answer at once, so that both products show « Annulé » without waiting for
the next sync pass. Asking again after a lost answer is harmless: Libeo
answers a payment already cancelled as it is.
"""

from __future__ import annotations

import contextlib

from models.meg.achats.models import SupplierInvoice
from models.meg.companies.models import User
from models.meg.db import db
from models.meg.libeo_link.attempts import (
    Payer,
    PaymentAttempt,
    PaymentState,
    latest_payment,
    payer_for,
    payment_refusal,
)
from models.meg.libeo_link.client import LibeoApiError, LibeoKeyRefused, LibeoUnheard, LibeoUnreachable
from models.meg.libeo_link.connection import ConnectionState, LibeoConnection, LibeoLinkError, connection_of
from models.meg.libeo_link.paying import record_payment
from models.meg.signing import initiator_assertion

NOT_CANCELLABLE = ("Ce paiement ne peut plus être annulé depuis MEG : seul un paiement « Programmé » ou « À approuver "
                   "dans Libeo » peut l'être, tant que son virement n'est pas dans un fichier remis à la banque.")


# A payment Libeo still holds, that MEG cannot cancel for want of a key Libeo accepts.
GOES_ON = "suit son cours dans Libeo, où il peut encore être annulé (« Paiements » → « Annuler »)"


def cancellable_payment(invoice: SupplierInvoice, user: User) -> PaymentAttempt:
    """The invoice's payment this person may cancel from MEG, else a French refusal saying why."""
    return _cancellation(invoice, user)[0]


def _cancellation(invoice: SupplierInvoice, user: User) -> tuple[PaymentAttempt, LibeoConnection, Payer]:
    """The payment this person may cancel, the connection to ask Libeo with, and who asks; else a refusal."""
    company = invoice.company
    connection = connection_of(company)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est pas connectée à Libeo.")
    refusal = payment_refusal(user, company, connection)
    if refusal:
        if not connection.is_removed and connection.state is ConnectionState.KEY_REVOKED:
            raise LibeoLinkError(  # Libeo still holds the payment: where it can be cancelled now
                "MEG ne peut pas annuler ce paiement : Libeo refuse la clé enregistrée (révoquée ou remplacée dans "
                f"Libeo). Le paiement {GOES_ON} ; un administrateur « Achats » rétablit la connexion en collant une "
                "nouvelle clé dans « Options ».")
        raise LibeoLinkError(refusal)
    payment = latest_payment(invoice)
    if payment is None or not payment.cancellable:
        raise LibeoLinkError(why_not_cancellable(payment))
    payer = payer_for(user, company)
    assert payer is not None  # payment_refusal said who may not pay
    return payment, connection, payer


def why_not_cancellable(payment: PaymentAttempt | None) -> str:
    """Why « Annuler » does nothing here, from where the payment stands (an old page, the back button…)."""
    if payment is None or payment.status in (PaymentState.REFUSED, PaymentState.UNVERIFIABLE):
        return "Aucun paiement de cette facture n'est en cours : il n'y a rien à annuler."
    if payment.status is PaymentState.CANCELLED:
        return "Ce paiement est déjà annulé : le virement ne partira pas."
    if payment.status is PaymentState.PAID:
        return f"Ce paiement ne peut plus être annulé : le virement est débité ({payment.label})."
    if payment.status is PaymentState.FAILED:
        return f"Il n'y a rien à annuler : la banque a rejeté ce virement ({payment.label})."
    if payment.status is PaymentState.REQUESTED:
        return ("Ce paiement ne peut pas encore être annulé : MEG attend la réponse de Libeo (« Vérification en "
                "cours »). Réessayez une fois son état connu.")
    return NOT_CANCELLABLE


def cancel_payment(invoice: SupplierInvoice, user: User) -> PaymentAttempt:
    """« Oui, annuler le paiement »: Libeo cancels it, and MEG records its answer; commits.

    Refusals (not cancellable any more, connection revoked, Libeo
    unreachable) raise ``LibeoLinkError``; when Libeo says the payment moved
    on, MEG records where it stands now.
    """
    payment, connection, payer = _cancellation(invoice, user)
    client, payment_id = connection.client(attempts=2), payment.libeo_payment_id
    assert payment_id is not None  # a cancellable payment is one Libeo named
    initiator = initiator_assertion(invoice.company, payer.email, payer.role, user.id)
    db.session.commit()  # no transaction held while Libeo is called
    try:
        info = client.cancel_payment(payment_id, payer.email, payer.role, initiator)
    except (LibeoUnheard, LibeoUnreachable) as error:
        connection.record_failure(error)
        db.session.commit()
        raise LibeoLinkError("Libeo n'a pas confirmé l'annulation : le paiement est peut-être encore programmé. "
                             "Réessayez dans quelques instants.") from error
    except LibeoKeyRefused as error:
        connection.record_failure(error)
        db.session.commit()
        raise LibeoLinkError(f"Le paiement n'a pas été annulé : il {GOES_ON}. {error.message}") from error
    except LibeoApiError as error:
        connection.record_success()
        if error.code == "payment_not_cancellable":
            _record_current(connection, payment)
        db.session.commit()
        raise LibeoLinkError(error.message) from error
    connection.record_success()
    record_payment(payment, info, invoice.company_id, seen=True)
    if payment.status is PaymentState.CANCELLED:  # it was cancellable: cancelled now, by this request
        connection.release_payment(payment.requested_at)  # as Libeo does: « Payer » counts it no more
    db.session.commit()
    return payment


def _record_current(connection, payment: PaymentAttempt) -> None:
    """Libeo refused because the payment moved on (in a SEPA file, debited…): MEG shows where it is now."""
    with contextlib.suppress(LibeoApiError):  # else the next sync pass reads it from the events feed
        record_payment(payment, connection.client(attempts=1).get_payment(payment.libeo_payment_id), seen=True)
