"""POST /v1/carrier-events: signed scans from the carrier, routed to the owning workflow."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import Problem, not_found
from api.schemas.common import NO_CONTROL, Moment, Strict, column_bound
from db import models
from db.carrier_events import already_recorded, live_shipment, record_scan
from domain.common import CARRIER_EVENT_SIGNAL, CarrierEvent, CarrierStatus
from domain.signatures import verify

router = APIRouter(prefix="/v1/carrier-events", tags=["carrier"])


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


@router.post(
    "",
    response_model=CarrierEventAccepted,
    summary="A carrier scan, signed with X-Carrier-Signature",
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
    # Signal first, record after: if we crash in between, the carrier's retry signals again
    # and the workflow drops the copy by event id. The reverse order could lose the scan.
    handle = client.get_workflow_handle(shipment.workflow_id)
    try:
        await handle.signal(CARRIER_EVENT_SIGNAL, scan)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        # The case has ended; the scan still updates the shipment below.
    recorded = await record_scan(session, shipment, scan)
    return CarrierEventAccepted(event_id=event.event_id, duplicate=not recorded)
