"""« Abonnement »: the plan the company pays for is changed by the account's administrators only.

Subscribing to Partnerships (9 € HT a month), cancelling it (back to 5 payments a month, MEG's « Payer » refused
beyond) and resuming it are the company's decisions, journaled for its administrators. A user of the account who
is not one sees the plan and its usage, without the buttons, and is told who may change it; each request is
refused with the French 403 page, and nothing changes, at Stripe nor in Libeo. Against localstripe, as
``test_billing.py``.
"""

from __future__ import annotations

import pytest

from models.libeo import db
from models.libeo.accounts.models import Account, Plan
from tests.factories import libeo_user
from tests.helpers import shown, text

from .test_billing import (  # noqa: F401
    GOOD_CARD,
    PASSWORD,
    account_id,
    account_state,
    apps,
    page,
    setup_card,
    signed_in,
    stripe_subscriptions,
    subscribed,
)

MEMBER = "stagiaire@boulangerie-martin.fr"
ADMINS_ONLY = "Cette page est réservée aux administrateurs du compte Libeo."


@pytest.fixture
def member(apps, libeo_app, account_id):  # noqa: F811
    """A user of the account who is not an administrator (the plans allow one user: made here directly),
    signed in in their own browser."""
    with libeo_app.app_context():
        libeo_user(account_id, MEMBER, is_admin=False, password=PASSWORD)
        db.session.commit()
    browser = apps.root.test_client()
    assert browser.post("/libeo/connexion", data={"email": MEMBER, "password": PASSWORD}).status_code == 302
    return browser


def stripe_state(libeo_app, account_id: int) -> tuple:  # noqa: F811
    """What Libeo records of the company's plan, and what Stripe has."""
    with libeo_app.app_context():
        customer = db.session.get(Account, account_id).stripe_customer_id
    subscriptions = [(s["id"], s["status"], s["cancel_at_period_end"]) for s in stripe_subscriptions(libeo_app)]
    return account_state(libeo_app, account_id), customer, subscriptions


def refused(response) -> bool:
    return response.status_code == 403 and ADMINS_ONLY in text(response)


def test_a_user_who_is_not_an_administrator_cannot_cancel_the_subscription(libeo_app, account_id,  # noqa: F811
                                                                            subscribed, member):
    before = stripe_state(libeo_app, account_id)
    assert before[0]["plan"] is Plan.PARTNERSHIPS and before[0]["cancel_at_period_end"] is False

    assert refused(member.post("/libeo/abonnement/resilier"))
    assert refused(member.get("/libeo/abonnement/resilier"))  # nor the page that asks « Oui, résilier »

    assert stripe_state(libeo_app, account_id) == before


def test_nor_resume_it(libeo_app, account_id, subscribed, signed_in, client, member):  # noqa: F811
    """The administrator cancelled it: the company goes back to « Gratuit » at the period's end, as decided."""
    assert client.post("/libeo/abonnement/resilier").status_code == 302
    before = stripe_state(libeo_app, account_id)
    assert before[0]["cancel_at_period_end"] is True

    assert refused(member.post("/libeo/abonnement/reprendre"))

    assert stripe_state(libeo_app, account_id) == before


def test_nor_subscribe_the_company_to_partnerships(libeo_app, localstripe, account_id, member):  # noqa: F811
    """Neither the card step billing.js asks for nor « souscrire », even with a card the account set up."""
    before = stripe_state(libeo_app, account_id)

    assert refused(member.post("/libeo/abonnement/carte", headers={"Accept": "application/json"}))
    assert stripe_state(libeo_app, account_id) == before  # no Stripe customer made for it either

    intent_id, confirmation = setup_card(libeo_app, localstripe, account_id, GOOD_CARD)  # a card, set up apart
    assert confirmation.status_code == 200
    before = stripe_state(libeo_app, account_id)
    assert refused(member.post("/libeo/abonnement/souscrire", data={"setup_intent": intent_id}))

    after = stripe_state(libeo_app, account_id)
    assert after == before and after[0]["plan"] is Plan.GRATUIT and after[2] == []


def test_the_page_shows_the_plan_without_the_buttons(member):
    """On « Gratuit »: the plan and its usage, no card form nor Stripe.js, and who may subscribe."""
    response = member.get("/libeo/abonnement")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    words = shown(response)
    assert "Formule actuelle : Gratuit" in words and "0 / 5 paiements ce mois-ci" in words
    assert "Seuls les administrateurs du compte peuvent passer à Partnerships." in words
    assert "Passer à Partnerships" not in words.replace("peuvent passer à Partnerships", "")
    assert 'id="subscribe-form"' not in html and "js.stripe.com" not in html


def test_nor_the_buttons_of_a_subscription(libeo_app, account_id, subscribed, signed_in, client,  # noqa: F811
                                           member):
    words = shown(member.get("/libeo/abonnement"))
    assert "Formule actuelle : Partnerships" in words and "Actif" in words
    assert "Seuls les administrateurs du compte peuvent résilier l'abonnement." in words
    assert "Résilier l'abonnement" not in words.replace("peuvent résilier l'abonnement", "")
    assert "Résilier l'abonnement" in page(client)  # the administrator still has it

    client.post("/libeo/abonnement/resilier")
    words = shown(member.get("/libeo/abonnement"))
    assert "Votre abonnement Partnerships prend fin le" in words
    assert "Seuls les administrateurs du compte peuvent reprendre l'abonnement." in words
    assert "Reprendre l'abonnement" not in words.replace("peuvent reprendre l'abonnement", "")
    assert "Reprendre l'abonnement" in page(client)
