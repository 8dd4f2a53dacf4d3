"""A payment's document: its « Ordre de virement » until the bank confirms the debit, then its
« Justificatif de paiement ».

``receipt_pdf(data)`` draws it with ReportLab from a ``ReceiptData`` the
caller fills from a payment, its SEPA file and the two accounts; it reads no
database. The document says which it is: an order proves what was asked of
the bank, not that money left. Both IBANs are given whole and always printed
masked (« FR76 •••• … ••12 345 »): a receipt is forwarded by e-mail, an
account number is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.banks import bank_bic, bank_name
from core.dates import PARIS
from core.money import format_amount
from core.pdf import FONT_BOLD, a4_pdf, fields_table, page_styles, paragraph
from core.validators import format_siret, mask_iban


@dataclass(frozen=True)
class ReceiptData:
    """What a receipt shows. Bank names and the creditor's BIC, when not given,
    are looked up from the IBANs (schwifty's registry), and left out when unknown."""

    payer_name: str
    payer_siret: str | None
    debtor_iban: str
    beneficiary_name: str
    creditor_iban: str
    invoice_number: str
    amount_cents: int
    currency: str
    execution_date: date | None
    end_to_end_id: str
    sepa_message_id: str | None
    status_label: str  # « Transmis à la banque le 10/10/2026 », « Débité le 12/10/2026 »…
    generated_at: datetime  # aware; a naive one is taken as UTC
    debtor_bank: str | None = None
    creditor_bank: str | None = None
    creditor_bic: str | None = None
    payment_reference: str | None = None  # Libeo's own number for the payment
    # Set once the bank confirmed the debit: the document is then the « Justificatif de paiement ».
    debited_on: date | None = None
    debit_source: str | None = None  # « avis de débit camt.054 … », « statut ACSC de la banque »…

    @property
    def is_proof(self) -> bool:
        return self.debited_on is not None

    @property
    def title(self) -> str:
        return "Justificatif de paiement" if self.is_proof else "Ordre de virement"


def receipt_pdf(data: ReceiptData) -> bytes:
    """The receipt as a one-page A4 PDF, in French, fonts embedded."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    styles = page_styles()
    amount = ParagraphStyle("amount", parent=styles.base, fontName=FONT_BOLD, fontSize=16, leading=20)

    def para(text: str, style=styles.base):
        return paragraph(text, style)

    rows = [
        ("Statut", para(data.status_label, styles.strong)),
        ("Montant", para(format_amount(data.amount_cents, data.currency), amount)),
        ("Facture", para(data.invoice_number)),
        ("Date d'exécution", para(f"{data.execution_date:%d/%m/%Y}" if data.execution_date else "—")),
        ("Débité le", para(_joined(f"{data.debited_on:%d/%m/%Y}", data.debit_source) if data.debited_on
                           else "non confirmé par la banque à la date de ce document")),
        ("Donneur d'ordre", para(_joined(
            data.payer_name, f"SIRET {format_siret(data.payer_siret)}" if data.payer_siret else None))),
        ("Compte débité", [para(mask_iban(data.debtor_iban)),
                           para(_joined(data.debtor_bank or bank_name(data.debtor_iban)), styles.label)]),
        ("Bénéficiaire", para(data.beneficiary_name, styles.strong)),
        ("Compte crédité", [para(mask_iban(data.creditor_iban)), para(_joined(
            data.creditor_bank or bank_name(data.creditor_iban),
            f"BIC {bic}" if (bic := data.creditor_bic or bank_bic(data.creditor_iban)) else None,
        ), styles.label)]),
        ("Référence de bout en bout (EndToEndId)", para(data.end_to_end_id)),
        ("Fichier de virements SEPA (MsgId)", para(data.sepa_message_id or "—")),
    ]
    if data.payment_reference:
        rows.append(("Référence Libeo du paiement", para(data.payment_reference)))
    story = [
        para("Libeo", styles.strong),
        Spacer(1, 6 * mm),
        para(data.title, styles.title),
        para(f"Virement SEPA de {data.payer_name} à {data.beneficiary_name}"),
        Spacer(1, 8 * mm),
        fields_table(rows, styles, (62 * mm, 108 * mm), padding=5),
        Spacer(1, 10 * mm),
        para(f"Document généré le {_paris(data.generated_at)} (heure de Paris) par Libeo.", styles.small),
        para(_explanation(data), styles.small),
    ]
    return a4_pdf(story, title=f"{data.title} — facture {data.invoice_number}", author="Libeo")

def _explanation(data: ReceiptData) -> str:
    if data.is_proof:
        return ("Ce justificatif atteste que la banque du donneur d'ordre a débité ce virement à la date "
                "ci-dessus ; la référence de bout en bout accompagne le virement jusqu'au bénéficiaire. "
                "Les numéros de compte sont masqués.")
    return ("Ce document est l'ordre de virement préparé par Libeo pour la banque du donneur d'ordre, avec les "
            "références ci-dessus. Ce n'est pas un justificatif de paiement : la banque n'a pas encore confirmé "
            "le débit. Les numéros de compte sont masqués.")


def _joined(*parts: str | None) -> str:
    return " — ".join(part for part in parts if part)


def _paris(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
