"""A SIRET MEG can vouch for: confirmed by the company's expert-comptable or by the registry.

Any « Achats » administrator can type a SIRET in the « Fiche de l'entreprise »;
MEG tells Libeo it speaks for that SIRET only once the expert-comptable or
the registry (the local SIRENE extract the tests use) confirmed it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.meg import Company, db
from models.meg.journal import MegJournalEntry
from tests.helpers import words as text

ASSOCIATION = "Association Les Amis du Quartier"
ITS_SIRET = "43210987400003"  # in the registry under the association's name
VICTIM_SIRET = "55667788800001"  # « TRANSPORTS VICTOR » in the registry, not in MEG
CLOSED_SIRET = "66778899600003"  # closed establishment


def _association(meg_app, company_id: int | None = None) -> Company:
    with meg_app.app_context():
        company = (db.session.get(Company, company_id) if company_id is not None
                   else db.session.scalar(select(Company).where(Company.name == ASSOCIATION)))
        db.session.expunge(company)
        return company


def _save_fiche(client, siret, name=ASSOCIATION):
    return text(client.post("/meg/entreprise/fiche", data={"name": name, "siret": siret}, follow_redirects=True))


def test_a_siret_of_another_company_is_saved_but_not_vouched_for(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, VICTIM_SIRET)
    assert "La fiche de l'entreprise est enregistrée." in page
    assert ("Le SIRET n'a pas pu être confirmé : d'après le répertoire SIRENE de l'INSEE, le SIRET 556 677 888 00001 "
            "est celui de « TRANSPORTS VICTOR », et non de « Association Les Amis du Quartier ». Vérifiez le SIRET "
            "saisi.") in page
    # What follows, and who may confirm it instead, is said once, in the « Fiche »'s box.
    assert ("SIRET à confirmer : MEG ne se porte pas garant de l'entreprise auprès de Libeo tant que le SIRET n'est "
            "confirmé ni par le répertoire SIRENE de l'INSEE ni par l'expert-comptable de l'entreprise.") in page
    assert page.count("ne se porte pas garant") == 1 and page.count("expert-comptable") == 1
    company = _association(meg_app)
    assert company.siret == VICTIM_SIRET and not company.siret_trusted


def test_a_closed_or_unknown_establishment_is_not_vouched_for(client, demo, meg_auth, meg_app):
    meg_auth.login("president@amis-du-quartier.fr")
    closed = _save_fiche(client, CLOSED_SIRET)
    assert "l'établissement 667 788 996 00003 est fermé. Vérifiez le SIRET saisi." in closed
    assert closed.count("ne se porte pas garant") == 1
    assert not _association(meg_app).siret_trusted
    unknown = _save_fiche(client, "73282932000074")
    assert "ne connaît pas le SIRET 732 829 320 00074. Vérifiez le SIRET saisi." in unknown
    assert unknown.count("ne se porte pas garant") == 1


def test_a_company_without_an_expert_comptable_is_told_who_confirms_instead(client, demo, meg_auth, meg_app):
    with meg_app.app_context():
        db.session.scalar(select(Company).where(Company.name == ASSOCIATION)).accounting_firm_id = None
        db.session.commit()
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, VICTIM_SIRET)
    assert ("tant que le SIRET n'est confirmé ni par le répertoire SIRENE de l'INSEE ni par le support de MEG."
            in page)
    assert "expert-comptable" not in page and page.count("ne se porte pas garant") == 1


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


@pytest.mark.parametrize("own_name", ["Transports SARL", "Victor", "Transport Victoire", "Transports Vector"])
def test_the_registry_vouches_only_for_the_companys_own_legal_name(client, demo, meg_app, own_name):
    """« TRANSPORTS VICTOR » is another company (not in MEG). A MEG company called « Transports SARL »,
    « Victor »… typing its SIRET is not trusted: the registry's name is compared word for word (legal forms and
    articles left out), not as loosely as a payment's hold compares suppliers (a subset of words, a typo)."""
    from models.meg.companies.models import AchatsRole
    from tests.factories import meg_user

    with meg_app.app_context():
        company = Company(name=own_name, siret=None)
        db.session.add(company)
        meg_user("patron@exemple.fr", "demo-meg-2026", company=company, role=AchatsRole.ADMIN)
        db.session.commit()
        company_id = company.id
    client.post("/meg/connexion", data={"email": "patron@exemple.fr", "password": "demo-meg-2026"})
    client.post("/meg/entreprise", data={"company_id": company_id})
    saved = client.post("/meg/entreprise/fiche", data={"name": own_name, "siret": VICTIM_SIRET},
                        follow_redirects=True)
    shown = text(saved)
    assert "La fiche de l'entreprise est enregistrée." in shown
    assert "Le SIRET n'a pas pu être confirmé" in shown and "TRANSPORTS VICTOR" in shown
    with meg_app.app_context():
        company = db.session.get(Company, company_id)
        assert company.siret == VICTIM_SIRET and not company.siret_trusted


def test_the_registry_trusts_the_same_words_in_another_order_and_with_a_legal_form():
    from core.names import same_legal_name

    assert same_legal_name("TRANSPORTS VICTOR", "Victor Transports SARL")
    assert same_legal_name("BOULANGERIE MARTIN", "Boulangerie Martin SARL")
    assert same_legal_name("ASSOCIATION LES AMIS DU QUARTIER", "Association Les Amis du Quartier")
    assert not same_legal_name("TRANSPORTS VICTOR", "Transports")
    assert not same_legal_name("TRANSPORTS VICTOR", "Transports Victoire")


def test_renaming_the_company_as_another_one_in_the_same_form_does_not_take_its_siret(client, demo, meg_auth, meg_app,
                                                                                      libeo_app):
    """Whoever administers « Achats » may rename the company: renamed « Transports Victor » with TRANSPORTS VICTOR's
    SIRET, the registry would have confirmed a name typed in that very form, and MEG vouched for that SIRET, making
    the Libeo account someone opened under it « vérifié » (its files then executed)."""
    from models.libeo import Account
    from models.libeo import db as libeo_db
    from tests.security.helpers import libeo_account

    account_id, key = libeo_account(libeo_app, "Transports Victor", VICTIM_SIRET, "escroc@exemple.fr", verified=False)
    association_id = _association(meg_app).id
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, VICTIM_SIRET, name="Transports Victor")
    # Said once, in the « Fiche »'s box, with who may confirm it now.
    assert ("SIRET à confirmer : le répertoire SIRENE de l'INSEE ne confirme un SIRET que par le nom sous lequel "
            "l'entreprise a été ouverte dans MEG, et ce nom a été modifié depuis (même s'il est revenu au premier). "
            "MEG ne se porte donc pas garant de l'entreprise auprès de Libeo tant que l'expert-comptable de "
            "l'entreprise n'a pas confirmé le SIRET.") in page
    assert page.count("ce nom a été modifié depuis") == 1 and page.count("ne se porte") == 1
    assert not _association(meg_app, association_id).siret_trusted
    client.post("/meg/achats/options", data={"api_key": key}, follow_redirects=True)
    with libeo_app.app_context():
        assert not libeo_db.session.get(Account, account_id).is_verified
    with meg_app.app_context():
        messages = list(db.session.scalars(select(MegJournalEntry.message).order_by(MegJournalEntry.id)))
    assert "Nom de l'entreprise modifié : « Association Les Amis du Quartier » → « Transports Victor »." in messages


def test_renaming_first_then_typing_the_siret_does_not_take_it_either(client, demo, meg_auth, meg_app):
    association_id = _association(meg_app).id
    meg_auth.login("president@amis-du-quartier.fr")
    assert "La fiche de l'entreprise est enregistrée." in _save_fiche(client, "", name="Transports Victor")
    assert "ce nom a été modifié depuis" in _save_fiche(client, VICTIM_SIRET, name="Transports Victor")
    assert not _association(meg_app, association_id).siret_trusted
    # Nor does going back to the company's own name give the registry's word back: the name was typed.
    assert "ce nom a été modifié depuis" in _save_fiche(client, ITS_SIRET)
    assert not _association(meg_app).siret_trusted


def test_a_name_the_expert_comptable_gives_is_one_the_registry_confirms_by(client, demo, meg_auth, meg_app):
    association_id = _association(meg_app).id
    meg_auth.login("president@amis-du-quartier.fr")
    _save_fiche(client, "", name="Amis du Quartier (ancien nom)")
    meg_auth.logout()
    meg_auth.login("expert@cabinet-durand.fr")
    client.post("/meg/entreprise", data={"company_id": association_id})
    _save_fiche(client, "")  # the expert-comptable gives the company its name back
    meg_auth.logout()
    meg_auth.login("president@amis-du-quartier.fr")
    assert "SIRET confirmé par le répertoire SIRENE de l'INSEE." in _save_fiche(client, ITS_SIRET)
    assert _association(meg_app).siret_trusted


def test_a_renamed_company_without_an_expert_comptable_is_told_who_confirms_instead(client, demo, meg_auth, meg_app):
    with meg_app.app_context():
        db.session.scalar(select(Company).where(Company.name == ASSOCIATION)).accounting_firm_id = None
        db.session.commit()
    meg_auth.login("president@amis-du-quartier.fr")
    page = _save_fiche(client, ITS_SIRET, name="Les Amis du Quartier")
    assert "tant que le support de MEG n'a pas confirmé le SIRET." in page
    assert "expert-comptable" not in page
