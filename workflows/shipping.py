"""Workflow steps every lifecycle shares: book a parcel and render its label (and, for a
return, its packing slip), void a label no longer needed; name an address.

A case ships through its `Shipper`, which fills in who ships (the case's org and number)
and where its labels link (the case's tracking page):

    self.shipper = Shipper.for_case(start, start.rma_id, CarrierErrors(self.timeline, status))
    self.outbound, label = await self.shipper.ship(Direction.OUTBOUND, origin, to, step, kind)

A parcel's documents and the transition they come with are stored in one step (`labelled`):

    self.documents += await shipping.labelled(self.timeline, parcel, shipment, transition)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as TemporalTimeout

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CarrierActivities, DocumentActivities
    from domain.common import Address, CaseStart, Customer, Direction, DocumentRef, ShipmentRef
    from domain.contracts.carrier import BookShipment, VoidShipment
    from domain.contracts.documents import (
        DocumentsAndProjection,
        LabelRequest,
        PackingSlipRequest,
        RepairCertificateRequest,
    )
    from domain.contracts.store import CaseProjection
    from domain.documents import LabelData, PackingSlipData
    from domain.ids import step_key
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        LOCAL_RETRY_THRESHOLD,
        QUICK_RETRY,
        RENDER_TIMEOUT,
        failed_as_activity,
    )
    from workflows.carrier_errors import (
        CarrierErrors,
        refusal_of,
        with_address,
    )
    from workflows.patches import (
        CARRIER_ERROR_PATCH,
        LOCAL_BOOKINGS_PATCH,
        ONE_STEP_LABEL_PATCH,
        batched,
        patched,
    )
    from workflows.timeline import Timeline, merged


@dataclasses.dataclass
class Parcel:
    """Who sends what to whom, for one case; `step` names the side effect once per case
    (the label's step is `<step>-label` unless `label_step` names it)."""

    org_id: str
    case_id: str
    tracking_url: str
    direction: Direction
    origin: Address
    destination: Address
    step: str
    label_kind: str
    label_step: str = ""
    # Where a refused booking waits for the retailer's retry; None: it fails the case.
    errors: CarrierErrors | None = None
    # Booked as a local activity (`book`). False where a command has been answered and the
    # booking follows it: a local activity would hold that answer until the carrier answers.
    local: bool = True


@dataclasses.dataclass(frozen=True)
class Shipper:
    """Ships one case's parcels: under the case's org and number, with labels that link to
    the case's tracking page; a booking the carrier refuses waits in `errors`, if given, for
    the retailer to retry it."""

    org_id: str
    case_id: str
    tracking_url: str
    errors: CarrierErrors | None = None

    @classmethod
    def for_case(
        cls, start: CaseStart, case_id: str, errors: CarrierErrors | None = None
    ) -> Shipper:
        tracking_url = f"{start.public_base_url}/track/{start.tracking_token}"
        return cls(start.org_id, case_id, tracking_url, errors)

    def parcel(
        self,
        direction: Direction,
        origin: Address,
        destination: Address,
        step: str,
        label_kind: str,
        *,
        label_step: str = "",
        local: bool = True,
    ) -> Parcel:
        """The parcel from `origin` to `destination`, booked once per case under `step`."""
        return Parcel(
            org_id=self.org_id,
            case_id=self.case_id,
            tracking_url=self.tracking_url,
            direction=direction,
            origin=origin,
            destination=destination,
            step=step,
            label_kind=label_kind,
            label_step=label_step,
            errors=self.errors,
            local=local,
        )

    async def ship(
        self,
        direction: Direction,
        origin: Address,
        destination: Address,
        step: str,
        label_kind: str,
        retry: RetryPolicy = EXTERNAL_RETRY,
    ) -> tuple[ShipmentRef, DocumentRef]:
        """Book the parcel and render its label (`book_with_label`)."""
        parcel = self.parcel(direction, origin, destination, step, label_kind)
        return await book_with_label(parcel, retry)

    async def ship_then(
        self,
        timeline: Timeline,
        direction: Direction,
        origin: Address,
        destination: Address,
        step: str,
        label_kind: str,
        transition: Callable[[dict[str, str]], Awaitable[None]],
        *,
        before: Sequence[CaseProjection] = (),
        certificates: Sequence[RepairCertificateRequest] = (),
        local: bool = True,
    ) -> tuple[ShipmentRef, list[DocumentRef]]:
        """Book the parcel, then store its label with the transition the booking calls for
        (`labelled`), called with the parcel's tracking number as its timeline detail;
        `before` and `certificates` go in the same step (see `labelled`). Answers the
        shipment and the documents: certificates first, then the label."""
        parcel = self.parcel(direction, origin, destination, step, label_kind, local=local)
        shipment = await book(parcel)
        detail = {"tracking_number": shipment.tracking_number}
        return shipment, await labelled(
            timeline,
            parcel,
            shipment,
            transition(detail),
            before=before,
            certificates=certificates,
        )


async def book(parcel: Parcel, retry: RetryPolicy = EXTERNAL_RETRY) -> ShipmentRef:
    """Book the parcel with the carrier, once per case and step. A booking the carrier
    refuses waits for the retailer's retry (with the parcel's `errors`), which books again
    under its own key (`<step>-retry-<n>`), with the customer's address corrected if the
    retry brought one: the parcel keeps it for its label."""
    wf_id = workflow.info().workflow_id
    retries = 0
    while True:
        step = f"{parcel.step}-retry-{retries}" if retries else parcel.step
        booking = BookShipment(
            idempotency_key=step_key(wf_id, step),
            org_id=parcel.org_id,
            case_id=parcel.case_id,
            workflow_id=wf_id,
            direction=parcel.direction,
            origin=parcel.origin,
            destination=parcel.destination,
            is_return=parcel.direction is Direction.INBOUND,
        )
        try:
            if parcel.local and patched(LOCAL_BOOKINGS_PATCH):
                return await _book_locally(booking, retry)
            return await workflow.execute_activity_method(
                CarrierActivities.book_shipment,
                booking,
                start_to_close_timeout=EXTERNAL_TIMEOUT,
                retry_policy=retry,
            )
        except ActivityError as failed:
            refusal = refusal_of(failed)
            if refusal is None or parcel.errors is None:
                raise
            if not patched(CARRIER_ERROR_PATCH):
                raise
        fix = await parcel.errors.wait_for_retry(refusal, parcel.direction.value)
        inbound = parcel.direction is Direction.INBOUND
        parcel.origin, parcel.destination = with_address(
            parcel.origin, parcel.destination, inbound, fix.address
        )
        retries += 1


class BookingFailed(ActivityError):
    """A booking that failed as a local activity, raised as the booking activity fails (the
    carrier's error its cause), so every path that takes a failed booking takes it."""


async def _book_locally(booking: BookShipment, retry: RetryPolicy) -> ShipmentRef:
    """The booking as a local activity: one idempotent HTTP call, so it costs the server no
    activity task and the case no workflow task for its completion. A worker that dies
    mid-booking leaves its workflow task to time out; the next worker books again under
    the same key and gets the same parcel. Backoffs past a second wait on a durable timer,
    not in the worker holding the task."""
    try:
        return await workflow.execute_local_activity_method(
            CarrierActivities.book_shipment,
            booking,
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=retry,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
        )
    except ActivityError:
        raise
    except (ApplicationError, TemporalTimeout) as bare:
        # A local activity's failure may arrive bare, not as an activity's would.
        raise failed_as_activity(BookingFailed, "book_shipment", bare.message, bare) from bare


def label_request(parcel: Parcel, shipment: ShipmentRef) -> LabelRequest:
    """The booked parcel's 4x6 label, keyed once per case and step."""
    step = parcel.label_step or f"{parcel.step}-label"
    return LabelRequest(
        idempotency_key=step_key(workflow.info().workflow_id, step),
        org_id=parcel.org_id,
        case_id=parcel.case_id,
        carrier_label_sha256=shipment.label_sha256,
        label=LabelData(
            carrier=shipment.carrier,
            service=shipment.service,
            tracking_number=shipment.tracking_number,
            case_number=parcel.case_id,
            from_address=parcel.origin,
            to_address=parcel.destination,
            tracking_url=parcel.tracking_url,
            kind=parcel.label_kind,
        ),
    )


def slip_request(parcel: Parcel, slip: PackingSlipData, step: str) -> PackingSlipRequest:
    """The slip that goes inside a returned parcel, keyed once per case and step."""
    return PackingSlipRequest(
        idempotency_key=step_key(workflow.info().workflow_id, step),
        org_id=parcel.org_id,
        case_id=parcel.case_id,
        slip=slip,
    )


async def render_label(parcel: Parcel, shipment: ShipmentRef) -> DocumentRef:
    """Render and store the booked parcel's 4x6 label, once per case and step."""
    return await workflow.execute_local_activity_method(
        DocumentActivities.render_label,
        label_request(parcel, shipment),
        start_to_close_timeout=RENDER_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )


async def labelled(
    timeline: Timeline,
    parcel: Parcel,
    shipment: ShipmentRef,
    transition: Awaitable[None],
    slip: tuple[PackingSlipData, str] | None = None,
    *,
    before: Sequence[CaseProjection] = (),
    certificates: Sequence[RepairCertificateRequest] = (),
) -> list[DocumentRef]:
    """Render and store the booked parcel's label (and `slip`, the packing slip that goes
    inside it, under its step), then take `transition` (which projects through `timeline`):
    one `render_and_project` local activity, or from histories before
    `ONE_STEP_LABEL_PATCH` the renders and the projection one after another. `before` (the
    projections the case held back for this step, made before the booking) and
    `certificates` (documents the state change issues) are written in the same step; only
    a case on `batched()` steps passes them. Answers the documents: certificates first,
    then the label, then the slip."""
    if not batched(ONE_STEP_LABEL_PATCH):
        if before or certificates:
            raise RuntimeError("held projections and certificates need the batched steps")
        documents = [await render_label(parcel, shipment)]
        if slip is not None:
            documents.append(await render_packing_slip(parcel, *slip))
        await transition
        return documents
    # The transition's state changes come first; its projection waits for the documents.
    with timeline.collecting() as held:
        await transition
    return await workflow.execute_local_activity_method(
        DocumentActivities.render_and_project,
        DocumentsAndProjection(
            labels=[label_request(parcel, shipment)],
            slips=[slip_request(parcel, *slip)] if slip is not None else [],
            projection=merged([*before, *held]),
            certificates=list(certificates),
        ),
        start_to_close_timeout=RENDER_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )


async def book_with_label(
    parcel: Parcel, retry: RetryPolicy = EXTERNAL_RETRY
) -> tuple[ShipmentRef, DocumentRef]:
    """Book the parcel with the carrier, then render and store its label. Both carry keys
    from the workflow id and the step, so a retry books and renders once."""
    shipment = await book(parcel, retry)
    return shipment, await render_label(parcel, shipment)


async def render_packing_slip(parcel: Parcel, slip: PackingSlipData, step: str) -> DocumentRef:
    """Render and store the slip that goes inside a returned parcel, once per case and step."""
    return await workflow.execute_local_activity_method(
        DocumentActivities.render_packing_slip,
        slip_request(parcel, slip, step),
        start_to_close_timeout=RENDER_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )


async def void(shipment: ShipmentRef | None) -> None:
    """Void a label that will not be used: the carrier refuses its scans from then on. No
    label booked (None): nothing to void."""
    if shipment is None:
        return
    await workflow.execute_activity_method(
        CarrierActivities.void_shipment,
        VoidShipment(shipment.tracking_number),
        start_to_close_timeout=EXTERNAL_TIMEOUT,
        retry_policy=EXTERNAL_RETRY,
    )


def booked(*shipments: ShipmentRef | None) -> list[ShipmentRef]:
    """A case's parcels for its result: those it booked, in the order given."""
    return [shipment for shipment in shipments if shipment is not None]


def named(address: Address, name: str) -> Address:
    """The address with a name on it: its own, else the given one."""
    return dataclasses.replace(address, name=address.name or name)


def customer_address(customer: Customer, needed_for: str) -> Address:
    """Where the customer's parcel goes or comes from, with their name on it. A case that
    ships to or from the customer is created with an address (the API requires one)."""
    if customer.address is None:
        raise ValueError(f"the customer's address is needed for {needed_for}")
    return named(customer.address, customer.name)
