"""The file joined to « Nouvelle facture »: a PDF kept with the invoice, or a supplier's e-invoice
(Factur-X PDF, CII or UBL XML) read with the reader MEG's import uses (``core.einvoices``).

An e-invoice fills the fields the person left empty and checks those typed
(number, IBAN, amount: a difference is refused, naming both); the invoice
keeps the file's EN 16931 totals when its amount is the file's. Libeo shows
PDFs: a Factur-X file is kept as received, an XML one as the readable PDF
drawn from it (``core.einvoices.summary_pdf``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.einvoices.reading import (
    MISSING_DUE_DATE,
    MISSING_IBAN,
    EInvoice,
    EInvoiceError,
    PlainPdf,
    looks_like_xml,
    read_einvoice_within_limits,
    shown_name,
)
from core.einvoices.summary_pdf import einvoice_summary_pdf
from core.files import MAX_DOCUMENT_BYTES, looks_like_pdf
from core.money import format_amount
from core.validators import InvalidIdentifier, format_iban, normalize_iban
from models.libeo.accounts.models import Account
from models.libeo.errors import InvalidData
from models.libeo.invoices.documents import store_invoice_document, too_large_message
from models.libeo.invoices.models import Invoice, invoice_number_key
from models.libeo.invoices.services import CURRENCIES, InvoiceTotals, create_libeo_invoice, invoice_data

KEPT_BY_THE_ACCOUNT = ("Libeo garde ce résumé avec la facture ; conservez le fichier XML original, qui fait foi, "
                       "avec vos factures.")
NOT_A_FILE_LIBEO_TAKES = ("Ce document n'est pas un PDF lisible (en-tête %PDF- ou fin de fichier %%EOF absents) "
                          "ni une facture électronique XML (CII ou UBL) : joignez le PDF de la facture ou le "
                          "fichier Factur-X, CII ou UBL reçu du fournisseur.")


@dataclass(frozen=True)
class InvoiceFile:
    """The file joined, read: the PDF to keep with the invoice, and the e-invoice it is, if it is one."""

    pdf: bytes
    einvoice: EInvoice | None = None

    @property
    def described(self) -> str:
        """« Factur-X (profil EN 16931) », « UBL (profil PEPPOL BIS 3) »…"""
        if self.einvoice is None:
            return "PDF"
        e = self.einvoice
        return e.format + (f" (profil {e.profile})" if e.profile else "")

    def field_values(self) -> dict:
        """What the e-invoice fills in the form's empty fields (form names; None: the file does not say)."""
        e = self.einvoice
        if e is None:
            return {}
        return {"number": e.number, "supplier_name": e.supplier_name,
                "supplier_iban": format_iban(e.iban) if e.iban else None, "supplier_bic": e.bic,
                "issue_date": e.issue_date, "due_date": e.due_date, "amount_cents": e.amount_cents}

    def missing(self) -> dict[str, str]:
        """The form's fields the e-invoice cannot fill, with what to do (they must be typed)."""
        e = self.einvoice
        if e is None:
            return {}
        found = {}
        if MISSING_IBAN in e.missing:
            found["supplier_iban"] = "Le fichier n'indique pas l'IBAN du fournisseur : saisissez-le."
        if MISSING_DUE_DATE in e.missing:
            found["due_date"] = "Le fichier n'indique pas d'échéance : saisissez-la."
        return found

    def totals_for(self, amount_cents: int) -> InvoiceTotals | None:
        """The file's totals, when the invoice is for its amount due and they add up to it."""
        e = self.einvoice
        if e is None or e.total_with_tax_cents is None or amount_cents != e.amount_cents:
            return None
        totals = InvoiceTotals(total_cents=e.total_with_tax_cents, net_cents=e.total_without_tax_cents,
                               vat_cents=e.tax_cents, prepaid_cents=e.prepaid_cents, rounding_cents=e.rounding_cents)
        return totals if totals.amount_due_cents == amount_cents and totals.total_cents > 0 else None

    def buyer_warning(self, account: Account) -> str | None:
        """When the e-invoice names a buyer of another SIREN than the account's: said after saving."""
        e = self.einvoice
        if e is None or not e.buyer_siret or not account.siret or e.buyer_siret[:9] == account.siret[:9]:
            return None
        return (f"Attention : ce fichier est adressé à {e.buyer_name or 'une autre entreprise'} (SIRET "
                f"{e.buyer_siret}), pas à {account.name}. Vérifiez qu'il vous revient de la payer.")

    @property
    def totals_hint(self) -> str | None:
        """« Lu dans le fichier : montant TTC 671,15 € (HT 636,16 € + TVA 34,99 €), moins 201,00 € déjà payés :
        net à payer 470,15 €. »"""
        e = self.einvoice
        if e is None:
            return None
        money = lambda cents: format_amount(cents, e.currency)  # noqa: E731
        said = f"montant TTC {money(e.total_with_tax_cents or e.amount_cents)}"
        if e.total_without_tax_cents is not None and e.tax_cents is not None:
            said += f" (HT {money(e.total_without_tax_cents)} + TVA {money(e.tax_cents)})"
        if e.prepaid_cents:
            said += f", moins {money(e.prepaid_cents)} déjà payés"
        if e.rounding_cents:
            said += f", arrondi de {money(e.rounding_cents)}"
        return f"Lu dans le fichier {self.described} : {said} ; net à payer {money(e.amount_cents)}."


def read_invoice_file(filename: str | None, content: bytes) -> InvoiceFile:
    """The file joined to « Nouvelle facture », read; :class:`InvalidData` (field ``document``) in French when
    Libeo cannot take it: empty, too large, neither PDF nor e-invoice XML, an e-invoice refused by the
    reader (a credit note, a broken schema…), in another currency, or paid by direct debit."""
    if not content:
        raise InvalidData("Le document est vide : joignez le PDF de la facture ou sa facture électronique.",
                          "document")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise InvalidData(too_large_message(), "document")
    is_pdf = b"%PDF-" in content[:1024]
    if not (looks_like_pdf(content) if is_pdf else looks_like_xml(content)):
        raise InvalidData(NOT_A_FILE_LIBEO_TAKES, "document")
    try:
        einvoice = read_einvoice_within_limits(filename or "facture", content)
    except PlainPdf:
        return InvoiceFile(content)
    except EInvoiceError as refusal:
        said = str(refusal)
        raise InvalidData(said if "rien n'a été enregistré" in said else f"{said} Rien n'a été enregistré.",
                          "document") from None
    if einvoice.currency not in CURRENCIES:
        raise InvalidData(f"Cette facture est en {einvoice.currency} : Libeo ne paie qu'en euros (EUR). Rien n'a "
                          "été enregistré ; demandez au fournisseur une facture en euros.", "document")
    if einvoice.direct_debit:
        raise InvalidData("Le fournisseur indique un prélèvement : il débitera lui-même ce montant. Ne payez pas "
                          "cette facture par virement ; rien n'a été enregistré.", "document")
    pdf = content if is_pdf else einvoice_summary_pdf(einvoice, shown_name(filename or "facture.xml"),
                                                      kept=KEPT_BY_THE_ACCOUNT)
    return InvoiceFile(pdf, einvoice)


def enter_invoice(account: Account, file: InvoiceFile | None, *, number: str, supplier_name: str,
                  supplier_iban: str, supplier_bic: str | None, issue_date: date, due_date: date,
                  amount_cents: int) -> Invoice:
    """« Nouvelle facture »: the invoice typed (or filled from its e-invoice), checked against its file, saved
    with the file's totals and the file itself. Never commits (the view does, once)."""
    if file is not None:
        check_against_file(file, number=number, supplier_iban=supplier_iban, amount_cents=amount_cents,
                           issue_date=issue_date)
    data = invoice_data(number=number, supplier_name=supplier_name, supplier_iban=supplier_iban,
                        supplier_bic=supplier_bic, issue_date=issue_date, due_date=due_date, amount_cents=amount_cents,
                        totals=file.totals_for(amount_cents) if file else None)
    invoice = create_libeo_invoice(account, data)
    if file is not None:
        store_invoice_document(invoice, file.pdf)
    return invoice


def check_against_file(file: InvoiceFile, *, number: str, supplier_iban: str, amount_cents: int,
                       issue_date: date) -> None:
    """What the person typed must be what the e-invoice says; a difference is refused, naming both.
    (Checked before the fields themselves: a typed IBAN the file contradicts is said so, not that the
    file's BIC is another bank's.)"""
    e = file.einvoice
    if e is None:
        return
    if invoice_number_key(number) != invoice_number_key(e.number):
        raise InvalidData(f"Le fichier est la facture n° {e.number}, pas {number} : corrigez le numéro ou "
                          "videz-le pour reprendre celui du fichier.", "number")
    typed_iban = _iban(supplier_iban)
    if e.iban and typed_iban and typed_iban != e.iban:
        raise InvalidData(f"Le fichier indique l'IBAN {format_iban(e.iban)}, pas {format_iban(typed_iban)} : "
                          "vérifiez-le auprès du fournisseur, ou videz le champ pour reprendre celui du fichier.",
                          "supplier_iban")
    if amount_cents != e.amount_cents:
        raise InvalidData(f"Le fichier indique un net à payer de {format_amount(e.amount_cents, e.currency)}, pas "
                          f"{format_amount(amount_cents, e.currency)} : corrigez le montant ou videz-le "
                          "pour reprendre celui du fichier.", "amount_cents")
    if issue_date != e.issue_date:
        raise InvalidData(f"Le fichier est daté du {_day(e.issue_date)}, pas du {_day(issue_date)} : "
                          "corrigez la date ou videz-la pour reprendre celle du fichier.", "issue_date")


def _iban(value: str | None) -> str | None:
    try:
        return normalize_iban(value or "")
    except InvalidIdentifier:
        return None


def _day(value: date) -> str:
    return f"{value:%d/%m/%Y}"
