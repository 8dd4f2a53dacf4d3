"""MEG's supplier screens and look-alike names: « Міnoterie Dupuіs » beside « Minoterie Dupuis ».

A new supplier whose name reads like an existing one (Cyrillic М and і), or
mixes scripts in a word, is saved only once the person confirms, and the
confirmation is journaled with who did it. An IBAN another supplier already
has is said after saving and journaled.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core.forms import SHOWN_SUFFIX
from core.sepa_text import name_to_show
from models.meg import Supplier, db
from models.meg.journal import MegJournalEntry
from tests.helpers import text

MINOTERIE_IBAN = "FR7630006000010000000791963"  # « Minoterie Dupuis » in the demo data
LAITERIE_IBAN = "FR7630004008220000001583859"  # « Laiterie des Prés »
FRAUD_IBAN = "FR7630006000000000000201054"  # valid, nobody's


def _suppliers(meg_app) -> int:
    with meg_app.app_context():
        return db.session.scalar(select(func.count(Supplier.id)))


def _journal(meg_app) -> list[str]:
    with meg_app.app_context():
        entries = db.session.scalars(select(MegJournalEntry).order_by(MegJournalEntry.id))
        return [f"{entry.actor} {entry.message}" for entry in entries]


def test_a_new_supplier_that_reads_like_a_known_one_asks_to_confirm(client, demo, meg_auth, meg_app):
    meg_auth.login()
    before = _suppliers(meg_app)
    # The name as the bank will read it was shown first (« Minoterie Dupuis »): that step is passed.
    form = {"name": "Міnoterie Dupuіs", "name" + SHOWN_SUFFIX: name_to_show("Міnoterie Dupuіs"), "iban": FRAUD_IBAN,
            "bic": ""}

    warned = client.post("/meg/achats/fournisseurs/nouveau", data=form)
    page = text(warned)
    assert warned.status_code == 200
    assert "Fournisseur à vérifier." in page
    assert "« [М][і]noterie » mêle des lettres d'écriture latine et d'écriture cyrillique : « М », « і »" in page
    assert "« Dupu[і]s »" in page
    assert "« Міnoterie Dupuіs » ressemble au fournisseur « Minoterie Dupuis » déjà enregistré (payé sur l'IBAN " \
           "FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA))." in page
    assert "Confirmer malgré l'avertissement" in page
    assert _suppliers(meg_app) == before  # nothing saved

    saved = client.post("/meg/achats/fournisseurs/nouveau", data={**form, "confirm_lookalike": "y"},
                        follow_redirects=True)
    assert "Le fournisseur « Міnoterie Dupuіs » est enregistré." in text(saved)
    assert _suppliers(meg_app) == before + 1
    assert any(entry.startswith("Claire Martin (admin@boulangerie-martin.fr) Fournisseur « Міnoterie Dupuіs » "
                                "enregistré malgré l'avertissement") for entry in _journal(meg_app))


def test_a_latin_lookalike_without_mixed_scripts_asks_too(client, demo, meg_auth, meg_app):
    meg_auth.login()
    warned = text(client.post("/meg/achats/fournisseurs/nouveau",
                              data={"name": "MINOTERIE DUPUIS SARL", "iban": FRAUD_IBAN, "bic": ""}))
    assert "ressemble au fournisseur « Minoterie Dupuis »" in warned
    assert "écritures mélangées" not in warned


def test_renaming_a_supplier_to_a_lookalike_of_another_asks_to_confirm(client, demo, meg_auth, meg_app):
    meg_auth.login()
    with meg_app.app_context():
        laiterie = db.session.scalar(select(Supplier.id).where(Supplier.name == "Laiterie des Prés"))
    warned = text(client.post(f"/meg/achats/fournisseurs/{laiterie}/modifier",
                              data={"name": "Minoterie Dupuis", "iban": LAITERIE_IBAN, "bic": ""}))
    assert "ressemble au fournisseur « Minoterie Dupuis »" in warned
    with meg_app.app_context():
        assert db.session.get(Supplier, laiterie).name == "Laiterie des Prés"


def test_an_ordinary_new_supplier_is_saved_without_a_question(client, demo, meg_auth, meg_app):
    meg_auth.login()
    saved = text(client.post("/meg/achats/fournisseurs/nouveau",
                             data={"name": "Œuvres Sociales Société Générale", "iban": FRAUD_IBAN, "bic": ""},
                             follow_redirects=True))
    assert "Le fournisseur « Œuvres Sociales Société Générale » est enregistré." in saved
    assert "Fournisseur à vérifier" not in saved


def test_an_iban_of_another_supplier_is_said_and_journaled_with_who(client, demo, meg_auth, meg_app):
    meg_auth.login("compta@boulangerie-martin.fr")
    saved = text(client.post("/meg/achats/fournisseurs/nouveau",
                             data={"name": "Transports Garnier", "iban": MINOTERIE_IBAN, "bic": ""},
                             follow_redirects=True))
    assert ("Attention : l'IBAN FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA) de « Transports Garnier » "
            "est aussi celui de « Minoterie Dupuis ».") in saved
    journaled = ("(compta@boulangerie-martin.fr) L'IBAN FR76 •••• •••• •••• •••• ••91 963 (CREDIT AGRICOLE SA) de "
                 "« Transports Garnier » est aussi celui de « Minoterie Dupuis ».")
    assert any(journaled in entry for entry in _journal(meg_app))
