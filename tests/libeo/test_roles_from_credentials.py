"""The approval rules follow who Libeo knows is paying, never the role a request declares.

Reproduced: the accountant's own e-mail with ``"role": "user"`` scheduled the
payment the account's rule holds for the expert-comptable.
"""

from __future__ import annotations

from .test_safeguards import admin, held, pay, scheduled  # noqa: F401

ACCOUNTANT = "expert@cabinet-durand.fr"  # the account's expert-comptable in ``admin``


def test_the_accountant_declared_as_a_user_is_still_held(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email=ACCOUNTANT))
    assert payment["hold_reasons"] == ["approval_rule"]
    assert f"Paiement initié par l'expert-comptable ({ACCOUNTANT})" in payment["hold_details"][0]
    assert payment["initiated_by"] == {"email": ACCOUNTANT, "role": "accountant"}


def test_the_accountant_written_otherwise_is_still_the_accountant(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email="  Expert@Cabinet-Durand.FR "))
    assert payment["initiated_by"]["role"] == "accountant"


def test_a_user_is_not_made_an_accountant(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = scheduled(pay(admin.api, "meg-1", n=1, role="user", email="compta@entreprise.fr"))
    assert payment["initiated_by"] == {"email": "compta@entreprise.fr", "role": "user"}


def test_the_payments_page_says_who_libeo_knows(admin, client):  # noqa: F811
    client.post("/libeo/configuration/approbations", data={"threshold": "", "accountant_payments": "y"})
    payment = held(pay(admin.api, "meg-1", n=1, role="user", email=ACCOUNTANT))
    page = client.get(f"/libeo/paiements/{payment['id']}").get_data(as_text=True)
    assert "expert-comptable" in page
