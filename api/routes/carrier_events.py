"""POST /v1/carrier-events: signed scans from the built-in carrier; POST
/v1/carrier-events/<provider>: a real carrier's tracking webhook (activities/carriers/). Both
reach the owning workflow the same way (`_deliver`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.carriers.webhooks import TRACKING_WEBHOOKS
from api.deps import AsyncSession, SecretBoxDep, SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found
from api.openapi import SIGNED
from api.schemas.common import NO_CONTROL, Moment, Strict, column_bound
from db import models
from db.carrier_events import (
    ScannedShipment,
    already_recorded,
    live_shipment,
    record_scan,
    shipment_of,
)
from db.integrations import carrier_webhook_secret
from db.secret_box import SecretBox
from domain.common import CARRIER_EVENT_SIGNAL, CarrierEvent, CarrierStatus
from domain.signatures import verify

router = APIRouter(prefix="/v1/carrier-events", tags=["carrier"], responses=SIGNED)


_RECORD = models.CarrierEventRecord


class CarrierEventIn(Strict):
    event_id: Annotated[str, column_bound(_RECORD.event_id, min_length=1), NO_CONTROL]
    tracking_number: Annotated[str, column_bound(_RECORD.tracking_number, min_length=1), NO_CONTROL]
    status: CarrierStatus
    occurred_at: Moment
    location: Annotated[str, column_bound(_RECORD.location, strip=True), NO_CONTROL] = ""


class CarrierEventAccepted(BaseModel):
    event_id: str
    duplicate: bool


def _inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its definitions (the status enum) written in place: a
    body declared through `openapi_extra` cannot add to the document's components."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


# The route reads the raw body (the signature covers its exact bytes), so FastAPI does not
# see a body parameter: the document declares it here.
_SIGNED_SCAN_BODY = {
    "requestBody": {
        "required": True,
        "description": "The scan, as signed: X-Carrier-Signature covers these exact bytes.",
        "content": {"application/json": {"schema": _inline_schema(CarrierEventIn)}},
    }
}


@router.post(
    "",
    response_model=CarrierEventAccepted,
    summary="A carrier scan, signed with X-Carrier-Signature",
    openapi_extra=_SIGNED_SCAN_BODY,
)
async def carrier_event(
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    signature: Annotated[str | None, Header(alias="X-Carrier-Signature")] = None,
) -> CarrierEventAccepted:
    raw = await request.body()
    if not verify(settings.required_carrier_secret, raw, signature, time.time()):
        raise Problem(401, "invalid_signature", "missing, stale or wrong X-Carrier-Signature")
    try:
        event = CarrierEventIn.model_validate_json(raw)
    except ValidationError as exc:
        raise Problem(
            422,
            "validation_error",
            "the event is not valid",
            errors=[
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
            ],
        ) from exc

    if await already_recorded(session, event.event_id):
        return CarrierEventAccepted(event_id=event.event_id, duplicate=True)
    shipment = await live_shipment(session, event.tracking_number)
    if shipment is None:
        raise not_found("tracking number")

    scan = CarrierEvent(
        event_id=event.event_id,
        tracking_number=event.tracking_number,
        status=event.status,
        occurred_at=event.occurred_at,
        location=event.location,
    )
    recorded = await _deliver(session, client, shipment, scan)
    return CarrierEventAccepted(event_id=event.event_id, duplicate=not recorded)


class ProviderEventAccepted(BaseModel):
    event_id: str
    duplicate: bool
    ignored: bool = Field(
        False,
        description="true for an event that moves no case (a status such as pre_transit, "
        "a parcel we did not book or voided, an event about no parcel)",
    )


async def provider_event(
    provider: str,
    request: Request,
    session: AsyncSession,
    client: Client,
    box: SecretBox,
) -> ProviderEventAccepted:
    """Which retailer's webhook secret must have signed the event is found from the parcel
    it names (its tracking code, a shipment we booked for one organisation): one URL for
    every retailer, nothing to configure per retailer at the provider but the secret."""
    webhook = TRACKING_WEBHOOKS[provider]
    raw = await request.body()
    update = webhook.read(raw)
    shipment = None if update is None else await shipment_of(session, update.tracking_number)
    if update is None or shipment is None:
        # Not about a parcel of ours (the retailer's account ships other things too):
        # acknowledged, so the provider does not retry it, and nothing read from it is used.
        return ProviderEventAccepted(event_id="", duplicate=False, ignored=True)
    secret = await carrier_webhook_secret(session, box, shipment.org_id, provider)
    if secret is None or not webhook.verify(raw, request.headers, secret):
        raise Problem(401, "invalid_signature", f"missing or wrong {provider} webhook signature")
    if await already_recorded(session, update.event_id):
        return ProviderEventAccepted(event_id=update.event_id, duplicate=True)
    if update.scan is None or shipment.status == "voided":
        return ProviderEventAccepted(event_id=update.event_id, duplicate=False, ignored=True)
    recorded = await _deliver(session, client, shipment, update.scan)
    return ProviderEventAccepted(event_id=update.event_id, duplicate=not recorded)


def _provider_route(
    provider: str,
) -> Callable[[Request, AsyncSession, Client, SecretBox], Awaitable[ProviderEventAccepted]]:
    async def route(
        request: Request, session: SessionDep, client: TemporalDep, box: SecretBoxDep
    ) -> ProviderEventAccepted:
        return await provider_event(provider, request, session, client, box)

    return route


# One route per provider with a tracking webhook (POST /v1/carrier-events/easypost): the
# URL to register at the provider, as api.md names it.
for _provider in TRACKING_WEBHOOKS:
    router.add_api_route(
        f"/{_provider}",
        _provider_route(_provider),
        methods=["POST"],
        response_model=ProviderEventAccepted,
        summary=f"{_provider}'s tracking webhook, signed with the retailer's webhook secret",
        name=f"carrier_event_{_provider}",
    )


async def _deliver(
    session: AsyncSession, client: Client, shipment: ScannedShipment, scan: CarrierEvent
) -> bool:
    """Signal the scan to the parcel's case, then record it (False: recorded meanwhile).
    Signal first, record after: if we crash in between, the carrier's retry signals again
    and the workflow drops the copy by event id. The reverse order could lose the scan."""
    handle = client.get_workflow_handle(shipment.workflow_id)
    try:
        await handle.signal(CARRIER_EVENT_SIGNAL, scan)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        # The case has ended; the scan still updates the shipment below.
    return await record_scan(session, shipment, scan)
