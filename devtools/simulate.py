"""`aftersales simulate`: the built-in carrier's side of a parcel, for a development stack.

`scan TRACKING_NUMBER STATUS` sends one carrier event signed with the stack's
AFTERSALES_CARRIER_SECRET, exactly as the carrier does (`POST /v1/carrier-events` with
`X-Carrier-Signature`). `advance CASE_ID` finds the case's parcel still on its way and moves
it one step (collected → in transit → delivered), then waits until the case has taken it."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import httpx

from devtools.place import Place
from domain.common import CarrierStatus
from domain.signatures import sign

# The step after each parcel status; a delivered or voided parcel goes nowhere.
NEXT_STEP = {
    "label_created": CarrierStatus.IN_TRANSIT,
    "picked_up": CarrierStatus.IN_TRANSIT,
    "in_transit": CarrierStatus.DELIVERED,
    "out_for_delivery": CarrierStatus.DELIVERED,
    "exception": CarrierStatus.IN_TRANSIT,
}
WAIT_SECONDS = 30.0


class NoParcel(str):
    """Why a case has no parcel to move (yet, perhaps)."""


def scan(
    place: Place,
    tracking_number: str,
    status: str,
    event_id: str | None = None,
    location: str = "Sorting centre",
) -> httpx.Response:
    """One signed carrier event; the API's answer."""
    body = {
        "event_id": event_id or f"sim-{uuid.uuid4().hex}",
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "location": location,
    }
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Carrier-Signature": sign(place.carrier_secret(), raw, int(time.time())),
    }
    return httpx.post(f"{place.url}/v1/carrier-events", content=raw, headers=headers, timeout=30)


def scan_command(place: Place, tracking_number: str, status: str, event_id: str | None) -> int:
    answer = scan(place, tracking_number, status, event_id)
    if answer.is_success:
        print(f"{tracking_number}: {status} (the carrier's event was accepted)")
        return 0
    print(f"aftersales: the API refused the scan: {answer.status_code} {_detail(answer)}")
    return 1


def advance_command(place: Place, case_id: str) -> int:
    found = asyncio.run(_parcel_on_its_way(place, case_id))
    deadline = time.monotonic() + WAIT_SECONDS
    while isinstance(found, NoParcel) and time.monotonic() < deadline:
        # A label is booked a moment after the step that calls for it.
        time.sleep(0.3)
        found = asyncio.run(_parcel_on_its_way(place, case_id))
    if isinstance(found, str):
        print(f"aftersales: {found}")
        return 1
    tracking_number, parcel_status, direction, case_status, entries = found
    step = NEXT_STEP[parcel_status]
    answer = scan(place, tracking_number, step.value)
    if not answer.is_success:
        print(f"aftersales: the API refused the scan: {answer.status_code} {_detail(answer)}")
        return 1
    status = asyncio.run(_taken(place, case_id, entries)) or case_status
    print(f"{case_id}: {direction} parcel {tracking_number} {step.value}; the case is {status}")
    return 0


async def _parcel_on_its_way(place: Place, case_id: str) -> tuple[str, str, str, str, int] | str:
    """(tracking number, its status, direction, the case's status, its timeline length) of
    the case's newest parcel still on its way, or why there is none."""
    from sqlalchemy import func, select

    from db import models
    from db.session import make_engine, make_sessionmaker

    engine = make_engine(place.database_url())
    try:
        async with make_sessionmaker(engine)() as session:
            case = await session.get(models.Case, case_id)
            if case is None:
                return f"no case {case_id!r} in {place.database_url()}"
            parcels = list(
                await session.scalars(
                    select(models.Shipment)
                    .where(models.Shipment.case_id == case_id)
                    .order_by(models.Shipment.created_at.desc(), models.Shipment.id.desc())
                )
            )
            entries = await session.scalar(
                select(func.count())
                .select_from(models.TimelineEvent)
                .where(models.TimelineEvent.case_id == case_id)
            )
    finally:
        await engine.dispose()
    moving = [p for p in parcels if p.status in NEXT_STEP]
    if not moving:
        return NoParcel(f"{case_id} ({case.status}) has no parcel on its way")
    parcel = moving[0]
    return parcel.tracking_number, parcel.status, parcel.direction, case.status, entries or 0


async def _taken(place: Place, case_id: str, entries_before: int) -> str | None:
    """The case's status once its timeline has recorded the scan (the workflow takes carrier
    events as signals, a moment after the API accepted them); None if it has not in time."""
    from sqlalchemy import func, select

    from db import models
    from db.session import make_engine, make_sessionmaker

    engine = make_engine(place.database_url())
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            async with make_sessionmaker(engine)() as session:
                entries = await session.scalar(
                    select(func.count())
                    .select_from(models.TimelineEvent)
                    .where(models.TimelineEvent.case_id == case_id)
                )
                if (entries or 0) > entries_before:
                    return await session.scalar(
                        select(models.Case.status).where(models.Case.id == case_id)
                    )
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    return None


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200]
    return f"{body.get('code', '')}: {body.get('detail', '')}"
