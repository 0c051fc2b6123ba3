"""EasyPost as a carrier, through its official SDK (`easypost`, synchronous: every call runs
in a thread so the worker's event loop keeps heartbeating other activities).

A booking is EasyPost's two steps: create the shipment (its rates come back with it), then
buy one rate. The shipment id is written to the journal between the two, so a retried
booking looks its shipment up and buys only if it is not bought yet: EasyPost takes no
idempotency key, so this (and our key as the shipment's `reference`) is what makes a retry
safe. The label is EasyPost's own 4x6 PDF.

EasyPost's answers map onto ours: a 4xx (bad address, no rate, bad key) is `CarrierRefused`,
which the retailer must fix; a 5xx, a 408/429 or a network failure is raised as the SDK
raises it, and the activity retries it with backoff."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from typing import Any

import httpx
from easypost.easypost_client import EasyPostClient
from easypost.errors.api.api_error import ApiError
from easypost.errors.general.signature_verification_error import SignatureVerificationError
from easypost.util import validate_webhook

from activities.carriers import (
    BookedParcel,
    Booking,
    BookingJournal,
    BookingRequest,
    CarrierRefused,
    ParcelSize,
    TrackerUpdate,
)
from domain.common import Address, CarrierEvent, CarrierStatus

log = logging.getLogger(__name__)

NAME = "easypost"
# Under the activity's 10 s start-to-close, so a stuck call fails as a timeout the retry
# policy sees, not as the whole attempt timing out.
CALL_TIMEOUT_SECONDS = 8
# Statuses that say "try again later", not "you asked wrongly".
_PASSING = frozenset({408, 425, 429})
# What EasyPost answers a buy of a shipment bought already.
POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"
_GRAMS_PER_OUNCE = Decimal("28.349523125")
_CM_PER_INCH = Decimal("2.54")
_TENTH = Decimal("0.1")


class EasyPostCarrier:
    name = NAME
    needs_parcel = True

    def __init__(
        self, api_key: str, services: Sequence[str] = (), api_base: str | None = None
    ) -> None:
        self.services = tuple(services)
        base = _versioned(api_base) if api_base else None
        self.client = (
            EasyPostClient(api_key, api_base=base, timeout=CALL_TIMEOUT_SECONDS)
            if base
            else EasyPostClient(api_key, timeout=CALL_TIMEOUT_SECONDS)
        )

    async def book(self, request: BookingRequest, journal: BookingJournal) -> Booking:
        shipment_id = await journal.recall()
        if shipment_id is None:
            created = await self._call(self.client.shipment.create, **shipment_params(request))
            created_id = str(created["id"])
            shipment_id = await journal.remember(created_id)
            # Another attempt's shipment was kept first: that one is bought, not this one
            # (an unbought EasyPost shipment costs nothing).
            shipment = (
                created
                if shipment_id == created_id
                else await self._call(self.client.shipment.retrieve, shipment_id)
            )
        else:
            shipment = await self._call(self.client.shipment.retrieve, shipment_id)
        if not shipment.get("postage_label"):
            rate = choose_rate(shipment.get("rates") or [], self.services, request.service)
            try:
                shipment = await self._call(
                    self.client.shipment.buy, shipment_id, rate={"id": rate["id"]}
                )
            except CarrierRefused as refused:
                if refused.code != POSTAGE_EXISTS:
                    raise
                # A concurrent attempt of the same booking bought it first: its label is ours.
                shipment = await self._call(self.client.shipment.retrieve, shipment_id)
        return Booking(
            carrier=str(shipment["selected_rate"]["carrier"]),
            service=str(shipment["selected_rate"]["service"]),
            tracking_number=str(shipment["tracking_code"]),
            provider_shipment_id=shipment_id,
            cost=Decimal(str(shipment["selected_rate"]["rate"])),
            currency=str(shipment["selected_rate"].get("currency") or "USD"),
            label_pdf=await self._label_pdf(shipment_id, shipment["postage_label"]),
        )

    async def void(self, parcel: BookedParcel) -> None:
        """Refund the label with EasyPost. Asked twice, EasyPost's answer to the first stands:
        a shipment whose refund is already under way is left alone."""
        if parcel.provider_shipment_id is None:
            return
        shipment = await self._call(self.client.shipment.retrieve, parcel.provider_shipment_id)
        if shipment.get("refund_status") in ("submitted", "refunded"):
            return
        await self._call(self.client.shipment.refund, parcel.provider_shipment_id)

    async def _label_pdf(self, shipment_id: str, label: dict[str, Any]) -> bytes:
        url = label.get("label_pdf_url")
        if not url and label.get("label_file_type") == "application/pdf":
            url = label.get("label_url")
        if not url:
            # Bought with another format: EasyPost converts the label on request.
            converted = await self._call(self.client.shipment.label, shipment_id, file_format="PDF")
            url = converted["postage_label"]["label_pdf_url"]
        async with httpx.AsyncClient(timeout=CALL_TIMEOUT_SECONDS) as http:
            answer = await http.get(str(url))
            answer.raise_for_status()
        if not answer.content.startswith(b"%PDF"):
            raise ValueError(f"EasyPost's label for {shipment_id} is not a PDF")
        return answer.content

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One SDK call in a thread, answered as a plain dict; a refusal as `CarrierRefused`."""
        try:
            answer = await asyncio.to_thread(method, *args, **kwargs)
        except ApiError as exc:
            raise refusal_or_same(exc) from exc
        result: dict[str, Any] = answer.to_dict()
        return result


def _versioned(api_base: str) -> str:
    """The SDK wants the base with its version (`https://api.easypost.com/v2`); the setting
    may name the host alone."""
    base = api_base.rstrip("/")
    return base if base.endswith("/v2") else f"{base}/v2"


def refusal_or_same(exc: ApiError) -> Exception:
    """A 4xx the retailer must fix as `CarrierRefused`; anything passing as it came."""
    status: int = exc.http_status or 0
    if 400 <= status < 500 and status not in _PASSING:
        errors = [e if isinstance(e, dict) else {"message": str(e)} for e in exc.errors or []]
        return CarrierRefused(str(exc.code or f"http_{status}"), str(exc.message), errors)
    return exc


def shipment_params(request: BookingRequest) -> dict[str, Any]:
    """EasyPost's shipment for our booking: addresses, the parcel in inches and ounces, a
    4x6 PDF label, and our key as its reference."""
    return {
        "reference": request.idempotency_key,
        "is_return": request.is_return,
        "from_address": address(request.origin),
        "to_address": address(request.destination),
        "parcel": parcel(request.parcel),
        "options": {"label_format": "PDF", "label_size": "4x6"},
    }


def address(place: Address) -> dict[str, str]:
    return {
        "name": place.name,
        "street1": place.line1,
        "street2": place.line2,
        "city": place.city,
        "state": place.region,
        "zip": place.postal_code,
        "country": place.country,
    }


def parcel(size: ParcelSize) -> dict[str, float]:
    """EasyPost rates in inches and ounces, to a tenth, rounded up (never under-declared)."""

    def up(value: Decimal) -> float:
        return float(value.quantize(_TENTH, rounding=ROUND_UP))

    return {
        "length": up(size.length_cm / _CM_PER_INCH),
        "width": up(size.width_cm / _CM_PER_INCH),
        "height": up(size.height_cm / _CM_PER_INCH),
        "weight": up(Decimal(size.weight_grams) / _GRAMS_PER_OUNCE),
    }


def choose_rate(
    rates: Sequence[dict[str, Any]], allowed: Sequence[str], named: str
) -> dict[str, Any]:
    """The cheapest rate among the retailer's allowed services (all, if it names none). A
    service is allowed by its name (`Priority`) or by carrier and name (`USPS:Priority`).
    The service a case names is bought when the retailer allows it by name: every case
    names one (`Ground` unless it says), so with no allowed list it would otherwise pin
    every parcel to whichever carrier happens to call a service that."""

    def allows(rate: dict[str, Any]) -> bool:
        names = {str(rate["service"]), f"{rate['carrier']}:{rate['service']}"}
        return not allowed or bool(names & set(allowed))

    candidates = [rate for rate in rates if allows(rate)]
    if not candidates:
        wanted = ", ".join(allowed) if allowed else "any service"
        raise CarrierRefused("no_rates", f"EasyPost offers no rate for {wanted} for this parcel")
    of_named = [rate for rate in candidates if allowed and rate["service"] == named]
    return min(of_named or candidates, key=lambda rate: Decimal(str(rate["rate"])))


# EasyPost's tracker statuses as our scans. `pre_transit` (label bought, nothing scanned),
# `unknown` and `cancelled` say nothing about the parcel's journey and move no case; the
# first `in_transit` after them is the carrier taking the parcel (`picked_up`).
TRACKER_STATUSES: Mapping[str, CarrierStatus] = {
    "in_transit": CarrierStatus.IN_TRANSIT,
    "out_for_delivery": CarrierStatus.OUT_FOR_DELIVERY,
    "available_for_pickup": CarrierStatus.OUT_FOR_DELIVERY,
    "delivered": CarrierStatus.DELIVERED,
    "return_to_sender": CarrierStatus.EXCEPTION,
    "failure": CarrierStatus.EXCEPTION,
    "error": CarrierStatus.EXCEPTION,
}
# The statuses before the carrier has the parcel: a change from one to `in_transit` (as the
# event's `previous_attributes` says) is the pickup.
_NOT_MOVING = frozenset({"pre_transit", "unknown"})
_TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})


class EasyPostWebhook:
    """EasyPost's `tracker.created`/`tracker.updated` Events, signed with the account's
    webhook secret in `X-Hmac-Signature` (checked by the SDK's `validate_webhook`)."""

    def read(self, body: bytes) -> TrackerUpdate | None:
        try:
            event = json.loads(body)
        except (ValueError, RecursionError):
            return None
        if not isinstance(event, dict):
            return None
        tracker = event.get("result")
        if (
            event.get("description") not in _TRACKER_EVENTS
            or not isinstance(tracker, dict)
            or tracker.get("object") != "Tracker"
            or not tracker.get("tracking_code")
            or not event.get("id")
        ):
            return None
        return TrackerUpdate(
            event_id=str(event["id"]),
            tracking_number=str(tracker["tracking_code"]),
            scan=tracker_scan(str(event["id"]), tracker, event.get("previous_attributes")),
        )

    def verify(self, body: bytes, headers: Mapping[str, str], secret: str) -> bool:
        signature = next((v for k, v in headers.items() if k.lower() == "x-hmac-signature"), None)
        if not secret or signature is None:
            return False
        try:
            validate_webhook(body, {"X-Hmac-Signature": signature}, secret)
        except (SignatureVerificationError, ValueError):
            return False
        return True


def tracker_scan(
    event_id: str, tracker: Mapping[str, Any], previous: object
) -> CarrierEvent | None:
    """The scan a tracker's status means (None: none), when and where its latest detail
    says."""
    status = TRACKER_STATUSES.get(str(tracker.get("status")))
    if status is None:
        return None
    before = previous.get("status") if isinstance(previous, dict) else None
    if status is CarrierStatus.IN_TRANSIT and before in _NOT_MOVING:
        status = CarrierStatus.PICKED_UP
    details = [d for d in tracker.get("tracking_details") or [] if isinstance(d, dict)]
    latest = details[-1] if details else {}
    place = latest.get("tracking_location") or {}
    location = ", ".join(
        str(place[k])
        for k in ("city", "state", "country")
        if isinstance(place, dict) and place.get(k)
    )
    return CarrierEvent(
        event_id=event_id,
        tracking_number=str(tracker["tracking_code"]),
        status=status,
        occurred_at=_moment(latest.get("datetime") or tracker.get("updated_at")),
        location=location[:200],
    )


def _moment(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
