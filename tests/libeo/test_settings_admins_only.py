"""« Configuration »: who may give access to the account's money is its administrators only.

A user of the account who is not an administrator sees who has access (users, the expert-comptable, MEG's
key) but may neither invite a user, give or take the expert-comptable's access (who may then pay from MEG),
nor create, regenerate or revoke MEG's API key: each such request is refused with the French 403 page and
changes nothing, and the pages offer no button that would lead there.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.libeo import Account, LibeoUser, db
from models.libeo.accounts.models import ApiKey
from tests.helpers import shown, text

from .test_safeguards import admin  # noqa: F401
from .test_separation_of_duties import add_user, signed_in

MEMBER = "claire@boulangerie-martin.fr"
ADMINS_ONLY = "Cette page est réservée aux administrateurs du compte Libeo."


def _state(libeo_app, account_id: int) -> tuple:
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        keys = db.session.execute(select(ApiKey.id, ApiKey.revoked_at).where(ApiKey.account_id == account_id)
                                  .order_by(ApiKey.id)).all()
        users = db.session.scalar(select(func.count()).select_from(LibeoUser).where(LibeoUser.account_id == account_id))
        return account.accountant_email, [tuple(key) for key in keys], users


@pytest.mark.parametrize("path, data", [
    ("/libeo/configuration/utilisateurs", {"email": "nouveau@boulangerie-martin.fr"}),
    ("/libeo/configuration/expert-comptable/retirer", {}),
    ("/libeo/configuration/integrations/meg", {}),
    ("/libeo/configuration/integrations/meg/revoquer", {}),
])
def test_a_user_who_is_not_an_administrator_cannot_change_who_has_access(admin, apps, libeo_app, path,  # noqa: F811
                                                                          data):
    member = signed_in(apps, add_user(libeo_app, admin.id, MEMBER, is_admin=False))
    before = _state(libeo_app, admin.id)
    refused = member.post(path, data=data)
    assert refused.status_code == 403
    assert ADMINS_ONLY in text(refused)
    assert _state(libeo_app, admin.id) == before


def test_nor_give_the_expert_comptable_access(admin, apps, libeo_app, client):  # noqa: F811
    client.post("/libeo/configuration/expert-comptable/retirer")  # the administrator takes it back first
    assert _state(libeo_app, admin.id)[0] is None
    member = signed_in(apps, add_user(libeo_app, admin.id, MEMBER, is_admin=False))
    refused = member.post("/libeo/configuration/expert-comptable", data={"email": "autre@cabinet.fr"})
    assert refused.status_code == 403 and ADMINS_ONLY in text(refused)
    assert _state(libeo_app, admin.id)[0] is None
    page = text(member.get("/libeo/configuration/expert-comptable"))
    assert "Seuls les administrateurs du compte peuvent le lui donner." in page and "Ajouter" not in page


def test_the_pages_show_who_has_access_without_the_buttons_an_administrator_has(admin, apps, libeo_app,  # noqa: F811
                                                                               client):
    assert client.post("/libeo/configuration/integrations/meg").status_code == 200  # MEG's key, by the administrator
    member = signed_in(apps, add_user(libeo_app, admin.id, MEMBER, is_admin=False))

    users = text(member.get("/libeo/configuration/utilisateurs"))
    assert MEMBER in users and admin.email in users
    assert "Seuls les administrateurs du compte peuvent inviter un utilisateur." in users and "Inviter</" not in users
    accountant = shown(member.get("/libeo/configuration/expert-comptable"))
    assert "expert@cabinet-durand.fr a accès à votre compte." in accountant
    assert "Retirer l'accès" not in accountant and "peuvent retirer cet accès" in accountant
    integrations = text(member.get("/libeo/configuration/integrations"))
    assert "Dernière utilisation" in integrations  # the key, as it is
    assert "Régénérer" not in integrations and "Révoquer" not in integrations
    assert "Seuls les administrateurs du compte peuvent régénérer ou révoquer cette clé." in integrations

    # The administrator still has every button.
    mine = text(client.get("/libeo/configuration/integrations"))
    assert "Régénérer" in mine and "Révoquer" in mine and "Seuls les administrateurs" not in mine
