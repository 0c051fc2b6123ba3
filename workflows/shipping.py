"""Workflow steps every lifecycle shares: book a parcel and render its label; name an address."""

from __future__ import annotations

import dataclasses

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.carrier import BookShipment, CarrierActivities
    from activities.documents import DocumentActivities, LabelRequest
    from domain.common import Address, Direction, DocumentRef, ShipmentRef
    from domain.documents import LabelData
    from domain.ids import step_key
    from workflows.base import (
        EXTERNAL_RETRY,
        EXTERNAL_TIMEOUT,
        QUICK_RETRY,
        RENDER_TIMEOUT,
    )


@dataclasses.dataclass
class Parcel:
    """Who sends what to whom, for one case; `step` names the side effect once per case."""

    org_id: str
    case_id: str
    tracking_url: str
    direction: Direction
    origin: Address
    destination: Address
    step: str
    label_kind: str


async def book_with_label(
    parcel: Parcel, retry: RetryPolicy = EXTERNAL_RETRY
) -> tuple[ShipmentRef, DocumentRef]:
    """Book the parcel with the carrier, then render and store its 4x6 label. Both carry
    keys from the workflow id and the step, so a retry books and renders once."""
    wf_id = workflow.info().workflow_id
    shipment = await workflow.execute_activity_method(
        CarrierActivities.book_shipment,
        BookShipment(
            idempotency_key=step_key(wf_id, parcel.step),
            org_id=parcel.org_id,
            case_id=parcel.case_id,
            workflow_id=wf_id,
            direction=parcel.direction,
            origin=parcel.origin,
            destination=parcel.destination,
        ),
        start_to_close_timeout=EXTERNAL_TIMEOUT,
        retry_policy=retry,
    )
    label = await workflow.execute_local_activity_method(
        DocumentActivities.render_label,
        LabelRequest(
            idempotency_key=step_key(wf_id, f"{parcel.step}-label"),
            org_id=parcel.org_id,
            case_id=parcel.case_id,
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
        ),
        start_to_close_timeout=RENDER_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )
    return shipment, label


def named(address: Address, name: str) -> Address:
    """The address with a name on it: its own, else the given one."""
    return dataclasses.replace(address, name=address.name or name)
