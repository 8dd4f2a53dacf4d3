"""Look-alike supplier names: a name that reads like a known supplier's is that supplier.

A fraudster types « Оrаngе Business » (Cyrillic О, а, е) with their own IBAN
after « Orange Business » was paid: the payment must wait for an
administrator, like any new IBAN of a known supplier, and the mixed scripts
are said, with the odd letters marked. Everything goes through Libeo's API as
MEG sends it.
"""

from __future__ import annotations

import pytest

from core.names import mixed_script_words, name_key, names_match

from .test_safeguards import BNP_IBAN, OTHER_IBAN, admin, held, pay, scheduled, supplier  # noqa: F401

# (known supplier, the look-alike a fraudster types): each must be held as the known supplier's new IBAN.
CONFUSABLE_PAIRS = [
    ("Orange Business", "Оrаngе Business"),        # Cyrillic О, а, е
    ("Dupont", "Dуpоnt"),                          # Cyrillic у, о
    ("Minoterie Dupuis", "Міnoterie Dupuіs"),      # Cyrillic М, і
    ("Alpha Conseil", "Αlphα Conseil"),            # Greek Α, α
    ("Total Energies", "Τοtal Energies"),          # Greek Τ, ο
    ("Orange Business", "Ｏｒａｎｇｅ Business"),    # full-width
    ("Orange Business", "𝐎𝐫𝐚𝐧𝐠𝐞 Business"),        # mathematical bold
    ("Orange Business", "𝖮𝗋𝖺𝗇𝗀𝖾 Business"),        # mathematical sans-serif
    ("Orange Business", "0range Business"),        # the digit 0
    ("Bol Hotel", "B0l H0tel"),                    # digits 0 in two words
    ("Orange Business", "ᴏʀᴀɴɢᴇ Business"),        # small capitals
    ("Orange Business", "Or\u200bange Business"),  # a zero-width space
    ("Orange Business", "Orangé Business"),        # an accent
]

FRENCH_NAMES = [
    "Œuvres Sociales du Personnel",
    "Société Générale",
    "Boulangerie Lœwy & Fils",
    "Crêperie Ker Ébène",
    "L'Atelier d'Hélène",
    "Façonnage Müller",
]


@pytest.mark.parametrize("known, lookalike", CONFUSABLE_PAIRS)
def test_a_lookalike_of_a_known_supplier_with_a_new_iban_is_held(admin, known, lookalike):  # noqa: F811
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier(known)))
    payment = held(pay(admin.api, "meg-2", n=2, supplier=supplier(lookalike, BNP_IBAN)))
    assert "new_iban" in payment["hold_reasons"]
    assert any(detail.startswith(f"Nouvel IBAN pour {lookalike} :") for detail in payment["hold_details"])


def test_a_word_in_mixed_scripts_is_held_with_its_odd_letters_marked(admin):  # noqa: F811
    """Even a first payment: the disguise is a reason by itself."""
    payment = held(pay(admin.api, "meg-1", n=1, supplier=supplier("Оrаngе Business")))
    assert payment["hold_reasons"] == ["mixed_scripts"]
    [detail] = payment["hold_details"]
    assert detail.startswith("Nom du fournisseur en écritures mélangées : « [О]r[а]ng[е] » mêle des lettres "
                             "d'écriture latine et d'écriture cyrillique : « О », « а », « е » (entre crochets) "
                             "ne sont pas des lettres latines.")
    assert payment["status_label"] == "À approuver"


def test_an_iban_first_paid_under_a_mixed_script_name_is_not_learnt_until_approved(admin):  # noqa: F811
    held(pay(admin.api, "meg-1", n=1, supplier=supplier("Dуpоnt")))
    # The genuine supplier on another IBAN is a first payment: the disguised one taught nothing.
    scheduled(pay(admin.api, "meg-2", n=2, supplier=supplier("Dupont", OTHER_IBAN)))


@pytest.mark.parametrize("name", FRENCH_NAMES)
def test_ordinary_french_names_are_not_held(admin, name):  # noqa: F811
    assert mixed_script_words(name) == ()
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier(name)))
    scheduled(pay(admin.api, "meg-2", n=2, supplier=supplier(name)))


def test_suppliers_named_in_another_script_are_told_apart(admin):  # noqa: F811
    """Non-Latin names used to reduce to nothing, all alike: two Greek suppliers were one."""
    scheduled(pay(admin.api, "meg-1", n=1, supplier=supplier("Ωμέγα Τεχνική")))
    scheduled(pay(admin.api, "meg-2", n=2, supplier=supplier("Δέλτα Εμπόριο", BNP_IBAN)))
    # … and each is still recognised under its own name.
    payment = held(pay(admin.api, "meg-3", n=3, supplier=supplier("Ωμέγα Τεχνική", OTHER_IBAN)))
    assert payment["hold_reasons"] == ["new_iban"]


def test_names_in_scripts_written_together_are_not_mixed():
    assert mixed_script_words("東京タワー株式会社") == ()  # Han with Katakana: Japanese
    assert mixed_script_words("서울食品") == ()  # Hangul with Han: Korean
    assert mixed_script_words("Αθήνα Trading") == ()  # one script per word


@pytest.mark.parametrize("known, lookalike", CONFUSABLE_PAIRS)
def test_lookalikes_read_as_the_same_name(known, lookalike):
    assert names_match(known, lookalike) and names_match(lookalike, known)


def test_keys_of_names_in_other_scripts_are_not_empty():
    assert name_key("Ωμέγα") and name_key("北京公司") != name_key("上海公司")
    assert not names_match("Ωμέγα", "Δέλτα")
