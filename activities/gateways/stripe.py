"""Stripe behind the gateway interface, through the official SDK's async client.

- A charge or deductible is a PaymentIntent created and confirmed off-session with the
  customer's payment method; a hold the same with `capture_method=manual`, captured or
  cancelled later; a refund is a Refund of the original PaymentIntent.
- Every request carries a Stripe idempotency key derived from ours (ledger key and
  attempt), so a retried activity gets Stripe's first answer back instead of a new payment.
- A card that insists on authentication (Stripe answers `authentication_required` to an
  off-session confirmation) is confirmed again on-session with the case's tracking page as
  `return_url`: the PaymentIntent is then `requires_action` and its `redirect_to_url` is
  where the customer authenticates. Stripe's `payment_intent.succeeded` or
  `payment_intent.payment_failed` event settles it (`read_event`).
- Card errors and refused requests are declines (a business answer the case acts on);
  network errors, Stripe's 5xx, rate limits and a rejected API key raise, and the
  activity retries them with backoff (a retailer who fixes their key is picked up).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe

from activities.gateways import (
    DECLINED,
    SUCCEEDED,
    EventSubject,
    GatewayAnswer,
    GatewayCall,
    GatewayEvent,
    InvalidEvent,
)
from domain.contracts.payments import PaymentKind

STRIPE = "stripe"

# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
# Currencies Stripe counts in thousandths (https://docs.stripe.com/currencies#three-decimal).
_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Well under the activity's 10 s: a second request (the on-session confirmation) fits.
_TIMEOUT_SECONDS = 4.0
# The events that settle a payment; every other event type is acknowledged and ignored.
SUCCEEDED_EVENT = "payment_intent.succeeded"
FAILED_EVENT = "payment_intent.payment_failed"


def minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in the currency's smallest unit, as Stripe counts it: 1234 JPY is 1234,
    12.34 USD is 1234, 1.500 KWD is 1500."""
    code = currency.upper()
    exponent = 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2
    return int(amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class StripeGateway:
    name = STRIPE

    def __init__(self, secret_key: str, api_base: str | None = None) -> None:
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.HTTPXClient(timeout=_TIMEOUT_SECONDS),
            # The activity retries with the same idempotency key, with its own backoff.
            max_network_retries=0,
        )

    async def execute(self, call: GatewayCall) -> GatewayAnswer:
        try:
            if call.kind in (PaymentKind.CHARGE, PaymentKind.DEDUCTIBLE):
                return await self._pay(call, capture_method="automatic")
            if call.kind is PaymentKind.HOLD:
                return await self._pay(call, capture_method="manual")
            if call.kind is PaymentKind.REFUND and not call.original_reference:
                # A refund's payment method names the payment it goes back to: an RMA's
                # order paid through Stripe outside any case (its `payment_reference`).
                call = replace(call, original_reference=_payment_intent_in(call.payment_method))
            if not call.original_reference:
                # Stripe settles holds and gives money back only against a PaymentIntent of
                # its own: a case with none (money taken elsewhere) cannot be refunded here.
                return GatewayAnswer.declined("", f"no Stripe payment to {call.kind} against")
            if call.kind is PaymentKind.CAPTURE:
                return await self._capture(call)
            if call.kind is PaymentKind.RELEASE:
                return await self._release(call)
            return await self._refund(call)
        except stripe.CardError as error:
            return _declined(error, call.original_reference)
        except stripe.InvalidRequestError as error:
            # A payment method that does not exist, an amount beyond what is left to refund:
            # nothing a retry changes; the retailer or customer must.
            return _declined(error, call.original_reference)

    async def _pay(self, call: GatewayCall, capture_method: str) -> GatewayAnswer:
        params: dict[str, Any] = {
            "amount": minor_units(call.amount, call.currency),
            "currency": call.currency.lower(),
            "payment_method": call.payment_method,
            "capture_method": capture_method,
            "confirm": True,
            "off_session": True,
            "metadata": _metadata(call),
        }
        customer = await self._customer_of(call.payment_method)
        if customer:
            params["customer"] = customer
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": call.idempotency_key},
            )
        except stripe.CardError as error:
            refused = error.error.payment_intent if error.error else None
            if error.code != "authentication_required" or refused is None or not call.return_url:
                raise
            # The bank wants the customer: confirm on-session, with a way back to the case.
            intent = await self.client.v1.payment_intents.confirm_async(
                refused.id,
                {"payment_method": call.payment_method, "return_url": call.return_url},
                options={"idempotency_key": call.idempotency_key + "/on-session"},
            )
        return _answer(intent)

    async def _customer_of(self, payment_method: str) -> str:
        """The customer a saved payment method belongs to: Stripe refuses such a method
        without its customer."""
        method = await self.client.v1.payment_methods.retrieve_async(payment_method)
        customer = method.customer
        if customer is None or isinstance(customer, str):
            return customer or ""
        return customer.id

    async def _capture(self, call: GatewayCall) -> GatewayAnswer:
        intent = await self.client.v1.payment_intents.capture_async(
            call.original_reference,
            {"amount_to_capture": minor_units(call.amount, call.currency)},
            options={"idempotency_key": call.idempotency_key},
        )
        return _answer(intent)

    async def _release(self, call: GatewayCall) -> GatewayAnswer:
        try:
            intent = await self.client.v1.payment_intents.cancel_async(
                call.original_reference, options={"idempotency_key": call.idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            # Cancelled already (by us earlier, or Stripe when the authorization lapsed):
            # released either way.
            if error.code != "payment_intent_unexpected_state":
                raise
            intent = await self.client.v1.payment_intents.retrieve_async(call.original_reference)
            if intent.status != "canceled":
                raise
        return GatewayAnswer.approved(intent.id)

    async def _refund(self, call: GatewayCall) -> GatewayAnswer:
        refund = await self.client.v1.refunds.create_async(
            {
                "payment_intent": call.original_reference,
                "amount": minor_units(call.amount, call.currency),
                "metadata": _metadata(call),
            },
            options={"idempotency_key": call.idempotency_key},
        )
        if refund.status in ("failed", "canceled"):
            return GatewayAnswer.declined(refund.id, f"refund {refund.status}")
        return GatewayAnswer.approved(refund.id)


def _payment_intent_in(payment_method: str) -> str:
    return payment_method if payment_method.startswith("pi_") else ""


def _metadata(call: GatewayCall) -> dict[str, str]:
    # Lets the retailer find the case from their Stripe dashboard, and the events route
    # find the ledger entry (and attempt) of a PaymentIntent whose answer is not stored yet.
    return {
        "aftersales_org": call.org_id,
        "aftersales_case": call.case_id,
        "aftersales_payment": call.ledger_key,
        "aftersales_attempt": str(call.attempt),
    }


def _answer(intent: stripe.PaymentIntent) -> GatewayAnswer:
    status = intent.status
    if status in ("succeeded", "requires_capture", "processing"):
        # `processing` (rare for cards) ends in an event like any other; the ledger keeps
        # the PaymentIntent, and a `payment_failed` event reaches the case then.
        return GatewayAnswer.approved(intent.id)
    if status == "requires_action":
        url = _action_url(intent)
        if url:
            return GatewayAnswer.needs_customer(intent.id, url)
    error = intent.last_payment_error
    message = (error.message if error else None) or f"payment {status}"
    return GatewayAnswer.declined(intent.id, message)


def _action_url(intent: stripe.PaymentIntent) -> str:
    action = intent.next_action
    redirect = action.redirect_to_url if action is not None else None
    return (redirect.url if redirect is not None else None) or ""


def _declined(error: stripe.StripeError, original: str) -> GatewayAnswer:
    details = error.error
    intent = details.payment_intent if details is not None else None
    reference = str(intent.id) if intent is not None else original
    words = [
        str(w)
        for w in (
            (details.message if details else None) or error.user_message,
            details.decline_code if details else None,
        )
        if w
    ]
    return GatewayAnswer.declined(reference, " / ".join(words) or "declined by Stripe")


class StripeEvents:
    """Stripe's webhook events (`POST /v1/payment-events/stripe`): snapshot events about
    PaymentIntents, signed in `Stripe-Signature` with the endpoint's secret (`whsec_...`)."""

    def subject(self, body: bytes) -> EventSubject | None:
        try:
            obj = json.loads(body)["data"]["object"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(obj, dict) or obj.get("object") != "payment_intent":
            return None
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        attempt = str(metadata.get("aftersales_attempt", ""))
        return EventSubject(
            reference=str(obj.get("id") or ""),
            ledger_key=str(metadata.get("aftersales_payment", "")),
            attempt=int(attempt) if attempt.isdecimal() else 0,
        )

    def read(self, body: bytes, headers: Mapping[str, str], secret: str) -> GatewayEvent:
        """The event, verified with the SDK's signature check (five minutes' tolerance)."""
        try:
            event = stripe.Webhook.construct_event(
                body, headers.get("stripe-signature") or "", secret
            )
        except stripe.SignatureVerificationError as error:
            raise InvalidEvent("missing, stale or wrong Stripe-Signature", True) from error
        except ValueError as error:
            raise InvalidEvent("the body is not a Stripe event", False) from error
        obj: dict[str, Any] = event.data.object.to_dict()
        message = ""
        if event.type == SUCCEEDED_EVENT:
            settled = SUCCEEDED
        elif event.type == FAILED_EVENT:
            settled = DECLINED
            failure = obj.get("last_payment_error") or {}
            message = str(failure.get("message") or "authentication failed")
        else:
            settled = ""
        return GatewayEvent(event.id, event.type, str(obj.get("id") or ""), settled, message)
