"""Stripe's webhook with signed JSON made up by Hypothesis.

Signed with the right secret, so every body reaches the code that reads it:
events shaped like Stripe's with any field replaced by any JSON value (or
left out), and any JSON document at all. The answer is 200 (applied, or
ignored as not concerning Libeo) or 400 with a French message; after a 400
nothing has changed.
"""

from __future__ import annotations

import json
import time

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, event, given, settings

from .helpers import (
    WEBHOOK_SECRET,
    billing_state,
    french_message,
    libeo_account,
    stripe_headers,
    subscribed_account,
)

EXAMPLES = settings(max_examples=400, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NOW = int(time.time())

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30)),
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.text(max_size=10), children, max_size=3)),
    max_leaves=8,
)


def field(valid):
    """A field of a Stripe event: mostly its valid value, now and then any JSON value."""
    return st.one_of(valid, valid, valid, json_values)


def some_left_out(shape: dict):
    """A dictionary of these fields, now and then without one or two of them."""
    def leave_out(document: dict):
        gone = st.sets(st.sampled_from(sorted(document)), min_size=1, max_size=2)
        return st.one_of(st.just(document), gone.map(lambda keys: {k: v for k, v in document.items() if k not in keys}))

    return st.fixed_dictionaries(shape).flatmap(leave_out)


period_ends = st.integers(min_value=0, max_value=NOW + 10**8)
subscriptions = some_left_out({
    "id": field(st.sampled_from(["sub_1", "sub_2", "sub_" + "x" * 300])),
    "object": field(st.just("subscription")),
    "customer": field(st.sampled_from(["cus_1", "cus_inconnu"])),
    "status": field(st.sampled_from(["active", "trialing", "past_due", "canceled", "unpaid", "incomplete"])),
    "cancel_at_period_end": field(st.booleans()),
    "current_period_end": field(st.one_of(st.none(), period_ends)),
    "items": field(st.fixed_dictionaries({
        "data": field(st.lists(some_left_out({"current_period_end": field(period_ends)}), max_size=2)),
    })),
})
events = some_left_out({
    "id": field(st.text(alphabet="abcdef0123456789", min_size=1, max_size=12).map(lambda s: f"evt_{s}")),
    "object": field(st.just("event")),
    "type": field(st.sampled_from(["customer.subscription.created", "customer.subscription.updated",
                                   "customer.subscription.deleted", "invoice.paid"])),
    "created": field(st.integers(min_value=NOW - 10**6, max_value=NOW + 10**6)),
    "data": field(some_left_out({"object": field(subscriptions)})),
})


@pytest.fixture(scope="module")
def stripe_world(make_module_apps):
    """Libeo with one account on Partnerships (customer cus_1, subscription sub_1)."""
    apps = make_module_apps(libeo={"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "LOCALSTRIPE_URL": "http://127.0.0.1:9"})
    libeo_account(apps.libeo, "Boulangerie Martin SARL", "83451234500002", "claire@boulangerie-martin.fr", key=False)
    return apps, subscribed_account(apps.libeo)


def deliver(apps, document) -> object:
    payload = json.dumps(document)
    return apps.root.test_client().post("/libeo/abonnement/webhook", data=payload, headers=stripe_headers(payload))


def check(apps, account_id, document) -> None:
    before = billing_state(apps.libeo, account_id)
    response = deliver(apps, document)
    event(f"{response.status_code}")
    assert response.status_code in (200, 400), (document, response.status_code)
    if response.status_code == 400:
        assert french_message(response), response.get_data(as_text=True)
        assert billing_state(apps.libeo, account_id) == before, document


@EXAMPLES
@given(document=events)
def test_signed_events_of_any_shape_are_applied_or_refused_whole(stripe_world, document):
    check(*stripe_world, document)


@EXAMPLES
@given(document=json_values)
def test_any_signed_json_is_applied_or_refused_whole(stripe_world, document):
    check(*stripe_world, document)
