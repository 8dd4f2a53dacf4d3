"""A SIRET MEG can vouch for: confirmed by the company's expert-comptable or by the registry.

Any « Achats » administrator can type a SIRET in the « Fiche de l'entreprise »;
MEG tells Libeo it speaks for that SIRET only once the expert-comptable or
the registry (the local SIRENE extract the tests use) confirmed it.
"""

from __future__ import annotations

from sqlalchemy import select

from models.meg import Company, db
from models.meg.journal import MegJournalEntry
from tests.helpers import words as text

ASSOCIATION = "Association Les Amis du Quartier"
ITS_SIRET = "43210987400003"  # in the registry under the association's name
VICTIM_SIRET = "55667788800001"  # « TRANSPORTS VICTOR » in the registry, not in MEG
CLOSED_SIRET = "66778899600003"  # closed establishment


def _association(meg_app) -> Company:
    with meg_app.app_context():
        company = db.session.scalar(select(Company).where(Company.name == ASSOCIATION))
        db.session.expunge(company)
        return company


def _save_fiche(client, siret, name=ASSOCIATION):
    return text(client.post("/meg/entreprise/fiche", data={"name": name, "siret": siret}, follow_redirects=True))


def test_a_siret_of_another_company_is_saved_but_not_vouched_for(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, VICTIM_SIRET)
    assert "La fiche de l'entreprise est enregistrée." in page
    assert ("Le SIRET n'a pas pu être confirmé : d'après le répertoire SIRENE de l'INSEE, le SIRET 556 677 888 00001 "
            "est celui de « TRANSPORTS VICTOR », et non de « Association Les Amis du Quartier ».") in page
    assert "demandez à votre expert-comptable de confirmer le SIRET" in page
    assert "SIRET à confirmer : MEG ne se porte pas garant de l'entreprise auprès de Libeo" in page
    company = _association(meg_app)
    assert company.siret == VICTIM_SIRET and not company.siret_trusted


def test_a_closed_or_unknown_establishment_is_not_vouched_for(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    assert "l'établissement 667 788 996 00003 est fermé" in _save_fiche(client, CLOSED_SIRET)
    assert not _association(meg_app).siret_trusted
    assert "ne connaît pas le SIRET 732 829 320 00074" in _save_fiche(client, "73282932000074")


def test_the_registry_confirms_the_companys_own_siret(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, ITS_SIRET)
    assert "SIRET confirmé par le répertoire SIRENE de l'INSEE." in page
    assert _association(meg_app).siret_trusted


def test_changing_a_trusted_siret_withdraws_the_trust_and_is_journaled(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    _save_fiche(client, ITS_SIRET)
    _save_fiche(client, VICTIM_SIRET)
    assert not _association(meg_app).siret_trusted
    with meg_app.app_context():
        messages = list(db.session.scalars(select(MegJournalEntry.message).order_by(MegJournalEntry.id)))
    assert "SIRET de l'entreprise modifié : 432 109 874 00003 → 556 677 888 00001." in messages


def test_the_companys_expert_comptable_confirms_it(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    _save_fiche(client, VICTIM_SIRET)
    meg_auth.logout()
    # Another company's administrator cannot confirm it.
    meg_auth.login("admin@boulangerie-martin.fr")
    assert client.post("/meg/entreprise/fiche/confirmer-siret").status_code in (400, 403)
    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    with meg_app.app_context():
        company_id = db.session.scalar(select(Company.id).where(Company.name == ASSOCIATION))
    client.post("/meg/entreprise", data={"company_id": company_id})
    page = text(client.get("/meg/entreprise/fiche"))
    assert "Confirmer le SIRET" in page
    confirmed = text(client.post("/meg/entreprise/fiche/confirmer-siret",
                                 data={"csrf_token": ""}, follow_redirects=True))
    assert "SIRET 556 677 888 00001 confirmé" in confirmed
    assert "SIRET confirmé par l'expert-comptable Hélène Durand (expert@cabinet-durand.fr)." in confirmed
    assert _association(meg_app).siret_trusted
