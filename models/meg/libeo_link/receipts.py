"""The document of an invoice paid through Libeo, fetched from Libeo when the person asks: its « Ordre de
virement » while the transfer is in a SEPA file, its « Justificatif de paiement » once the bank debited it.

Libeo draws it (``GET /payments/{id}/receipt.pdf``) and says which it is. MEG
keeps no copy: the document says what Libeo knows at the moment it is asked.
Called on a click (a download), never while a page renders.
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

RECEIPT_STATES = (PaymentState.FILE_READY, PaymentState.TRANSMITTED, PaymentState.ACCEPTED, PaymentState.PAID)


def receipt_payment(invoice: SupplierInvoice) -> PaymentAttempt | None:
    """The invoice's payment that has a document (in a SEPA file or debited, as MEG last heard), if any."""
    return db.session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.invoice_id == invoice.id, PaymentAttempt.status.in_(RECEIPT_STATES),
               PaymentAttempt.libeo_payment_id.is_not(None))
        .order_by(PaymentAttempt.attempt.desc()).limit(1)
    )


def fetch_receipt(invoice: SupplierInvoice) -> tuple[bytes, str]:
    """The document's PDF from Libeo and what it is (« Ordre de virement », « Justificatif de paiement »), or
    LibeoLinkError with what the person should know (French)."""
    payment = receipt_payment(invoice)
    if payment is None:
        raise LibeoLinkError("L'ordre de virement existe une fois le virement dans un fichier de virements de Libeo, "
                             "et le justificatif de paiement une fois le virement débité.")
    connection = connection_of(invoice.company)
    if connection is None:
        raise LibeoLinkError("Cette entreprise n'est plus connectée à Libeo : le justificatif s'y télécharge, "
                             "dans « Paiements ».")
    client, payment_id, title = connection.client(attempts=2), payment.libeo_payment_id, payment.document_title
    assert payment_id is not None  # receipt_payment reads only payments Libeo named
    db.session.commit()  # no transaction held while Libeo answers
    try:
        return client.receipt_pdf(payment_id), title
    except (LibeoUnreachable, LibeoUnheard) as error:
        raise LibeoLinkError(f"Libeo est injoignable pour le moment : le document ({title.lower()}) n'a pas pu "
                             "être téléchargé. Réessayez dans quelques instants.") from error
    except LibeoKeyRefused as error:
        raise LibeoLinkError(error.message) from error
    except LibeoApiError as error:
        raise LibeoLinkError(error.message) from error
