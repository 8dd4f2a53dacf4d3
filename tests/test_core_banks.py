"""Core helpers both products use to show accounts: masked IBANs and bank names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.banks import bank_bic, bank_name, bic_display, bic_mismatch
from core.validators import mask_iban


@pytest.mark.parametrize(
    ("iban", "masked"),
    [
        ("FR7630006000010000000791963", "FR76 •••• •••• •••• •••• ••91 963"),
        ("fr76 3000 6000 0100 0000 0791 963", "FR76 •••• •••• •••• •••• ••91 963"),
        ("DE89370400440532013000", "DE89 •••• •••• •••• •130 00"),
        ("NL91ABNA0417164300", "NL91 •••• •••• •643 00"),
        ("FR12", "FR••"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_iban_keeps_the_country_check_digits_and_last_five(iban, masked):
    assert mask_iban(iban) == masked


@given(st.text(max_size=40))
def test_mask_iban_never_raises_nor_shows_the_middle(value):
    masked = mask_iban(value).replace(" ", "")
    compact = "".join(value.split()).upper()
    assert len(masked) == len(compact)
    if len(compact) >= 14:
        assert masked[4:-5] == "•" * (len(compact) - 9)


@pytest.mark.parametrize(
    ("iban", "name", "bic"),
    [
        ("FR7630004008220000001583859", "BNP PARIBAS", "BNPAFRPP"),
        ("FR7630006000010000000791963", "CREDIT AGRICOLE SA", "AGRIFRPPXXX"),
        ("FR7620041010050000006335211", "LA BANQUE POSTALE", "PSSTFRPP"),
        # schwifty files bank code 30003 under a subsidiary; the BIC's own name wins.
        ("FR7630003029000000003167634", "SOCIETE GENERALE SA", "SOGEFRPP"),
        ("DE89370400440532013000", "Commerzbank", "COBADEFFXXX"),
    ],
)
def test_bank_name_and_bic_come_from_the_iban(iban, name, bic):
    assert (bank_name(iban), bank_bic(iban)) == (name, bic)


@pytest.mark.parametrize("iban", ["FR7612345000010000000000000", "", None, "XX00123", "ÉÉÉ", "A" * 200])
def test_unknown_or_invalid_ibans_have_no_bank(iban):
    assert bank_name(iban) is None and bank_bic(iban) is None


@pytest.mark.parametrize(("bic", "iban", "shown"), [
    ("AGRIFRPP866", "FR7630004008220000001583859", "AGRIFRPP866"),  # the one given, as given
    (None, "FR7630004008220000001583859", "BNPAFRPP (déduit de l'IBAN)"),
    ("", "FR7612345000010000000000000", "—"),  # an unknown bank: nothing guessed
])
def test_a_bic_is_shown_as_given_else_derived_and_said_so(bic, iban, shown):
    assert bic_display(bic, iban) == shown


@given(st.text(max_size=50))
def test_bank_helpers_never_raise(value):
    bank_name(value), bank_bic(value)


@pytest.mark.parametrize(("iban", "bic", "fits"), [
    ("FR7630006000010000000791963", "AGRIFRPPXXX", True),
    ("FR7630006000010000000791963", "AGRIFRPP866", True),  # another branch of the same bank
    ("FR7630006000010000000791963", "agri frpp", True),
    ("FR7630006000010000000791963", None, True),
    ("FR7630004008220000001583859", "AGRIFRPPXXX", False),  # the previous bank's BIC
    ("FR7630004008220000001583859", "BNPAFRPP", True),
    ("NL91ABNA0417164300", "ABNANL2A", True),
])
def test_a_bic_must_be_the_ibans_banks(iban, bic, fits):
    assert (bic_mismatch(iban, bic) is None) is fits
