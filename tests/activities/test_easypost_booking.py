"""The carrier activities with the EasyPost adapter, against the local EasyPost and a
migrated database: the parcel as the case's products make it, the label kept in the
document store, a refusal that is not retried, a retried step that books nothing, a void
that refunds."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.carrier import CarrierActivities
from activities.carriers.easypost import EasyPostCarrier
from cli import migrate
from db import models
from db.document_store import LocalDocumentStore
from db.session import make_engine, make_sessionmaker
from domain.common import Address, Direction
from domain.contracts.carrier import CARRIER_REFUSED, BookShipment, VoidShipment
from tests.stubs.easypost import EasyPostStub

CUSTOMER = Address("12 Analytical Row", "London", "N1", "GB", name="Ada Lovelace")
WAREHOUSE = Address("1 Dock Road", "Leeds", "LS1", "GB", name="Acme Returns")


@pytest.fixture
def stub() -> Iterator[EasyPostStub]:
    server = EasyPostStub().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/booking.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def a_case(
    sessions: async_sessionmaker[AsyncSession], *items: tuple[int | None, str | None, int]
) -> tuple[str, str]:
    """An org and a case of units (weight in grams, size `LxWxH` in cm, quantity)."""
    async with sessions.begin() as session:
        org = models.Organisation(name=f"shop-{uuid.uuid4().hex[:6]}", kind="retailer")
        session.add(org)
        await session.flush()
        case_id = f"RMA-{uuid.uuid4().hex[:8]}"
        session.add(
            models.Case(
                id=case_id,
                org_id=org.id,
                case_type="rma",
                workflow_id=f"rma-{case_id}",
                status="awaiting_return",
                tracking_token=uuid.uuid4().hex,
            )
        )
        for n, (grams, size, quantity) in enumerate(items):
            sides = [Decimal(s) for s in size.split("x")] if size else [None, None, None]
            session.add(
                models.Product(
                    org_id=org.id,
                    sku=f"SKU-{n}",
                    name="Speaker",
                    category="audio",
                    unit_price=Decimal("10.00"),
                    warranty_months=12,
                    weight_grams=grams,
                    length_cm=sides[0],
                    width_cm=sides[1],
                    height_cm=sides[2],
                )
            )
            session.add(
                models.CaseItem(
                    case_id=case_id,
                    sku=f"SKU-{n}",
                    serial=f"SN-{n}",
                    quantity=quantity,
                    unit_price=Decimal("10.00"),
                )
            )
    return org.id, case_id


def booking(org_id: str, case_id: str, origin: Address = CUSTOMER) -> BookShipment:
    return BookShipment(
        idempotency_key=f"rma-{case_id}/inbound-shipment",
        org_id=org_id,
        case_id=case_id,
        workflow_id=f"rma-{case_id}",
        direction=Direction.INBOUND,
        origin=origin,
        destination=WAREHOUSE,
        is_return=True,
    )


def activities(
    sessions: async_sessionmaker[AsyncSession], stub: EasyPostStub, tmp_path: Path
) -> tuple[CarrierActivities, LocalDocumentStore]:
    store = LocalDocumentStore(tmp_path / "documents")
    carrier = EasyPostCarrier(stub.api_key, api_base=stub.base_url)
    return CarrierActivities(sessions, carrier, store), store


async def test_a_booking_sizes_the_parcel_keeps_the_label_and_books_once(
    sessions: async_sessionmaker[AsyncSession], stub: EasyPostStub, tmp_path: Path
) -> None:
    # One product known (2.5 kg, 40x30x20), one not (the default kilogram, counted twice).
    org_id, case_id = await a_case(sessions, (2500, "40x30x20", 1), (None, None, 2))
    acts, store = activities(sessions, stub, tmp_path)
    env = ActivityEnvironment()

    ref = await env.run(acts.book_shipment, booking(org_id, case_id))

    shipment = stub.by_tracking_code(ref.tracking_number)
    assert shipment["parcel"]["weight"] == 158.8  # 4500 g in ounces, rounded up
    assert (shipment["parcel"]["length"], shipment["parcel"]["width"]) == (15.8, 11.9)
    assert shipment["is_return"] is True
    pdf = store.read(store.key_of(ref.label_sha256))
    assert hashlib.sha256(pdf).hexdigest() == ref.label_sha256 and pdf.startswith(b"%PDF")
    async with sessions() as session:
        row = await session.scalar(select(models.Shipment).where(models.Shipment.id == ref.id))
        journal = await session.get(models.CarrierBooking, booking(org_id, case_id).idempotency_key)
    assert row is not None and journal is not None
    assert (row.provider, row.provider_shipment_id, row.cost) == (
        "easypost",
        shipment["id"],
        Decimal("5.20"),
    )
    assert journal.provider_shipment_id == shipment["id"]

    # The step again (a retried activity): the row answers, EasyPost hears nothing.
    calls = len(stub.requests)
    assert await env.run(acts.book_shipment, booking(org_id, case_id)) == ref
    assert len(stub.requests) == calls


async def test_a_refusal_fails_the_step_for_good_with_easyposts_words(
    sessions: async_sessionmaker[AsyncSession], stub: EasyPostStub, tmp_path: Path
) -> None:
    org_id, case_id = await a_case(sessions, (800, None, 1))
    acts, _ = activities(sessions, stub, tmp_path)
    bad = Address("1 BAD Street", "Nowhere", "00000", "GB")
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(acts.book_shipment, booking(org_id, case_id, bad))
    assert refused.value.type == CARRIER_REFUSED
    assert refused.value.non_retryable is True
    assert refused.value.details[0] == {
        "code": "ADDRESS.VERIFY.FAILURE",
        "message": "Unable to verify address.",
        "errors": [{"field": "street1", "message": "Address not found"}],
    }
    async with sessions() as session:
        assert await session.scalar(select(models.Shipment)) is None


async def test_a_void_refunds_the_label_and_voids_the_shipment(
    sessions: async_sessionmaker[AsyncSession], stub: EasyPostStub, tmp_path: Path
) -> None:
    org_id, case_id = await a_case(sessions, (800, None, 1))
    acts, _ = activities(sessions, stub, tmp_path)
    env = ActivityEnvironment()
    ref = await env.run(acts.book_shipment, booking(org_id, case_id))
    await env.run(acts.void_shipment, VoidShipment(ref.tracking_number))
    await env.run(acts.void_shipment, VoidShipment(ref.tracking_number))
    assert stub.refunds == [stub.by_tracking_code(ref.tracking_number)["id"]]
    async with sessions() as session:
        row = await session.scalar(select(models.Shipment).where(models.Shipment.id == ref.id))
    assert row is not None and row.status == "voided"


async def test_two_attempts_of_one_booking_at_once_answer_the_same_shipment(
    sessions: async_sessionmaker[AsyncSession], stub: EasyPostStub, tmp_path: Path
) -> None:
    """An attempt that outlived its timeout and its retry can run at once: the key's one
    row is the booking, and both attempts answer it."""
    org_id, case_id = await a_case(sessions, (2500, "40x30x20", 1))
    acts, _ = activities(sessions, stub, tmp_path)
    request = booking(org_id, case_id)

    first, second = await asyncio.gather(
        ActivityEnvironment().run(acts.book_shipment, request),
        ActivityEnvironment().run(acts.book_shipment, request),
    )

    assert first == second
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(models.Shipment).where(
                    models.Shipment.idempotency_key == request.idempotency_key
                )
            )
        ).all()
    assert [(row.id, row.tracking_number) for row in rows] == [(first.id, first.tracking_number)]
