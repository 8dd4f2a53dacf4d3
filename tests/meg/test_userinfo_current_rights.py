"""OpenID Connect ``userinfo`` reads the person's rights when it is called, not when they consented.

An access token lives an hour. A company's claims (id, name, SIRET, whether MEG trusts it, the person's role)
are told only while the person still reaches the company the token was granted for, as ``PUT /api/v1/libeo-key``
reads the rights again at each call.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from models.meg import AchatsRole, Company, ModuleRole, User, db
from tests.meg.conftest import access_token_for, bearer

EXPERT = "expert@cabinet-durand.fr"
COMPANY_CLAIMS = {"company_id", "company_name", "company_siret", "company_achats_admin", "company_siret_trusted"}


def _company(name: str) -> Company:
    return db.session.scalar(select(Company).where(Company.name == name))


def test_userinfo_tells_nothing_of_a_company_the_person_no_longer_reaches(client, demo, meg_auth, meg_app):
    """The expert-comptable consented for Garage Leroy; then the company left the firm."""
    token = access_token_for(client, meg_app, meg_auth, EXPERT, company="Garage Leroy SAS")
    before = client.get("/meg/oauth/userinfo", headers=bearer(token))
    assert before.status_code == 200 and before.json["company_name"] == "Garage Leroy SAS"

    with meg_app.app_context():
        _company("Garage Leroy SAS").accounting_firm_id = None
        db.session.commit()
    assert client.put("/meg/api/v1/libeo-key", json={"api_key": "x"}, headers=bearer(token)).status_code == 403

    after = client.get("/meg/oauth/userinfo", headers=bearer(token))

    assert after.status_code == 200
    assert set(after.json) & COMPANY_CLAIMS == set()
    assert after.json == {key: value for key, value in before.json.items() if key not in COMPANY_CLAIMS}


def test_nor_of_a_company_where_the_persons_role_was_removed(client, demo, meg_auth, meg_app):
    token = access_token_for(client, meg_app, meg_auth, "gerant@garage-leroy.fr", company="Garage Leroy SAS")
    assert client.get("/meg/oauth/userinfo", headers=bearer(token)).json["company_achats_admin"] is True

    with meg_app.app_context():
        gerant = db.session.scalar(select(User.id).where(User.email == "gerant@garage-leroy.fr"))
        db.session.execute(delete(ModuleRole).where(ModuleRole.user_id == gerant))
        db.session.commit()
    info = client.get("/meg/oauth/userinfo", headers=bearer(token)).json

    assert info["email"] == "gerant@garage-leroy.fr"  # who they are is still theirs to tell
    assert set(info) & COMPANY_CLAIMS == set()


def test_a_company_still_reached_is_told_with_the_role_of_now(client, demo, meg_auth, meg_app):
    """Still reached: the company is the token's, and the role the one the person has at this call."""
    token = access_token_for(client, meg_app, meg_auth, "gerant@garage-leroy.fr", company="Garage Leroy SAS")

    with meg_app.app_context():
        garage = _company("Garage Leroy SAS")
        role = db.session.scalar(select(ModuleRole).join(User).where(User.email == "gerant@garage-leroy.fr",
                                                                      ModuleRole.company_id == garage.id))
        role.role = AchatsRole.USER
        garage_id = garage.id
        db.session.commit()
    info = client.get("/meg/oauth/userinfo", headers=bearer(token)).json

    assert (info["company_id"], info["company_name"]) == (garage_id, "Garage Leroy SAS")
    assert info["company_achats_admin"] is False
