"""A readable PDF of an XML e-invoice (CII or UBL), for Libeo's invoice page.

Libeo shows and stores PDFs (``PUT …/document``, « Nouvelle facture »); a
supplier who sent only XML gets a one-page summary drawn from what the XML
says, with a note saying where the original XML is kept (MEG, or Libeo with
the invoice). The summary is drawn from the file, never from a form's fields:
it shows what the supplier sent.
"""

from __future__ import annotations

from core.einvoices.reading import EInvoice
from core.money import format_amount
from core.pdf import a4_pdf, fields_table, page_styles, paragraph
from core.validators import format_iban, format_siret

KEPT_IN_MEG = "Le fichier XML original, qui fait foi, est conservé dans MEG avec la facture."


def einvoice_summary_pdf(einvoice: EInvoice, filename: str, kept: str = KEPT_IN_MEG) -> bytes:
    """One A4 page in French: parties, number, dates, totals, bank details, and where the original is."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    styles = page_styles()

    def para(text: str, style=styles.base):
        return paragraph(text, style)

    def money(cents: int | None) -> str:
        return format_amount(cents, einvoice.currency) if cents is not None else "—"

    kind = einvoice.format + (f" (profil {einvoice.profile})" if einvoice.profile else "")
    rows = [
        ("Fournisseur", [para(einvoice.supplier_name, styles.strong), *_identity(einvoice.supplier_siret,
                                                                                 einvoice.supplier_vat, para)]),
        ("Client", [para(einvoice.buyer_name or "—"), *_identity(einvoice.buyer_siret, None, para)]),
        ("Numéro", para(einvoice.number, styles.strong)),
        ("Date de facture", para(f"{einvoice.issue_date:%d/%m/%Y}")),
        ("Échéance", para(f"{einvoice.due_date:%d/%m/%Y}" if einvoice.due_date else "non indiquée")),
        ("Total HT", para(money(einvoice.total_without_tax_cents))),
        ("TVA", para(money(einvoice.tax_cents))),
        ("Montant TTC", para(money(einvoice.total_with_tax_cents or einvoice.amount_cents))),
        *([("Déjà payé", para(money(einvoice.prepaid_cents)))] if einvoice.prepaid_cents else []),
        *([("Arrondi", para(money(einvoice.rounding_cents)))] if einvoice.rounding_cents else []),
        ("Net à payer", para(money(einvoice.amount_cents), styles.strong)),
        ("IBAN du fournisseur", para(format_iban(einvoice.iban) if einvoice.iban else "non indiqué")),
    ]
    if einvoice.bic:
        rows.append(("BIC", para(einvoice.bic)))
    if einvoice.payment_reference:
        rows.append(("Référence de paiement", para(einvoice.payment_reference)))
    if einvoice.payment_terms:
        rows.append(("Conditions de paiement", para(einvoice.payment_terms)))
    story = [
        para(f"Facture {einvoice.number}", styles.title),
        para(f"Facture électronique {kind} reçue de {einvoice.supplier_name}"),
        Spacer(1, 8 * mm),
        fields_table(rows, styles, (50 * mm, 120 * mm), padding=4),
        Spacer(1, 10 * mm),
        para(
            f"Résumé lisible de la facture électronique « {filename} », établi à partir des données "
            f"du fichier. {kept}",
            styles.small,
        ),
    ]
    return a4_pdf(story, title=f"Facture {einvoice.number} — {einvoice.supplier_name}", author=einvoice.supplier_name)

def _identity(siret: str | None, vat: str | None, para) -> list:
    lines = []
    if siret:
        lines.append(para(f"SIRET {format_siret(siret)}"))
    if vat:
        lines.append(para(f"N° TVA {vat}"))
    return lines
