"""Subscription billing: the « Partnerships » plan, 9 € a month, through Stripe.

The catalogue (one product, one monthly plan), the upgrade once the card is
confirmed, the cancellation at the end of the paid period, and the webhook
events that keep an account's plan in step with its subscription.

Stripe is reached through the ``stripe.StripeClient`` the caller passes (see
``models.libeo.stripe_gateway``): Stripe's test mode or localstripe.
Each use case changes the session and leaves the commit to its caller, so that
a webhook event's id is stored in the same transaction as its effect.
"""

from __future__ import annotations

import json
import logging
import re
import time
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TypeGuard

import stripe
from sqlalchemy import BigInteger, DateTime, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.dates import PARIS, utcnow
from models.libeo.accounts.models import Account, Plan
from models.libeo.accounts.services import record_plan_change
from models.libeo.db import Model, db
from models.libeo.errors import Conflict, InvalidData, LibeoError
from models.libeo.journal import STRIPE
from models.libeo.journal import record as journal

log = logging.getLogger(__name__)

PRODUCT_ID = "libeo-partnerships"
PLAN_ID = "libeo-partnerships-monthly"
PLAN_AMOUNT_CENTS = 900
PLAN_CURRENCY = "eur"
PLAN_INTERVAL = "month"
# French VAT on the plan (9 € HT, 10,80 € TTC): one tax rate in Stripe, found by its metadata.
VAT_PERCENT = 20
VAT_METADATA = {"libeo": "tva-20"}

# Stripe keeps serving these (past_due: it is still retrying the card).
SERVING_STATUSES = frozenset({"active", "trialing", "past_due"})
SUBSCRIPTION_EVENTS = frozenset(
    {"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"}
)
SETUP_INTENT_ID = re.compile(r"^seti_[A-Za-z0-9_]{1,200}$")
# Seconds a signature stays acceptable, either way: an older one is a replay,
# one dated ahead was made to last (or by a clock that lies).
WEBHOOK_TOLERANCE = 300
# The last second of year 9999: a later Stripe time is no date at all.
MAX_TIMESTAMP = 253_402_300_799

DECLINED = "Votre carte a été refusée. Votre formule reste « Gratuit » : essayez avec une autre carte."
UNREACHABLE = (
    "Le service de paiement (Stripe) ne répond pas. Rien n'a été débité et votre formule "
    "n'a pas changé : réessayez dans quelques minutes."
)
REFUSED = "Le service de paiement (Stripe) a refusé la demande. Rien n'a été débité : réessayez plus tard."
UNSIGNED_EVENT = "Événement refusé : signature ou contenu invalide."
UNREADABLE_EVENT = "Événement Stripe illisible : rien n'a été appliqué."


class BillingError(LibeoError):
    code = "billing_error"


class BillingUnavailable(BillingError):
    """Stripe cannot be reached or answers with an error of its own."""

    code = "billing_unavailable"


class StripeEvent(Model):
    """A webhook event already applied: its id is stored with its effect, once."""

    __tablename__ = "stripe_event"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StripeSubscription(Model):
    """The newest state Libeo knows of a subscription and the Stripe time of that state.

    Events arrive late, twice or out of order: one older than ``state_at`` is
    stale, and nothing brings back a subscription once it has ``ended``.
    """

    __tablename__ = "stripe_subscription"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    state_at: Mapped[int] = mapped_column(BigInteger)
    ended: Mapped[bool] = mapped_column(default=False)


@contextmanager
def stripe_errors():
    """Stripe's failures as French domain errors; whatever was sent is left to Stripe's idempotency."""
    try:
        yield
    except stripe.CardError as error:
        raise BillingError(DECLINED, code="card_declined") from error
    except stripe.APIConnectionError as error:
        log.warning("Stripe injoignable : %s", error)
        raise BillingUnavailable(UNREACHABLE) from error
    except stripe.StripeError as error:
        log.error("Stripe a refusé une requête : %s (HTTP %s)", error.user_message or error, error.http_status)
        raise BillingUnavailable(REFUSED) from error


def ensure_catalog(client: stripe.StripeClient) -> None:
    """Creates the product and the 9 € monthly plan under fixed ids, unless they exist."""
    with stripe_errors():
        if not _exists(client.v1.products, PRODUCT_ID):
            client.v1.products.create(params={"id": PRODUCT_ID, "name": "Libeo Partnerships"})
        if not _exists(client.v1.plans, PLAN_ID):
            client.v1.plans.create(
                params={
                    "id": PLAN_ID,
                    "product": PRODUCT_ID,
                    "nickname": "Partnerships — 9 € / mois",
                    "amount": PLAN_AMOUNT_CENTS,
                    "currency": PLAN_CURRENCY,
                    "interval": PLAN_INTERVAL,
                }
            )
        vat_rate(client)


def vat_rate(client: stripe.StripeClient) -> str:
    """The id of Stripe's 20 % VAT rate the subscription's invoices carry (created once)."""
    for rate in client.v1.tax_rates.list(params={"limit": 100}).data:
        found = rate.to_dict()
        if found.get("active") and (found.get("metadata") or {}).get("libeo") == VAT_METADATA["libeo"]:
            return found["id"]
    return client.v1.tax_rates.create(params={
        "display_name": "TVA", "percentage": VAT_PERCENT, "inclusive": False, "jurisdiction": "FR",
        "metadata": VAT_METADATA,
    }).id


def _exists(service, object_id: str) -> bool:
    try:
        service.retrieve(object_id)
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            return False
        raise
    return True


def has_subscription(account: Account) -> bool:
    return bool(account.stripe_subscription_id) and account.subscription_status in SERVING_STATUSES


def start_card_setup(account: Account, client: stripe.StripeClient, email: str | None = None) -> str:
    """A SetupIntent for the account's Stripe customer; returns the secret Stripe.js confirms."""
    account = _locked(account)
    if has_subscription(account):
        raise Conflict("Votre compte a déjà l'abonnement Partnerships.")
    with stripe_errors():
        customer_id = account.stripe_customer_id
        if not customer_id:
            metadata = {"libeo_account_id": str(account.id)}
            if account.siret is not None:  # Stripe leaves out a value None
                metadata["siret"] = account.siret
            params: stripe.params.CustomerCreateParams = {"name": account.name, "metadata": metadata}
            if email:
                params["email"] = email
            customer = client.v1.customers.create(params=params)
            customer_id = account.stripe_customer_id = customer.id
        setup: stripe.params.SetupIntentCreateParams = {  # type: ignore[typeddict-unknown-key]
            # Sent as before: the stripe library's types now name it allowed_payment_method_types.
            "customer": customer_id, "usage": "off_session", "payment_method_types": ["card"]}
        intent = client.v1.setup_intents.create(params=setup)
    if intent.client_secret is None:  # Stripe gives a new SetupIntent its secret
        raise BillingUnavailable(REFUSED)
    return intent.client_secret


def subscribe(account: Account, setup_intent_id: str, client: stripe.StripeClient) -> None:
    """Makes the confirmed card the default one and subscribes to Partnerships.

    The account is on Partnerships as soon as Stripe answers that the
    subscription is active; the webhook confirming it later changes nothing.
    """
    account = _locked(account)
    if has_subscription(account):
        raise Conflict("Votre compte a déjà l'abonnement Partnerships.")
    if not SETUP_INTENT_ID.match(setup_intent_id or "") or not account.stripe_customer_id:
        raise InvalidData("Saisissez votre carte bancaire, puis validez.", "setup_intent")
    customer = account.stripe_customer_id
    with stripe_errors():
        intent = _retrieve_setup_intent(client, setup_intent_id)
        if intent is None or intent.customer != customer:
            raise InvalidData("Cette carte n'a pas été enregistrée pour votre compte : saisissez-la à nouveau.",
                              "setup_intent")
        if intent.status != "succeeded":
            raise BillingError(DECLINED, code="card_declined")
        payment_method = client.v1.payment_methods.retrieve(intent.payment_method)
        if payment_method.customer != customer:
            client.v1.payment_methods.attach(payment_method.id, params={"customer": customer})
        client.v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": payment_method.id}})
        subscription = client.v1.subscriptions.create(
            params={
                "customer": customer,
                "items": [{"plan": PLAN_ID}],
                "default_tax_rates": [vat_rate(client)],
                "payment_behavior": "error_if_incomplete",
                "metadata": {"libeo_account_id": str(account.id)},
            },
            # The same confirmed card never starts two subscriptions.
            options={"idempotency_key": f"libeo-subscribe-{setup_intent_id}"},
        ).to_dict()
        if subscription["status"] not in SERVING_STATUSES:
            client.v1.subscriptions.cancel(subscription["id"])
            raise BillingError(DECLINED, code="card_declined")
    _record_state(account, subscription, subscription["created"])


def _retrieve_setup_intent(client: stripe.StripeClient, setup_intent_id: str):
    try:
        return client.v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as error:
        if error.http_status == 404:
            return None
        raise


def cancel(account: Account, client: stripe.StripeClient, actor: str | None = None) -> None:
    """Stops the renewal: the plan stays until the end of the paid period. In the « Journal »."""
    _set_cancel_at_period_end(account, client, True)
    ends_on = period_end_date(account)
    journal(account.id, "plan.cancel_requested", "Résiliation de Partnerships demandée : l'abonnement prend fin "
            + (f"le {ends_on:%d/%m/%Y}." if ends_on else "à la fin de la période payée."), actor)


def resume(account: Account, client: stripe.StripeClient, actor: str | None = None) -> None:
    """Undoes a cancellation before the period ends. In the « Journal »."""
    _set_cancel_at_period_end(account, client, False)
    journal(account.id, "plan.resumed", "Résiliation de Partnerships annulée : l'abonnement continue.", actor)


def _set_cancel_at_period_end(account: Account, client: stripe.StripeClient, value: bool) -> None:
    account = _locked(account)
    subscription_id = account.stripe_subscription_id
    if not has_subscription(account) or subscription_id is None:
        raise Conflict("Votre compte n'a pas d'abonnement Partnerships en cours.")
    with stripe_errors():
        subscription = client.v1.subscriptions.update(
            subscription_id, params={"cancel_at_period_end": value}
        ).to_dict()
    # Stripe gives no time of change here: ours stands in for it, so events
    # produced before this change are stale, those produced after it are not.
    _record_state(account, subscription, int(time.time()))


def verified_event(payload: bytes, signature: str, secret: str) -> object:
    """The JSON Stripe signed with ``secret`` less than WEBHOOK_TOLERANCE seconds from now.

    Raises InvalidData for a missing, wrong or badly dated signature, and for
    a body that is not JSON (not UTF-8, nested beyond the parser's depth…).
    Stripe's own check lets a timestamp from the future through: not this one.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE)
        if _signed_at(signature) > time.time() + WEBHOOK_TOLERANCE:
            raise InvalidData(UNSIGNED_EVENT)
        return json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError, RecursionError) as error:
        raise InvalidData(UNSIGNED_EVENT) from error


def _signed_at(signature: str) -> int:
    """The ``t=`` of a Stripe-Signature header that verify_header accepted."""
    return int(next(value for key, _, value in (item.partition("=") for item in signature.split(",")) if key == "t"))


def apply_event(event: object) -> None:
    """Applies a verified Stripe event to the account it concerns.

    The event's id is written first, in the same transaction as the effect:
    a second delivery of the event fails on its unique key (IntegrityError,
    see :func:`already_applied`) and changes nothing. An event older than the
    state already known, or about a subscription that has ended, is recorded
    and changes nothing either. One of another shape than Stripe's is
    refused (InvalidData) before anything is written.
    """
    event_id, event_type, created, subscription = _read_event(event)
    if subscription is None:
        return
    customer = subscription["customer"]
    # Written before anything is read: SQLite then queues concurrent deliveries instead of failing them.
    db.session.add(StripeEvent(id=event_id, type=event_type, created=created))
    db.session.flush()
    account = db.session.execute(
        select(Account).where(Account.stripe_customer_id == customer).with_for_update()
    ).scalar_one_or_none()
    if account is None:
        return
    if event_type == "customer.subscription.deleted":
        _record_end(account, subscription, created)
    else:
        _record_state(account, subscription, created)


def event_id(event: object) -> str:
    """The id of an event ``apply_event`` read (InvalidData for one of another shape)."""
    return _read_event(event)[0]


def already_applied(event_id: str) -> bool:
    return db.session.get(StripeEvent, event_id) is not None


def _record_state(account: Account, subscription: dict, state_at: int) -> None:
    record = db.session.get(StripeSubscription, subscription["id"])
    if record is not None and (record.ended or state_at < record.state_at):
        return
    if record is None:
        record = StripeSubscription(id=subscription["id"], account_id=account.id, status="", state_at=state_at)
        db.session.add(record)
    record.status = subscription["status"]
    record.state_at = state_at
    current = account.stripe_subscription_id
    if current not in (None, record.id) and account.subscription_status in SERVING_STATUSES:
        return  # another subscription serves this account; this one is only tracked
    if current != record.id and record.status not in SERVING_STATUSES:
        return
    account.stripe_subscription_id = record.id
    account.subscription_status = record.status
    account.cancel_at_period_end = bool(subscription.get("cancel_at_period_end"))
    account.current_period_end = _period_end(subscription)
    record_plan_change(account, Plan.PARTNERSHIPS if record.status in SERVING_STATUSES else Plan.GRATUIT, STRIPE)


def _record_end(account: Account, subscription: dict, state_at: int) -> None:
    record = db.session.get(StripeSubscription, subscription["id"])
    if record is None:
        record = StripeSubscription(id=subscription["id"], account_id=account.id, status="", state_at=state_at)
        db.session.add(record)
    record.status = "canceled"
    record.state_at = max(record.state_at, state_at)
    record.ended = True
    if account.stripe_subscription_id == record.id:
        account.stripe_subscription_id = None
        account.subscription_status = "canceled"
        account.cancel_at_period_end = False
        account.current_period_end = None
        record_plan_change(account, Plan.GRATUIT, STRIPE)


def _read_event(event: object) -> tuple[str, str, int, dict | None]:
    """(id, type, created, the subscription or None): the fields Libeo reads, of the types it stores.

    Signed does not mean well formed (a bug or a test tool at Stripe, a leaked
    secret): anything else is refused whole.
    """
    if not isinstance(event, dict):
        raise InvalidData(UNREADABLE_EVENT)
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not (_is_text(event_id, 255) and _is_text(event_type, 100) and _is_timestamp(created)):
        raise InvalidData(UNREADABLE_EVENT)
    if event_type not in SUBSCRIPTION_EVENTS:
        return event_id, event_type, created, None
    data = event.get("data")
    subscription = data.get("object") if isinstance(data, dict) else None
    if not _is_subscription(subscription):
        raise InvalidData(UNREADABLE_EVENT)
    return event_id, event_type, created, subscription


def _is_subscription(value: object) -> TypeGuard[dict]:
    if not isinstance(value, dict):
        return False
    items = value.get("items")
    listed = items.get("data") if isinstance(items, dict) else None
    return (
        _is_text(value.get("id"), 255)
        and _is_text(value.get("customer"), 255)
        and _is_text(value.get("status"), 32)
        and isinstance(value.get("cancel_at_period_end"), (bool, type(None)))
        and (items is None or isinstance(items, dict))
        and (listed is None or (isinstance(listed, list) and all(isinstance(item, dict) for item in listed)))
        and _is_timestamp_or_none(_period_end_of(value))
    )


def _is_text(value: object, max_length: int) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= max_length


def _is_timestamp_or_none(value: object) -> bool:
    return value is None or _is_timestamp(value)


def _is_timestamp(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIMESTAMP


def _period_end_of(subscription: dict) -> object:
    """Recent API versions carry the period on the subscription's item, older ones on the subscription."""
    end = subscription.get("current_period_end")
    items = (subscription.get("items") or {}).get("data") or []
    if end is None and items:
        end = items[0].get("current_period_end")
    return end


def _period_end(subscription: dict) -> datetime | None:
    end = _period_end_of(subscription)
    return datetime.fromtimestamp(end, UTC) if end and _is_timestamp(end) else None


def period_end_date(account: Account) -> date | None:
    """The last day of the paid period, in Paris."""
    end = account.current_period_end
    if end is None:
        return None
    if end.tzinfo is None:  # SQLite gives back naive UTC datetimes
        end = end.replace(tzinfo=UTC)
    return end.astimezone(PARIS).date()


def _locked(account: Account) -> Account:
    """The account row, locked until commit: one billing change at a time per account."""
    return db.session.execute(
        select(Account).where(Account.id == account.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()
