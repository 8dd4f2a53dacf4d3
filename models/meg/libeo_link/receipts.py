"""« Justificatif de paiement » of an invoice paid through Libeo, fetched from Libeo when the person asks.

Libeo draws it (``GET /payments/{id}/receipt.pdf``) for a payment remitted to
the bank or paid. MEG keeps no copy: the receipt says what Libeo knows at the
moment it is asked. Called on a click (a download), never while a page renders.
"""

from __future__ import annotations

from sqlalchemy import select

from models.meg.achats.models import SupplierInvoice
from models.meg.db import db
from models.meg.libeo_link.attempts import PaymentAttempt, PaymentState
from models.meg.libeo_link.client import (
    LibeoApiError,
    LibeoKeyRefused,
    LibeoUnheard,
    LibeoUnreachable,
)
from models.meg.libeo_link.connection import LibeoLinkError, connection_of

RECEIPT_STATES = (PaymentState.IN_PROGRESS, PaymentState.PAID)


def receipt_payment(invoice: SupplierInvoice) -> PaymentAttempt | None:
    """The invoice's payment that has a receipt (remitted or paid, as MEG last heard), if any."""
    return db.session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.invoice_id == invoice.id, PaymentAttempt.status.in_(RECEIPT_STATES),
               PaymentAttempt.libeo_payment_id.is_not(None))
        .order_by(PaymentAttempt.attempt.desc()).limit(1)
    )


def fetch_receipt(invoice: SupplierInvoice) -> bytes:
    """The receipt's PDF from Libeo, or LibeoLinkError with what the person should know (French)."""
    payment = receipt_payment(invoice)
    if payment is None:
        raise LibeoLinkError("Le justificatif de paiement existe une fois le virement remis à la banque par Libeo.")
    connection = connection_of(invoice.company)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est plus connectée à Libeo : le justificatif s'y télécharge, "
                             "dans « Paiements ».")
    client, payment_id = connection.client(attempts=2), payment.libeo_payment_id
    db.session.commit()  # no transaction held while Libeo answers
    try:
        return client.receipt_pdf(payment_id)
    except (LibeoUnreachable, LibeoUnheard) as error:
        raise LibeoLinkError("Libeo est injoignable pour le moment : le justificatif de paiement n'a pas pu être "
                             "téléchargé. Réessayez dans quelques instants.") from error
    except LibeoKeyRefused as error:
        raise LibeoLinkError(error.message) from error
    except LibeoApiError as error:
        raise LibeoLinkError(error.message) from error
