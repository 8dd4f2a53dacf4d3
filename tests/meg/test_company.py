"""« Fiche de l'entreprise »: the SIRET that opens Libeo, kept valid and unique."""

from __future__ import annotations

from html import unescape

import pytest

from tests.factories import meg_company


def _company(meg_app, name):
    with meg_app.app_context():
        return meg_company(name)


def test_an_association_adds_its_siret_and_can_then_use_libeo(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    options = unescape(client.get("/meg/achats/options").get_data(as_text=True))
    assert "Renseigner le SIRET" in options
    response = client.post("/meg/entreprise/fiche", data={"name": "Association Les Amis du Quartier",
                                                          "siret": "902 468 135 00013"}, follow_redirects=True)
    page = unescape(response.get_data(as_text=True))
    assert "Ce SIRET n'est pas valide" in page  # wrong check digit: nothing saved
    assert _company(meg_app, "Association Les Amis du Quartier").siret is None
    response = client.post("/meg/entreprise/fiche", data={"name": "Association Les Amis du Quartier",
                                                          "siret": "732 829 320 00009"}, follow_redirects=True)
    page = unescape(response.get_data(as_text=True))
    assert "La fiche de l'entreprise est enregistrée." in page and "SIRET 732 829 320 00009" in page
    assert "l'entreprise n'a pas de SIRET" not in unescape(client.get("/meg/achats/reglements").get_data(as_text=True))


@pytest.mark.parametrize("siret, message", [
    ("12345", "exactement 14 chiffres"),
    ("85123456700002", "déjà celui d'une autre entreprise"),
    ("８３４５１２３４５００００２", "exactement 14 chiffres"),
])
def test_bad_sirets_are_refused(client, demo, meg_auth, meg_app, siret, message):
    meg_auth.login("president@amis-du-quartier.fr")
    response = client.post("/meg/entreprise/fiche", data={"name": "Association Les Amis du Quartier", "siret": siret})
    assert message in unescape(response.get_data(as_text=True))
    assert _company(meg_app, "Association Les Amis du Quartier").siret is None


def test_only_achats_administrators_edit_the_company(client, demo, meg_auth, meg_app):
    meg_auth.login("compta@boulangerie-martin.fr")
    assert client.get("/meg/entreprise/fiche").status_code == 403
    assert client.post("/meg/entreprise/fiche", data={"name": "Pirate", "siret": ""}).status_code == 403
    assert _company(meg_app, "Boulangerie Martin SARL").siret == "83451234500002"
