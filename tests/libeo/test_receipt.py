"""A payment's document: its « Ordre de virement », then its « Justificatif de paiement » once debited — a
valid PDF a person can forward, with the amount in French, the SEPA references, the beneficiary, the bank's
debit date, and account numbers masked."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

from pypdf import PdfReader

from core.validators import format_iban, mask_iban
from models.libeo.payments.receipt_pdf import ReceiptData, receipt_pdf

DEBTOR_IBAN = "FR7630004008220000001583859"
CREDITOR_IBAN = "FR7630006000010000000791963"
RECEIPT = ReceiptData(
    payer_name="Boulangerie Martin SARL",
    payer_siret="83451234500002",
    debtor_iban=DEBTOR_IBAN,
    beneficiary_name="Minoterie Dupuis",
    creditor_iban=CREDITOR_IBAN,
    invoice_number="FA-2026-0142",
    amount_cents=123_456,
    currency="EUR",
    execution_date=date(2026, 10, 12),
    end_to_end_id="E2E-7F3A9C21B04D",
    sepa_message_id="LIBEO-20261012-000042",
    status_label="Débité le 13/10/2026",
    generated_at=datetime(2026, 10, 13, 22, 30, tzinfo=UTC),
    debited_on=date(2026, 10, 13),
    debit_source="statut ACSC de la banque",
)


def _text(data: ReceiptData) -> str:
    pdf = receipt_pdf(data)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    # Spaces as a person reads them: French amounts use no-break spaces.
    return " ".join(reader.pages[0].extract_text().replace("\u00a0", " ").replace("\u202f", " ").split())


def test_the_receipt_says_what_was_paid_to_whom_with_the_sepa_references():
    text = _text(RECEIPT)

    assert "Justificatif de paiement" in text
    assert "1 234,56 €" in text
    assert "E2E-7F3A9C21B04D" in text and "LIBEO-20261012-000042" in text
    assert "Minoterie Dupuis" in text and "Boulangerie Martin SARL" in text
    assert "SIRET 834 512 345 00002" in text
    assert "FA-2026-0142" in text and "12/10/2026" in text
    assert "Débité le 13/10/2026" in text and "Débité le 13/10/2026 — statut ACSC de la banque" in text
    assert "atteste que la banque du donneur d'ordre a débité ce virement" in text


def test_account_numbers_are_masked_never_whole():
    text = _text(RECEIPT)

    assert mask_iban(CREDITOR_IBAN) == "FR76 •••• •••• •••• •••• ••91 963"
    assert mask_iban(CREDITOR_IBAN) in text and mask_iban(DEBTOR_IBAN) in text
    for iban in (CREDITOR_IBAN, DEBTOR_IBAN):
        assert iban not in text.replace(" ", "") and format_iban(iban) not in text
        assert iban[4:-5] not in text.replace(" ", "")


def test_banks_are_named_from_the_ibans():
    text = _text(RECEIPT)

    assert "BNP PARIBAS" in text  # debtor
    assert "CREDIT AGRICOLE SA" in text and "BIC AGRIFRPPXXX" in text  # creditor


def test_generated_at_is_shown_in_paris_time():
    # 22:30 UTC on 13 October is 00:30 on the 14th in Paris (summer time).
    assert "Document généré le 14/10/2026 à 00:30 (heure de Paris)" in _text(RECEIPT)


def test_before_the_bank_confirms_it_is_the_transfer_order_and_says_so():
    text = _text(replace(RECEIPT, status_label="Transmis à la banque le 12/10/2026", execution_date=None,
                         sepa_message_id=None, payer_siret=None, debited_on=None, debit_source=None))

    assert text.startswith("Libeo Ordre de virement") and "Justificatif de paiement" not in text
    assert "Transmis à la banque le 12/10/2026" in text and "SIRET" not in text
    assert "non confirmé par la banque à la date de ce document" in text
    assert "Ce n'est pas un justificatif de paiement : la banque n'a pas encore confirmé le débit" in text
    assert "1 234,56 €" in text and "E2E-7F3A9C21B04D" in text


def test_names_are_printed_as_typed_even_with_markup_characters():
    text = _text(replace(RECEIPT, beneficiary_name="Huiles & Lubrifiants <Sud>", payer_name="Œufs d'Élodie"))

    assert "Huiles & Lubrifiants <Sud>" in text and "Œufs d'Élodie" in text


def test_an_unknown_bank_is_left_out_not_guessed():
    text = _text(replace(RECEIPT, creditor_iban="DE89370400440532013000", creditor_bank="Banque Exemple",
                         creditor_bic="COBADEFFXXX"))

    assert "Banque Exemple" in text and "BIC COBADEFFXXX" in text
    text = _text(replace(RECEIPT, creditor_iban="XX00 1234"))
    assert "BIC" not in text


def test_fonts_are_embedded_so_the_euro_sign_renders_everywhere():
    reader = PdfReader(io.BytesIO(receipt_pdf(RECEIPT)))
    fonts = [font.get_object() for font in reader.pages[0]["/Resources"]["/Font"].values()]

    assert fonts and all("/FontFile2" in font["/FontDescriptor"] for font in fonts)
