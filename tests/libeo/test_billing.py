"""« Abonnement »: Partnerships through Stripe, against a real localstripe on loopback.

The card step is what Stripe.js does in the page (confirm the SetupIntent
with the publishable key); everything else goes through Libeo's own code.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from html import unescape
from zoneinfo import ZoneInfo

import pytest
import requests
import stripe
from sqlalchemy import func, select
from werkzeug.serving import make_server

from models.libeo import db
from models.libeo.accounts.models import Account, Plan
from models.libeo.accounts.services import create_account
from models.libeo.billing import subscriptions as billing
from models.libeo.billing.stripe_gateway import stripe_client
from models.libeo.billing.subscriptions import StripeEvent, StripeSubscription
from models.libeo.payments.quota import PaymentQuota
from tests.conftest import _empty_databases, build_apps, free_port

WEBHOOK_SECRET = "whsec_test_libeo_billing"
SIRET = "83451234500002"
EMAIL = "claire@boulangerie-martin.fr"
PASSWORD = "mot-de-passe-solide-42"
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"  # refused when the card is set up
CHARGE_DECLINED_CARD = "4000000000000341"  # set up fine, refused at the first payment


@pytest.fixture
def apps(tmp_path, worker_id_safe, localstripe):
    """The conftest's apps, with Libeo's Stripe pointed at a fresh localstripe."""
    localstripe.reset()
    built = build_apps(
        tmp_path,
        worker_id_safe,
        libeo={"LOCALSTRIPE_URL": localstripe.url, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET},
    )
    _empty_databases(built)
    with built.libeo.app_context():
        billing.ensure_catalog(stripe_client(built.libeo.config))
    yield built
    _empty_databases(built)


@pytest.fixture
def account_id(libeo_app):
    with libeo_app.app_context():
        account = create_account(name="Boulangerie Martin SARL", siret=SIRET, email=EMAIL, password=PASSWORD)
        db.session.commit()
        return account.id


def confirm_card(localstripe, client_secret: str, number: str) -> requests.Response:
    """What Stripe.js's confirmCardSetup sends (localstripe's version of it)."""
    intent_id = client_secret.split("_secret_")[0]
    return requests.post(
        f"{localstripe.url}/v1/setup_intents/{intent_id}/confirm",
        data=json.dumps(
            {
                "key": "pk_test_localstripe",
                "client_secret": client_secret,
                "payment_method_data": {
                    "type": "card",
                    "card": {"number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"},
                },
            }
        ),
        timeout=5,
    )


def account_state(libeo_app, account_id: int) -> dict:
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        return {
            "plan": account.plan,
            "subscription": account.stripe_subscription_id,
            "status": account.subscription_status,
            "cancel_at_period_end": account.cancel_at_period_end,
            "limit": PaymentQuota.for_account(account).limit,
        }


def setup_card(libeo_app, localstripe, account_id: int, number: str) -> tuple[str, requests.Response]:
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        client_secret = billing.start_card_setup(account, stripe_client(libeo_app.config), email=EMAIL)
        db.session.commit()
    return client_secret.split("_secret_")[0], confirm_card(localstripe, client_secret, number)


def subscribe(libeo_app, account_id: int, setup_intent_id: str) -> None:
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        try:
            billing.subscribe(account, setup_intent_id, stripe_client(libeo_app.config))
        except Exception:
            db.session.rollback()
            raise
        db.session.commit()


@pytest.fixture
def subscribed(libeo_app, localstripe, account_id) -> str:
    """The account on Partnerships with card 4242; returns the subscription id."""
    intent_id, confirmation = setup_card(libeo_app, localstripe, account_id, GOOD_CARD)
    assert confirmation.status_code == 200
    subscribe(libeo_app, account_id, intent_id)
    return account_state(libeo_app, account_id)["subscription"]


def stripe_subscriptions(libeo_app) -> list[dict]:
    client = stripe_client(libeo_app.config)
    return [s.to_dict() for s in client.v1.subscriptions.list(params={"status": "all"}).data]


# --- catalogue -------------------------------------------------------------


def test_catalog_is_created_once_with_the_9_euro_monthly_plan(libeo_app):
    with libeo_app.app_context():
        client = stripe_client(libeo_app.config)
        billing.ensure_catalog(client)  # a second time: nothing new, no error
        plans = client.v1.plans.list().data
    assert [(p.id, p.amount, p.currency, p.interval) for p in plans] == [
        (billing.PLAN_ID, 900, "eur", "month")
    ]


def test_billing_setup_command_is_idempotent(apps):
    runner = apps.root.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["libeo", "billing-setup"])
        assert result.exit_code == 0, result.output
        assert billing.PLAN_ID in result.output


# --- upgrade ---------------------------------------------------------------


def test_card_4242_upgrades_to_partnerships_at_once(libeo_app, localstripe, account_id):
    assert account_state(libeo_app, account_id)["limit"] == 5
    intent_id, confirmation = setup_card(libeo_app, localstripe, account_id, GOOD_CARD)
    assert confirmation.json()["status"] == "succeeded"

    subscribe(libeo_app, account_id, intent_id)

    state = account_state(libeo_app, account_id)
    assert state["plan"] is Plan.PARTNERSHIPS and state["status"] == "active" and state["limit"] is None
    [subscription] = stripe_subscriptions(libeo_app)
    assert subscription["id"] == state["subscription"] and subscription["status"] == "active"
    assert subscription["plan"]["id"] == billing.PLAN_ID


def test_declined_card_leaves_the_account_on_gratuit(libeo_app, localstripe, account_id):
    intent_id, confirmation = setup_card(libeo_app, localstripe, account_id, DECLINED_CARD)
    assert confirmation.status_code == 402 and confirmation.json()["error"]["code"] == "card_declined"

    # Posting the refused SetupIntent anyway (e.g. a crafted form) changes nothing either.
    with pytest.raises(billing.BillingError) as refused:
        subscribe(libeo_app, account_id, intent_id)

    assert "Votre carte a été refusée" in refused.value.message and "« Gratuit »" in refused.value.message
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT
    assert account_state(libeo_app, account_id)["subscription"] is None
    assert stripe_subscriptions(libeo_app) == []


def test_card_refused_at_first_payment_leaves_no_subscription(libeo_app, localstripe, account_id):
    intent_id, confirmation = setup_card(libeo_app, localstripe, account_id, CHARGE_DECLINED_CARD)
    assert confirmation.status_code == 200

    with pytest.raises(billing.BillingError) as refused:
        subscribe(libeo_app, account_id, intent_id)

    assert "Votre carte a été refusée" in refused.value.message
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT
    assert all(s["status"] not in billing.SERVING_STATUSES for s in stripe_subscriptions(libeo_app))


def test_stripe_unreachable_when_setting_up_the_card(libeo_app, account_id):
    libeo_app.config["LOCALSTRIPE_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        with pytest.raises(billing.BillingUnavailable) as unavailable:
            billing.start_card_setup(account, stripe_client(libeo_app.config))
        db.session.rollback()
    assert "ne répond pas" in unavailable.value.message
    with libeo_app.app_context():
        assert db.session.get(Account, account_id).stripe_customer_id is None


def test_stripe_unreachable_when_subscribing_leaves_no_half_made_state(libeo_app, localstripe, account_id):
    intent_id, _ = setup_card(libeo_app, localstripe, account_id, GOOD_CARD)
    reachable = libeo_app.config["LOCALSTRIPE_URL"]
    libeo_app.config["LOCALSTRIPE_URL"] = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(billing.BillingUnavailable) as unavailable:
        subscribe(libeo_app, account_id, intent_id)

    assert "Rien n'a été débité" in unavailable.value.message
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT
    assert account_state(libeo_app, account_id)["subscription"] is None
    with libeo_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StripeSubscription)) == 0
    libeo_app.config["LOCALSTRIPE_URL"] = reachable
    assert stripe_subscriptions(libeo_app) == []
    # Once Stripe answers again, the same card goes through.
    subscribe(libeo_app, account_id, intent_id)
    assert account_state(libeo_app, account_id)["plan"] is Plan.PARTNERSHIPS


@pytest.mark.parametrize("intent_id", ["", "seti_nope", "../../v1/customers", "seti_" + "x" * 300])
def test_bogus_setup_intent_is_refused(libeo_app, localstripe, account_id, intent_id):
    setup_card(libeo_app, localstripe, account_id, GOOD_CARD)
    with pytest.raises(billing.LibeoError):
        subscribe(libeo_app, account_id, intent_id)
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT


def test_another_accounts_card_cannot_be_used(libeo_app, localstripe, account_id):
    with libeo_app.app_context():
        other = create_account(name="Garage Leroy SAS", siret="85123456700002", email="gerant@garage-leroy.fr",
                               password=PASSWORD)
        db.session.commit()
        other_id = other.id
    other_intent, _ = setup_card(libeo_app, localstripe, other_id, GOOD_CARD)
    setup_card(libeo_app, localstripe, account_id, GOOD_CARD)

    with pytest.raises(billing.LibeoError):
        subscribe(libeo_app, account_id, other_intent)
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT


def test_a_second_subscription_is_refused(libeo_app, localstripe, account_id, subscribed):
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        with pytest.raises(billing.LibeoError, match="déjà"):
            billing.start_card_setup(account, stripe_client(libeo_app.config))
    assert len(stripe_subscriptions(libeo_app)) == 1


# --- cancel ----------------------------------------------------------------


def test_cancel_keeps_partnerships_until_the_period_ends(libeo_app, account_id, subscribed):
    with libeo_app.app_context():
        billing.cancel(db.session.get(Account, account_id), stripe_client(libeo_app.config))
        db.session.commit()

    state = account_state(libeo_app, account_id)
    assert state["plan"] is Plan.PARTNERSHIPS and state["cancel_at_period_end"] is True
    [subscription] = stripe_subscriptions(libeo_app)
    assert subscription["cancel_at_period_end"] is True and subscription["status"] == "active"

    with libeo_app.app_context():
        billing.resume(db.session.get(Account, account_id), stripe_client(libeo_app.config))
        db.session.commit()
    assert account_state(libeo_app, account_id)["cancel_at_period_end"] is False


# --- webhooks --------------------------------------------------------------


def event_for(libeo_app, subscription_id: str, event_type: str, created: int | None = None, **changes) -> dict:
    """An event as Stripe sends it, around the subscription as localstripe has it now."""
    subscription = stripe_client(libeo_app.config).v1.subscriptions.retrieve(subscription_id).to_dict()
    subscription.update(changes)
    return {
        "id": f"evt_{secrets.token_hex(8)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "data": {"object": subscription},
    }


def post_event(client, event: dict | str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, body=None):
    payload = event if isinstance(event, str) else json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return client.post(
        "/libeo/abonnement/webhook",
        data=body if body is not None else payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def applied_events(libeo_app) -> int:
    with libeo_app.app_context():
        return db.session.scalar(select(func.count()).select_from(StripeEvent))


def test_deleted_event_brings_the_account_back_to_gratuit(client, libeo_app, account_id, subscribed):
    response = post_event(client, event_for(libeo_app, subscribed, "customer.subscription.deleted", status="canceled"))

    assert response.status_code == 200
    state = account_state(libeo_app, account_id)
    assert state["plan"] is Plan.GRATUIT and state["limit"] == 5 and state["subscription"] is None


def test_unpaid_status_brings_the_account_back_to_gratuit(client, libeo_app, account_id, subscribed):
    response = post_event(client, event_for(libeo_app, subscribed, "customer.subscription.updated", status="unpaid"))

    assert response.status_code == 200
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT


def test_active_event_makes_partnerships_at_once(client, libeo_app, localstripe, account_id):
    """The upgrade's own answer was lost (e.g. the request timed out): the webhook is enough."""
    with libeo_app.app_context():
        account = db.session.get(Account, account_id)
        client_secret = billing.start_card_setup(account, stripe_client(libeo_app.config))
        db.session.commit()
        customer = account.stripe_customer_id
    confirmation = confirm_card(localstripe, client_secret, GOOD_CARD).json()
    stripe_api = stripe_client(libeo_app.config)
    stripe_api.v1.customers.update(
        customer, params={"invoice_settings": {"default_payment_method": confirmation["payment_method"]}})
    subscription = stripe_api.v1.subscriptions.create(params={"customer": customer,
                                                              "items": [{"plan": billing.PLAN_ID}]})

    response = post_event(client, event_for(libeo_app, subscription.id, "customer.subscription.created"))

    assert response.status_code == 200
    assert account_state(libeo_app, account_id)["plan"] is Plan.PARTNERSHIPS


@pytest.mark.parametrize("attack", ["wrong_secret", "altered_body", "too_old", "no_signature", "not_json"])
def test_forged_or_stale_webhooks_are_refused(client, libeo_app, account_id, subscribed, attack):
    event = event_for(libeo_app, subscribed, "customer.subscription.deleted", status="canceled")
    payload = json.dumps(event)
    if attack == "wrong_secret":
        response = post_event(client, payload, secret="whsec_someone_else")
    elif attack == "altered_body":
        response = post_event(client, payload, body=payload.replace('"canceled"', '"unpaid"'))
    elif attack == "too_old":
        response = post_event(client, payload, timestamp=int(time.time()) - 301)
    elif attack == "no_signature":
        response = client.post("/libeo/abonnement/webhook", data=payload, headers={"Content-Type": "application/json"})
    else:
        response = post_event(client, "{not json")

    assert response.status_code == 400
    assert account_state(libeo_app, account_id)["plan"] is Plan.PARTNERSHIPS
    assert applied_events(libeo_app) == 0


def test_the_same_event_five_times_has_one_effect(client, libeo_app, account_id, subscribed):
    cancelled = event_for(libeo_app, subscribed, "customer.subscription.updated", cancel_at_period_end=True)

    responses = [post_event(client, cancelled) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert applied_events(libeo_app) == 1
    state = account_state(libeo_app, account_id)
    assert state["plan"] is Plan.PARTNERSHIPS and state["cancel_at_period_end"] is True


def test_an_old_update_after_the_deletion_does_not_resurrect(client, libeo_app, account_id, subscribed):
    before = int(time.time()) - 60
    late_update = event_for(libeo_app, subscribed, "customer.subscription.updated", created=before, status="active")
    deleted = event_for(libeo_app, subscribed, "customer.subscription.deleted", status="canceled")

    assert post_event(client, deleted).status_code == 200
    assert post_event(client, late_update).status_code == 200
    # Even an update dated after the deletion cannot bring it back.
    assert post_event(client, event_for(libeo_app, subscribed, "customer.subscription.updated",
                                        status="active")).status_code == 200

    state = account_state(libeo_app, account_id)
    assert state["plan"] is Plan.GRATUIT and state["subscription"] is None


def test_a_late_event_does_not_undo_a_newer_state(client, libeo_app, account_id, subscribed):
    """The creation event arrives after the cancellation made on the page."""
    created_event = event_for(libeo_app, subscribed, "customer.subscription.created", created=int(time.time()) - 30,
                              cancel_at_period_end=False)
    with libeo_app.app_context():
        billing.cancel(db.session.get(Account, account_id), stripe_client(libeo_app.config))
        db.session.commit()

    assert post_event(client, created_event).status_code == 200
    assert account_state(libeo_app, account_id)["cancel_at_period_end"] is True


def test_events_of_unknown_customers_or_other_types_change_nothing(client, libeo_app, account_id, subscribed):
    stranger = event_for(libeo_app, subscribed, "customer.subscription.deleted", customer="cus_someone_else")
    invoice = {"id": "evt_invoice", "object": "event", "type": "invoice.paid", "created": int(time.time()),
               "data": {"object": {"id": "in_1", "object": "invoice"}}}

    assert post_event(client, stranger).status_code == 200
    assert post_event(client, invoice).status_code == 200
    assert account_state(libeo_app, account_id)["plan"] is Plan.PARTNERSHIPS


def test_webhook_needs_no_csrf_token(apps, account_id, subscribed, libeo_app):
    libeo_app.config["WTF_CSRF_ENABLED"] = True
    response = post_event(apps.root.test_client(), event_for(libeo_app, subscribed, "customer.subscription.deleted"))
    assert response.status_code == 200
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT


def test_localstripes_own_deliveries_are_applied(apps, libeo_app, localstripe, account_id, subscribed):
    """localstripe signs and posts the events itself, to a real server: the deletion at period end."""
    server = make_server("127.0.0.1", 0, apps.root, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        localstripe.register_webhook(f"http://127.0.0.1:{server.server_port}/libeo/abonnement/webhook", WEBHOOK_SECRET)
        stripe_client(libeo_app.config).v1.subscriptions.cancel(subscribed)
        deadline = time.monotonic() + 10
        while account_state(libeo_app, account_id)["plan"] is not Plan.GRATUIT and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        # localstripe cannot forget a webhook: this one now listens to no event.
        requests.post(f"{localstripe.url}/_config/webhooks/libeo", timeout=5,
                      json={"url": "http://127.0.0.1:9/", "secret": WEBHOOK_SECRET, "events": []})
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT
    assert applied_events(libeo_app) >= 1


# --- the « Abonnement » page -------------------------------------------------


@pytest.fixture
def signed_in(client, account_id):
    assert client.post("/libeo/connexion", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
    return account_id


def page(client) -> str:
    response = client.get("/libeo/abonnement")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def upgrade_through_the_page(client, localstripe, number: str):
    """billing.js's steps: SetupIntent from Libeo, confirmation by Stripe.js, then the form."""
    setup = client.post("/libeo/abonnement/carte", headers={"Accept": "application/json"})
    assert setup.status_code == 200, setup.get_data(as_text=True)
    client_secret = setup.get_json()["client_secret"]
    confirmation = confirm_card(localstripe, client_secret, number)
    intent_id = client_secret.split("_secret_")[0]
    return confirmation, client.post("/libeo/abonnement/souscrire", data={"setup_intent": intent_id},
                                     follow_redirects=True)


def test_the_page_needs_a_login(client):
    response = client.get("/libeo/abonnement")
    assert response.status_code == 302 and "/libeo/connexion" in response.headers["Location"]


def test_the_page_shows_plan_usage_and_offer_with_localstripes_stripe_js(client, localstripe, signed_in):
    response = client.get("/libeo/abonnement")
    html = response.get_data(as_text=True)

    assert "Formule actuelle : <strong" in html and ">Gratuit</strong>" in html
    assert "0 / 5 paiements ce mois-ci" in html
    assert "Partnerships — 9 € HT / mois (10,80 € TTC), sans engagement" in html
    assert f'<script src="{localstripe.url}/js.stripe.com/v3/"></script>' in html
    assert "<script>" not in html  # configuration goes through data-* attributes
    csp = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {localstripe.url}" in csp and f"connect-src 'self' {localstripe.url}" in csp


def test_partnerships_given_by_support_is_not_offered_again(client, libeo_app, signed_in):
    """`libeo set-plan --plan partnerships` (support), no card: the page says so, and offers no upgrade to it."""
    from models.libeo.accounts.services import set_plan

    with libeo_app.app_context():
        set_plan(SIRET, Plan.PARTNERSHIPS)
        db.session.commit()
    html = " ".join(page(client).split())
    assert ">Partnerships</strong>" in html
    assert "Votre formule Partnerships vous a été attribuée par le support de Libeo" in html
    assert "Passer à Partnerships" not in html and 'id="subscribe-form"' not in html
    assert "js.stripe.com" not in html


def test_real_stripe_keys_switch_the_gateway_and_the_page_to_stripe(tmp_path, worker_id_safe):
    keys = {"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_PUBLISHABLE_KEY": "pk_test_abc",
            "STRIPE_WEBHOOK_SECRET": "whsec_abc"}
    built = build_apps(tmp_path, worker_id_safe, libeo=keys)
    _empty_databases(built)
    from models.libeo.billing.stripe_gateway import (
        publishable_key,
        stripe_js_url,
        webhook_secret,
    )

    client = stripe_client(built.libeo.config)
    assert client._requestor._options.base_addresses["api"] == "https://api.stripe.com"
    assert stripe_js_url(built.libeo.config) == "https://js.stripe.com/v3/"
    assert publishable_key(built.libeo.config) == "pk_test_abc"
    with built.libeo.app_context():
        assert webhook_secret(built.libeo) == "whsec_abc"
    # Stripe.js is allowed on the « Abonnement » pages only (tests/security checks the others).
    csp = built.root.test_client().get("/libeo/abonnement").headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp and "frame-src 'self' https://js.stripe.com" in csp
    _empty_databases(built)


def test_upgrade_through_the_page(client, libeo_app, localstripe, signed_in):
    confirmation, response = upgrade_through_the_page(client, localstripe, GOOD_CARD)

    html = response.get_data(as_text=True)
    assert "Bienvenue dans Partnerships" in html
    assert ">Partnerships</strong>" in html and "0 paiement ce mois-ci — illimité" in html
    assert "Résilier l'abonnement" in html
    assert account_state(libeo_app, signed_in)["plan"] is Plan.PARTNERSHIPS


def test_declined_card_through_the_page(client, libeo_app, localstripe, signed_in):
    confirmation, response = upgrade_through_the_page(client, localstripe, DECLINED_CARD)

    assert confirmation.status_code == 402  # Stripe.js shows billing.js's French message for this
    html = response.get_data(as_text=True)
    assert "Votre carte a été refusée. Votre formule reste « Gratuit »" in html
    assert account_state(libeo_app, signed_in)["plan"] is Plan.GRATUIT


def test_stripe_unreachable_through_the_page(client, libeo_app, signed_in):
    libeo_app.config["LOCALSTRIPE_URL"] = f"http://127.0.0.1:{free_port()}"

    response = client.post("/libeo/abonnement/carte", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert "Le service de paiement (Stripe) ne répond pas" in response.get_json()["error"]
    assert account_state(libeo_app, signed_in)["plan"] is Plan.GRATUIT


def test_cancel_through_the_page_shows_the_end_date(client, libeo_app, localstripe, signed_in):
    upgrade_through_the_page(client, localstripe, GOOD_CARD)
    [subscription] = stripe_subscriptions(libeo_app)
    end = datetime.fromtimestamp(subscription["current_period_end"], ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")

    html = client.post("/libeo/abonnement/resilier", follow_redirects=True).get_data(as_text=True)

    assert f"Votre abonnement Partnerships prend fin le {end}" in html
    assert ">Partnerships</strong>" in html
    assert account_state(libeo_app, signed_in)["limit"] is None

    html = client.post("/libeo/abonnement/reprendre", follow_redirects=True).get_data(as_text=True)
    assert "Résilier l'abonnement" in html and "prend fin le" not in html

    # Both in the « Journal », with who asked: a plan change an administrator made, as Stripe's are.
    page = client.get("/libeo/journal/", query_string={"etat": "compte"}).get_data(as_text=True)
    journal = " ".join(unescape(page).split())
    assert f"Résiliation de Partnerships demandée : l'abonnement prend fin le {end}." in journal
    assert "Résiliation de Partnerships annulée : l'abonnement continue." in journal


def test_forms_and_card_setup_need_the_csrf_token(client, libeo_app, signed_in):
    libeo_app.config["WTF_CSRF_ENABLED"] = True
    for path in ("carte", "souscrire", "resilier", "reprendre"):
        assert client.post(f"/libeo/abonnement/{path}").status_code == 400
    assert account_state(libeo_app, signed_in)["subscription"] is None


def test_the_same_event_delivered_concurrently_has_one_effect(apps, libeo_app, account_id, subscribed):
    deleted = event_for(libeo_app, subscribed, "customer.subscription.deleted", status="canceled")
    barrier = threading.Barrier(8)

    def deliver(_):
        client = apps.root.test_client()
        barrier.wait()
        return post_event(client, deleted).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(deliver, range(8)))

    assert statuses == [200] * 8
    assert applied_events(libeo_app) == 1
    assert account_state(libeo_app, account_id)["plan"] is Plan.GRATUIT


def test_card_setups_are_rate_limited_per_user(tmp_path, worker_id_safe, localstripe):
    built = build_apps(tmp_path, worker_id_safe, libeo={"RATELIMIT_ENABLED": True, "LOCALSTRIPE_URL": localstripe.url})
    _empty_databases(built)
    with built.libeo.app_context():
        create_account(name="Boulangerie Martin SARL", siret=SIRET, email=EMAIL, password=PASSWORD)
        db.session.commit()
    client = built.root.test_client()
    client.post("/libeo/connexion", data={"email": EMAIL, "password": PASSWORD})

    statuses = [client.post("/libeo/abonnement/carte").status_code for _ in range(11)]

    assert statuses == [200] * 10 + [429]
    _empty_databases(built)


def test_with_stripe_keys_but_no_webhook_secret_events_are_refused(tmp_path, worker_id_safe):
    built = build_apps(tmp_path, worker_id_safe, libeo={"STRIPE_SECRET_KEY": "sk_test_abc",
                                                        "STRIPE_PUBLISHABLE_KEY": "pk_test_abc"})
    _empty_databases(built)
    event = {"id": "evt_1", "object": "event", "type": "customer.subscription.deleted", "created": int(time.time()),
             "data": {"object": {"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "canceled"}}}

    response = post_event(built.root.test_client(), event, secret="whsec_guessed")

    assert response.status_code == 400
    assert applied_events(built.libeo) == 0
    _empty_databases(built)


def test_only_the_accounts_own_subscription_invoices_are_served(libeo_app, client, libeo_auth, subscribed, account_id):
    """Its invoice as a PDF (HT, TVA, TTC); an invoice Stripe does not have for it, or a malformed id, is a 404."""
    from models.libeo.billing.invoices import subscription_invoices

    with libeo_app.app_context():
        stripe = stripe_client(libeo_app.config)
        [invoice] = subscription_invoices(db.session.get(Account, account_id), stripe)
        assert (invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents) == (900, 180, 1080)
    libeo_auth.login(EMAIL, PASSWORD)
    mine = client.get(f"/libeo/abonnement/factures/{invoice.id}.pdf")
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    assert client.get("/libeo/abonnement/factures/in_inconnue123.pdf").status_code == 404
    assert client.get("/libeo/abonnement/factures/pas-une-facture.pdf").status_code == 404
