"""The file of a supplier invoice: the e-invoice it was imported from, kept with it.

The original bytes are kept as received, with their name and type, and
downloadable from the invoice. Libeo receives a PDF of it
``PUT /invoices/{external_id}/document``): a Factur-X file as it is, a CII
or UBL XML drawn as a readable PDF (``einvoice_pdf``), the XML itself
staying in MEG.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import utcnow
from core.files import size_label
from models.meg.achats.models import SupplierInvoice
from models.meg.db import Model, db

PDF = "application/pdf"
XML = "application/xml"


class InvoiceDocument(Model):
    """The file an invoice came from (one per invoice)."""

    __tablename__ = "invoice_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("supplier_invoice.id", ondelete="CASCADE"), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # What the file is, as read at import: « Factur-X », « CII », « UBL »; and its profile.
    format: Mapped[str | None] = mapped_column(String(20))
    profile: Mapped[str | None] = mapped_column(String(20))
    # Loaded only to be downloaded or sent: pages list documents without their bytes.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def is_pdf(self) -> bool:
        return self.content_type == PDF

    @property
    def kind_label(self) -> str:
        """« Factur-X (EN 16931), PDF », « UBL, XML »."""
        what = self.format or ("PDF" if self.is_pdf else "XML")
        if self.profile:
            what += f" ({self.profile})"
        container = "PDF" if self.is_pdf else "XML"
        return what if what == container else f"{what}, {container}"

    @property
    def size_label(self) -> str:
        return size_label(self.size)


@dataclass(frozen=True)
class DocumentFile:
    filename: str
    content_type: str
    content: bytes
    format: str | None = None
    profile: str | None = None


def content_type_of(content: bytes) -> str:
    """From the bytes, never from what the browser claimed."""
    return PDF if b"%PDF-" in content[:1024] else XML


# Built once: every « Payer » runs it (see models/meg/achats.py).
_DOCUMENT_OF = select(InvoiceDocument).where(InvoiceDocument.invoice_id == bindparam("invoice_id"))


def document_of(invoice_id: int) -> InvoiceDocument | None:
    """The invoice's file, without its bytes."""
    return db.session.scalar(_DOCUMENT_OF, {"invoice_id": invoice_id})


_DOCUMENTS_OF = select(InvoiceDocument).where(InvoiceDocument.invoice_id.in_(bindparam("invoice_ids", expanding=True)))


def documents_of(invoice_ids: list[int]) -> dict[int, InvoiceDocument]:
    """The files of those of the invoices that have one (without their bytes), in one statement."""
    if not invoice_ids:
        return {}
    return {document.invoice_id: document
            for document in db.session.scalars(_DOCUMENTS_OF, {"invoice_ids": invoice_ids})}


def attach_document(invoice: SupplierInvoice, file: DocumentFile) -> InvoiceDocument:
    """Keeps the file with the invoice, replacing an earlier one (the caller tells Libeo: ``document_changed``)."""
    document = document_of(invoice.id) or InvoiceDocument(invoice_id=invoice.id)
    document.filename = file.filename
    document.content_type = file.content_type
    document.content = file.content
    document.size = len(file.content)
    document.sha256 = hashlib.sha256(file.content).hexdigest()
    document.format, document.profile = file.format, file.profile
    document.created_at = utcnow()
    db.session.add(document)
    db.session.flush()
    return document


def document_pdf(document: InvoiceDocument) -> bytes:
    """What Libeo receives: the PDF as received, or the XML drawn as a readable PDF."""
    if document.is_pdf:
        return document.content
    from core.einvoices.reading import read_einvoice
    from core.einvoices.summary_pdf import einvoice_summary_pdf

    return einvoice_summary_pdf(read_einvoice(document.filename, document.content), document.filename)
