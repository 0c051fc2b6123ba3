"""The EasyPost adapter against the local EasyPost (tests/stubs/easypost.py), through the
real SDK: what it books, what it buys, what a retry does, how a refusal reads."""

from __future__ import annotations

import asyncio
import gc
import io
import json
from collections.abc import Iterator
from decimal import Decimal

import pytest
from easypost.errors.api.internal_server_error import InternalServerError
from easypost.errors.api.timeout_error import TimeoutError
from pypdf import PdfReader

from activities.carriers import (
    DEFAULT_PARCEL,
    BookedParcel,
    BookingRequest,
    CarrierRefused,
    ParcelSize,
)
from activities.carriers.easypost import EasyPostCarrier, EasyPostWebhook, choose_rate, parcel
from domain.common import Address
from tests.stubs.easypost import LABEL_MARK, EasyPostStub

CUSTOMER = Address("12 Analytical Row", "London", "N1", "GB", name="Ada Lovelace")
WAREHOUSE = Address("1 Dock Road", "Leeds", "LS1", "GB", name="Acme Returns")


class BuyingFirstJournal:
    """A concurrent attempt of the same booking: it keeps the shipment this attempt created
    and buys it before this attempt does."""

    def __init__(self, stub: EasyPostStub) -> None:
        self.stub = stub

    async def recall(self) -> str | None:
        return None

    async def remember(self, provider_shipment_id: str) -> str:
        rate = self.stub.shipments[provider_shipment_id]["rates"][0]
        await asyncio.to_thread(
            carrier(self.stub).client.shipment.buy, provider_shipment_id, rate={"id": rate["id"]}
        )
        return provider_shipment_id


class MemoryJournal:
    def __init__(self) -> None:
        self.shipment_id: str | None = None

    async def recall(self) -> str | None:
        return self.shipment_id

    async def remember(self, provider_shipment_id: str) -> str:
        self.shipment_id = provider_shipment_id
        return provider_shipment_id


@pytest.fixture
def stub() -> Iterator[EasyPostStub]:
    server = EasyPostStub().start()
    try:
        yield server
    finally:
        server.stop()


def carrier(stub: EasyPostStub, services: tuple[str, ...] = ()) -> EasyPostCarrier:
    return EasyPostCarrier(stub.api_key, services, api_base=stub.base_url)


def request(origin: Address = CUSTOMER, service: str = "Ground") -> BookingRequest:
    return BookingRequest(
        idempotency_key="rma-1/inbound-shipment",
        reference="RMA-1",
        origin=origin,
        destination=WAREHOUSE,
        service=service,
        is_return=True,
        parcel=ParcelSize(2500, Decimal("40"), Decimal("30"), Decimal("20")),
    )


async def test_a_booking_buys_the_cheapest_rate_and_brings_easyposts_pdf(
    stub: EasyPostStub,
) -> None:
    journal = MemoryJournal()
    booking = await carrier(stub).book(request(), journal)

    shipment = stub.shipments[booking.provider_shipment_id or ""]
    assert journal.shipment_id == shipment["id"]
    assert (booking.carrier, booking.service) == ("USPS", "GroundAdvantage")
    assert (booking.cost, booking.currency) == (Decimal("5.20"), "USD")
    assert booking.tracking_number == shipment["tracking_code"]
    assert stub.buys == [shipment["id"]]
    # EasyPost's shapes: a return, our key as reference, the parcel in inches and ounces.
    assert shipment["is_return"] is True
    assert shipment["reference"] == "rma-1/inbound-shipment"
    assert shipment["from_address"]["street1"] == "12 Analytical Row"
    assert shipment["from_address"]["zip"] == "N1"
    assert shipment["parcel"] == {
        **shipment["parcel"],
        "length": 15.8,
        "width": 11.9,
        "height": 7.9,
        "weight": 88.2,
    }
    assert shipment["options"] == {"label_format": "PDF", "label_size": "4x6"}
    page = PdfReader(io.BytesIO(booking.label_pdf or b"")).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == (288.0, 432.0)
    assert LABEL_MARK in page.extract_text()
    assert booking.tracking_number in page.extract_text()


async def test_allowed_services_and_the_named_one_choose_the_rate(stub: EasyPostStub) -> None:
    allowed = carrier(stub, ("Priority", "UPS:Ground"))
    booking = await allowed.book(request(service="Express"), MemoryJournal())
    assert (booking.carrier, booking.service, booking.cost) == ("USPS", "Priority", Decimal("7.58"))
    named = await allowed.book(request(service="Ground"), MemoryJournal())
    assert (named.carrier, named.service) == ("UPS", "Ground")


def test_choose_rate_refuses_when_no_allowed_service_is_offered() -> None:
    rates = [{"id": "rate_1", "carrier": "USPS", "service": "Priority", "rate": "7.58"}]
    with pytest.raises(CarrierRefused) as refused:
        choose_rate(rates, ("FedEx:Overnight",), "Ground")
    assert refused.value.code == "no_rates"
    assert "FedEx:Overnight" in refused.value.message


def test_the_default_parcel_is_declared_in_inches_and_ounces_rounded_up() -> None:
    assert parcel(DEFAULT_PARCEL) == {"length": 11.9, "width": 7.9, "height": 6.0, "weight": 35.3}


async def test_a_retry_after_a_lost_buy_answer_finds_the_shipment_and_buys_nothing(
    stub: EasyPostStub,
) -> None:
    journal = MemoryJournal()
    stub.fail_next("buy", 503, after=True)
    with pytest.raises(Exception) as lost:
        await carrier(stub).book(request(), journal)
    assert not isinstance(lost.value, CarrierRefused)
    assert journal.shipment_id is not None and stub.buys_of(journal.shipment_id) == 1

    booking = await carrier(stub).book(request(), journal)
    assert booking.provider_shipment_id == journal.shipment_id
    assert stub.buys_of(journal.shipment_id) == 1
    assert len([r for r in stub.requests if r[1] == "/v2/shipments"]) == 1


async def test_a_retry_after_a_failed_create_creates_once_and_buys_once(
    stub: EasyPostStub,
) -> None:
    journal = MemoryJournal()
    stub.fail_next("create", 500)
    with pytest.raises(InternalServerError):
        await carrier(stub).book(request(), journal)
    assert journal.shipment_id is None
    booking = await carrier(stub).book(request(), journal)
    assert stub.buys == [booking.provider_shipment_id]


async def test_a_bad_address_is_a_refusal_with_easyposts_code_and_field(
    stub: EasyPostStub,
) -> None:
    bad = Address("1 BAD Street", "Nowhere", "00000", "GB", name="Ada")
    with pytest.raises(CarrierRefused) as refused:
        await carrier(stub).book(request(origin=bad), MemoryJournal())
    assert refused.value.code == "ADDRESS.VERIFY.FAILURE"
    assert refused.value.message == "Unable to verify address."
    assert refused.value.errors[0]["field"] == "street1"
    assert stub.buys == []


async def test_a_heavy_parcel_with_no_rates_is_a_refusal(stub: EasyPostStub) -> None:
    heavy = BookingRequest(
        "k", "RMA-2", CUSTOMER, WAREHOUSE, "Ground", True, ParcelSize(40000, *([Decimal(50)] * 3))
    )
    with pytest.raises(CarrierRefused) as refused:
        await carrier(stub).book(heavy, MemoryJournal())
    assert refused.value.code == "no_rates"


async def test_a_wrong_api_key_is_a_refusal(stub: EasyPostStub) -> None:
    wrong = EasyPostCarrier("EZTK_wrong", api_base=stub.base_url)
    with pytest.raises(CarrierRefused) as refused:
        await wrong.book(request(), MemoryJournal())
    assert refused.value.code == "APIKEY.INACTIVE"


async def test_a_late_answer_is_a_timeout_to_retry(stub: EasyPostStub) -> None:
    slow = carrier(stub)
    slow.client.timeout = 1
    stub.fail_next("create", None, delay=2)
    with pytest.raises(TimeoutError):
        await slow.book(request(), MemoryJournal())


async def test_void_refunds_the_label_once(stub: EasyPostStub) -> None:
    booking = await carrier(stub).book(request(), MemoryJournal())
    booked = BookedParcel(booking.tracking_number, booking.provider_shipment_id)
    await carrier(stub).void(booked)
    await carrier(stub).void(booked)
    assert stub.refunds == [booking.provider_shipment_id]
    assert stub.shipments[booking.provider_shipment_id or ""]["refund_status"] == "submitted"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"[" * 100_000,
        b'{"description": "tracker.updated"}',
        b'{"id": "evt_1", "description": "batch.updated", "result": {"object": "Batch"}}',
        b'{"id": "evt_1", "description": "tracker.updated", "result": []}',
    ],
)
def test_a_webhook_about_no_parcel_reads_as_none(body: bytes) -> None:
    # The deeply nested body runs the parser to the recursion limit: a garbage collection
    # there would run other tests' finalizers without stack, so none happens meanwhile.
    gc.collect()
    gc.disable()
    try:
        assert EasyPostWebhook().read(body) is None
    finally:
        gc.enable()


def test_tracker_statuses_map_onto_our_scans() -> None:
    stub = EasyPostStub()
    tracker = {"object": "Tracker", "tracking_code": "9400", "tracking_details": []}
    event = {"id": "evt_1", "description": "tracker.updated", "result": tracker}

    def scan(status: str, before: str | None = None) -> str | None:
        tracker["status"] = status
        event["previous_attributes"] = {"status": before} if before else {}
        update = EasyPostWebhook().read(json.dumps(event).encode())
        assert update is not None and update.tracking_number == "9400"
        return update.scan.status.value if update.scan else None

    assert scan("pre_transit") is None
    assert scan("in_transit", "pre_transit") == "picked_up"
    assert scan("in_transit", "in_transit") == "in_transit"
    assert scan("in_transit") == "in_transit"  # a new detail, the status unchanged
    assert scan("out_for_delivery") == "out_for_delivery"
    assert scan("available_for_pickup") == "out_for_delivery"
    assert scan("delivered") == "delivered"
    assert scan("return_to_sender") == "exception"
    assert scan("failure") == "exception"
    assert scan("cancelled") is None
    body = json.dumps(event).encode()
    assert EasyPostWebhook().verify(body, {"X-Hmac-Signature": stub.sign(body, "s3cret")}, "s3cret")
    assert not EasyPostWebhook().verify(
        body, {"X-Hmac-Signature": stub.sign(body, "other")}, "s3cret"
    )
    assert not EasyPostWebhook().verify(body, {}, "s3cret")
    assert not EasyPostWebhook().verify(body, {"X-Hmac-Signature": stub.sign(body, "")}, "")


async def test_a_shipment_a_concurrent_attempt_bought_first_is_the_booking(
    stub: EasyPostStub,
) -> None:
    booking = await carrier(stub).book(request(), BuyingFirstJournal(stub))

    shipment = stub.shipments[booking.provider_shipment_id or ""]
    # One purchase (the other attempt's), whose label and tracking code this booking answers.
    assert stub.buys == [shipment["id"]]
    assert booking.tracking_number == shipment["tracking_code"]
    assert LABEL_MARK in PdfReader(io.BytesIO(booking.label_pdf or b"")).pages[0].extract_text()
