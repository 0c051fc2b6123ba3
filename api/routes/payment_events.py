"""POST /v1/payment-events/<provider>: a payment gateway's webhook events (Stripe's at
`/v1/payment-events/stripe`), verified with the retailer's webhook secret, acted on once,
and told to the workflow whose payment waits for its customer.

One endpoint serves every retailer: the event names its PaymentIntent, the ledger entry
with that reference names the retailer, and only that retailer's webhook secret verifies
it. An event about a payment that is not in the ledger (the retailer's own shop uses the
same Stripe account) is acknowledged and ignored, so the provider does not retry it;
nothing is read from it beyond the id it is about."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from temporalio.service import RPCError, RPCStatusCode

from activities.gateways import InvalidEvent
from activities.gateways.events import READERS
from api.deps import SecretBoxDep, SessionDep, TemporalDep
from api.errors import Problem
from api.openapi import SIGNED
from db.payment_events import accept_payment_event, payment_of_event, payments_webhook_secret
from domain.contracts.payments import PAYMENT_EVENT_SIGNAL, PaymentEvent

router = APIRouter(prefix="/v1/payment-events", tags=["payments"], responses=SIGNED)


class PaymentEventAccepted(BaseModel):
    event_id: str | None
    # `settled`: a payment awaiting its customer is settled and its case told; `recorded`:
    # verified, nothing waited on it; `duplicate`: seen before; `ignored`: not ours.
    outcome: Literal["settled", "recorded", "duplicate", "ignored"]


async def accept_event(
    provider: str,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    box: SecretBoxDep,
) -> PaymentEventAccepted:
    reader = READERS[provider]
    raw = await request.body()
    subject = reader.subject(raw)
    payment = (
        None
        if subject is None
        else await payment_of_event(session, subject.reference, subject.ledger_key)
    )
    if subject is None or payment is None:
        return PaymentEventAccepted(event_id=None, outcome="ignored")
    secret = await payments_webhook_secret(session, box, payment.org_id, provider)
    if not secret:
        raise Problem(401, "invalid_signature", f"no {provider} webhook secret for this payment")
    try:
        event = reader.read(raw, request.headers, secret)
    except InvalidEvent as exc:
        if exc.signature:
            raise Problem(401, "invalid_signature", str(exc)) from exc
        raise Problem(400, "malformed_json", str(exc)) from exc
    if event.reference != subject.reference:
        raise Problem(400, "malformed_json", "the event names no single payment")
    accepted = await accept_payment_event(
        session,
        event_id=event.event_id,
        provider=provider,
        event_type=event.type,
        payment=payment,
        reference=event.reference,
        settled=event.settled,
        message=event.message,
        attempt=subject.attempt,
    )
    if accepted.duplicate:
        return PaymentEventAccepted(event_id=event.event_id, outcome="duplicate")
    if accepted.workflow_id is not None:
        # Told before the commit: if telling fails, the event stays unrecorded and the
        # gateway's retry tells again; a second telling is dropped by the workflow (the
        # first word on a payment stands).
        signal = PaymentEvent(event.reference, event.settled == "succeeded", event.message)
        try:
            await client.get_workflow_handle(accepted.workflow_id).signal(
                PAYMENT_EVENT_SIGNAL, signal
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
            # The case has ended; the ledger still keeps the gateway's word.
    await session.commit()
    outcome = "settled" if accepted.workflow_id is not None else "recorded"
    return PaymentEventAccepted(event_id=event.event_id, outcome=outcome)


def _route_for(provider: str) -> Callable[..., Awaitable[PaymentEventAccepted]]:
    async def payment_event(
        request: Request, session: SessionDep, client: TemporalDep, box: SecretBoxDep
    ) -> PaymentEventAccepted:
        return await accept_event(provider, request, session, client, box)

    return payment_event


# One path per gateway with events (`/v1/payment-events/stripe`), so the OpenAPI names the
# URL to register with each; a gateway's reader in READERS is all a new one needs.
for _provider in READERS:
    router.add_api_route(
        f"/{_provider}",
        _route_for(_provider),
        methods=["POST"],
        response_model=PaymentEventAccepted,
        summary=f"{_provider.capitalize()}'s events, verified with its signature",
        name=f"payment_event_{_provider}",
    )
