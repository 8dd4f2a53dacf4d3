"""A known supplier under a disguise, with a new IBAN: held as the same supplier (« nouvel IBAN »).

Written letter by letter (« E.D.F. » after « EDF »), or in letters that look the same in the pages' font
(Greek « ΑϹΜΕ » for « ACME », a small « l » for the capital « I »): each is the known supplier, and a payment
to another IBAN waits for an administrator. Payments come through the API as MEG sends them.
"""

from __future__ import annotations

import pytest

from core.calendar import earliest_execution_date
from core.dates import paris_today
from models.libeo import Plan

from .conftest import DEBTOR_IBAN, SUPPLIER_IBAN, Api, LibeoAuth, invoice_body, make_account, make_key, pay_body


def dated_constants() -> dict:
    """What this module derives from today (tests/conftest.py computes it again after midnight in Paris)."""
    return {"DAY": earliest_execution_date(paris_today())}


(DAY,) = dated_constants().values()
BNP_IBAN = "FR7630004008220000001583859"  # a supplier's « new » IBAN, as a fraudster sends it


@pytest.fixture
def admin(libeo_app, client):
    """A verified Partnerships account (no quota in the way), its MEG API key, its administrator signed in."""
    info = make_account(libeo_app, name="Boulangerie Martin SARL", plan=Plan.PARTNERSHIPS, debtor_iban=DEBTOR_IBAN,
                        accountant="expert@cabinet-durand.fr")
    LibeoAuth(client).login(info.email)
    info.api = Api(client, make_key(libeo_app, info.id))
    return info


def pay(api: Api, external_id: str, **invoice):
    body = pay_body(execution_date=DAY.isoformat(), invoice=invoice_body(**invoice))
    response = api.pay(external_id, key=f"idem-{external_id}", body=body)
    assert response.status_code == 201, response.json
    return response.json


def supplier(name: str = "Minoterie Dupuis", iban: str = SUPPLIER_IBAN) -> dict:
    return {"name": name, "iban": iban}


# --- new_iban: a known supplier's look-alike with a new IBAN ------------------------------------------------


@pytest.mark.parametrize("known, disguised", [
    ("EDF", "E.D.F."),
    ("SNCF", "S.N.C.F."),
    ("E.D.F.", "EDF"),
    ("Dupont", "D U P O N T"),
])
def test_a_known_supplier_written_letter_by_letter_with_a_new_iban_is_held(admin, known, disguised):
    """« E.D.F. » is « EDF »: a name spelt letter by letter is one word (its key « edf », not « e f », where the
    article-like « d » was left out and nothing near « edf » was looked up)."""
    assert pay(admin.api, "meg-1", n=1, supplier=supplier(known))["status"] == "scheduled"

    second = pay(admin.api, "meg-2", n=2, supplier=supplier(disguised, BNP_IBAN))

    assert second["status"] == "awaiting_approval", (
        f"« {disguised} » paid at once to a new IBAN after « {known} » was paid to another one")
    assert "new_iban" in second["hold_reasons"]


@pytest.mark.parametrize("known, lookalike", [
    ("ACME", "ΑϹΜΕ"),  # Greek Alpha, lunate Sigma « Ϲ », Mu, Epsilon: one script, no mixed-script hold
    ("CIC", "ϹΙϹ"),    # Greek lunate Sigma, Iota
    ("IBM", "lBM"),    # a small L for the capital i (UTS #39 confusables: « I » → « l »)
    ("IKEA", "lKEA"),
])
def test_a_known_supplier_spelt_in_look_alike_letters_with_a_new_iban_is_held(admin, known, lookalike):
    """Each reads exactly as the known name in the pages' sans-serif font: the skeleton maps confusables before
    the compatibility decomposition, as UTS #39 does (the lunate sigma « Ϲ », a « C », would otherwise become
    « Σ »), and « i » and « l » are one letter (« I » is the small « l »)."""
    assert pay(admin.api, "meg-1", n=1, supplier=supplier(known))["status"] == "scheduled"

    second = pay(admin.api, "meg-2", n=2, supplier=supplier(lookalike, BNP_IBAN))

    assert second["status"] == "awaiting_approval", f"« {lookalike} », read as « {known} », paid at once to a new IBAN"
    assert "new_iban" in second["hold_reasons"]


# --- new_iban: what a refusal teaches ------------------------------------------------------------------------
