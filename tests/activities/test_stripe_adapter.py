"""The Stripe gateway against the local Stripe (tests/stubs/stripe.py), through the real SDK:
what each movement asks Stripe for, what a retry does, how a decline and a 3-D Secure card
read, and how an event is verified."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import stripe

from activities.gateways import DECLINED, SUCCEEDED, EventSubject, GatewayCall, InvalidEvent
from activities.gateways.stripe import StripeEvents, StripeGateway, minor_units
from domain.contracts.payments import REQUIRES_ACTION, PaymentKind
from tests.stubs.stripe import StripeStub, sign

RETURN_URL = "http://127.0.0.1:8000/track/tok"


@pytest.fixture
def stub() -> Iterator[StripeStub]:
    server = StripeStub().start()
    try:
        yield server
    finally:
        server.stop()


def gateway(stub: StripeStub, key: str | None = None) -> StripeGateway:
    return StripeGateway(key or stub.secret_key, api_base=stub.base_url)


def call(
    kind: PaymentKind,
    method: str = "pm_card_visa",
    amount: str = "49.90",
    key: str = "plan:P-1/charge-1/1",
    original: str = "",
) -> GatewayCall:
    return GatewayCall(
        idempotency_key=key,
        kind=kind,
        amount=Decimal(amount),
        currency="EUR",
        payment_method=method,
        attempt=1,
        original_reference=original,
        return_url=RETURN_URL,
        org_id="org-1",
        case_id="P-1",
        ledger_key=key.rsplit("/", 1)[0],
    )


def test_minor_units() -> None:
    assert minor_units(Decimal("49.90"), "EUR") == 4990
    assert minor_units(Decimal("0.015"), "usd") == 2
    assert minor_units(Decimal("1200"), "JPY") == 1200


async def test_a_charge_is_a_payment_intent_confirmed_off_session(stub: StripeStub) -> None:
    answer = await gateway(stub).execute(call(PaymentKind.CHARGE))
    assert answer.status == SUCCEEDED
    (intent,) = stub.created()
    assert answer.reference == intent["id"]
    assert (intent["amount"], intent["currency"], intent["status"]) == (4990, "eur", "succeeded")
    assert intent["metadata"] == {
        "aftersales_org": "org-1",
        "aftersales_case": "P-1",
        "aftersales_payment": "plan:P-1/charge-1",
        "aftersales_attempt": "1",
    }
    create = next(p for m, path, p in stub.requests if path == "/v1/payment_intents")
    assert create["off_session"] == "true" and create["confirm"] == "true"
    assert create["capture_method"] == "automatic"


async def test_a_retried_call_gets_the_first_answer_back(stub: StripeStub) -> None:
    # The PaymentIntent is made and its answer lost: the retry (same key) finds it made.
    stub.fail_next("create", 500, after=True)
    with pytest.raises(stripe.APIError):
        await gateway(stub).execute(call(PaymentKind.CHARGE))
    answer = await gateway(stub).execute(call(PaymentKind.CHARGE))
    assert answer.status == SUCCEEDED
    assert [pi["id"] for pi in stub.created()] == [answer.reference]


async def test_a_5xx_or_network_failure_raises_for_the_activity_to_retry(
    stub: StripeStub,
) -> None:
    stub.fail_next("create", 503)
    with pytest.raises(stripe.APIError):
        await gateway(stub).execute(call(PaymentKind.CHARGE))
    assert stub.created() == []
    unreachable = StripeGateway(stub.secret_key, api_base="http://127.0.0.1:9")
    with pytest.raises(stripe.APIConnectionError):
        await unreachable.execute(call(PaymentKind.CHARGE))


async def test_a_wrong_secret_key_raises_rather_than_declines(stub: StripeStub) -> None:
    # The retailer fixes their key and the retry goes through: nothing to decline.
    with pytest.raises(stripe.AuthenticationError):
        await gateway(stub, key="sk_test_wrong").execute(call(PaymentKind.CHARGE))


async def test_a_declined_card_is_a_decline_with_the_banks_words(stub: StripeStub) -> None:
    answer = await gateway(stub).execute(call(PaymentKind.CHARGE, "pm_card_chargeDeclined"))
    assert answer.status == DECLINED
    (intent,) = stub.created()
    assert answer.reference == intent["id"]
    assert "declined" in answer.message and "generic_decline" in answer.message
    unknown = await gateway(stub).execute(call(PaymentKind.CHARGE, "card_nonsense", key="k2"))
    assert unknown.status == DECLINED and "No such PaymentMethod" in unknown.message


async def test_a_hold_is_captured_or_cancelled_against_its_payment_intent(
    stub: StripeStub,
) -> None:
    stripe_gateway = gateway(stub)
    hold = await stripe_gateway.execute(call(PaymentKind.HOLD, key="R-1/hold-1/1"))
    assert hold.status == SUCCEEDED
    assert stub.intents[hold.reference]["status"] == "requires_capture"
    assert stub.intents[hold.reference]["capture_method"] == "manual"
    renewed = await stripe_gateway.execute(call(PaymentKind.HOLD, key="R-1/hold-2/1"))
    released = await stripe_gateway.execute(
        call(PaymentKind.RELEASE, key="R-1/hold-1/release/1", original=hold.reference)
    )
    assert (released.status, released.reference) == (SUCCEEDED, hold.reference)
    assert stub.intents[hold.reference]["status"] == "canceled"
    # Cancelled already (a retry after a lost answer with a new key): still released.
    again = await stripe_gateway.execute(
        call(PaymentKind.RELEASE, key="R-1/hold-1/release/2", original=hold.reference)
    )
    assert again.status == SUCCEEDED
    captured = await stripe_gateway.execute(
        call(PaymentKind.CAPTURE, key="R-1/hold-2/capture/1", original=renewed.reference)
    )
    assert (captured.status, captured.reference) == (SUCCEEDED, renewed.reference)
    assert stub.intents[renewed.reference]["amount_received"] == 4990


async def test_a_refund_goes_back_to_the_original_payment_intent(stub: StripeStub) -> None:
    stripe_gateway = gateway(stub)
    charge = await stripe_gateway.execute(call(PaymentKind.CHARGE))
    refund = await stripe_gateway.execute(
        call(PaymentKind.REFUND, amount="20.00", key="P-1/refund/1", original=charge.reference)
    )
    assert refund.status == SUCCEEDED and refund.reference.startswith("re_")
    assert stub.refunds[refund.reference]["payment_intent"] == charge.reference
    assert stub.refunds[refund.reference]["amount"] == 2000
    too_much = await stripe_gateway.execute(
        call(PaymentKind.REFUND, amount="40.00", key="P-1/refund2/1", original=charge.reference)
    )
    assert too_much.status == DECLINED and "greater than" in too_much.message
    nothing = await stripe_gateway.execute(call(PaymentKind.REFUND, key="P-1/refund3/1"))
    assert nothing.status == DECLINED and "no Stripe payment" in nothing.message
    # An order paid outside any case: the refund's payment method names its PaymentIntent.
    order = await stripe_gateway.execute(call(PaymentKind.CHARGE, key="shop/order-1/1"))
    back = await stripe_gateway.execute(
        call(PaymentKind.REFUND, method=order.reference, amount="49.90", key="R-9/refund/1")
    )
    assert back.status == SUCCEEDED
    assert stub.refunds[back.reference]["payment_intent"] == order.reference


async def test_a_card_that_wants_3d_secure_asks_the_customer(stub: StripeStub) -> None:
    answer = await gateway(stub).execute(
        call(PaymentKind.HOLD, "pm_card_authenticationRequired", key="R-2/hold-1/1")
    )
    assert answer.status == REQUIRES_ACTION
    intent = stub.intents[answer.reference]
    assert intent["status"] == "requires_action"
    assert answer.action_url == f"{stub.base_url}/authenticate/{answer.reference}"
    confirm = next(p for m, path, p in stub.requests if path.endswith("/confirm"))
    assert confirm["return_url"] == RETURN_URL
    # The same attempt again (a lost answer) asks nothing new of Stripe.
    again = await gateway(stub).execute(
        call(PaymentKind.HOLD, "pm_card_authenticationRequired", key="R-2/hold-1/1")
    )
    assert (again.status, again.reference) == (REQUIRES_ACTION, answer.reference)
    assert len(stub.created()) == 1


def test_an_event_is_verified_with_the_sdk() -> None:
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "pi_1",
                "object": "payment_intent",
                "metadata": {"aftersales_payment": "R-2/hold-1", "aftersales_attempt": "2"},
                "last_payment_error": {"message": "The provided PaymentMethod has failed."},
            }
        },
    }
    body = json.dumps(event).encode()
    events = StripeEvents()
    assert events.subject(body) == EventSubject("pi_1", "R-2/hold-1", 2)
    read = events.read(body, {"stripe-signature": sign("whsec_a", body)}, "whsec_a")
    assert (read.event_id, read.reference, read.settled) == ("evt_1", "pi_1", DECLINED)
    assert read.message == "The provided PaymentMethod has failed."
    for header in (
        sign("whsec_other", body),
        sign("whsec_a", body, at=int(time.time()) - 3600),
        "",
    ):
        with pytest.raises(InvalidEvent) as refused:
            events.read(body, {"stripe-signature": header}, "whsec_a")
        assert refused.value.signature
    with pytest.raises(InvalidEvent) as malformed:
        events.read(b"not json", {"stripe-signature": sign("whsec_a", b"not json")}, "whsec_a")
    assert not malformed.value.signature
    assert events.subject(b"not json") is None
    charge = {"data": {"object": {"id": "ch_1", "object": "charge"}}}
    assert events.subject(json.dumps(charge).encode()) is None
