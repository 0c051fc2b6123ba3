"""The relocation workflow on the time-skipping server: appointments and their reminders,
missed visits, customer reschedules, the transport leg, commissioning and its certificate,
cancellation, and the refusals of out-of-order commands."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.store import CaseProjection, StoreActivities
from db import models
from db.outbox import OutboxConfig
from domain.common import Address, CarrierEvent, CarrierStatus, Customer, Policy
from domain.ids import new_tracking_token, relocation_workflow_id
from domain.relocation import (
    RESCHEDULE_LIMIT_REACHED,
    BookAppointment,
    ChecklistItem,
    Commissioning,
    RelocationCancel,
    RelocationResult,
    RelocationStart,
    RelocationStatus,
    RelocationView,
    RescheduleRequest,
    Stage,
    StageOutcome,
    StageReport,
    allowed_actions,
)
from domain.rma import Actor
from tests.workflows.conftest import Harness
from worker import WORKFLOWS, build_activities

R = RelocationStatus
Handle = WorkflowHandle[Any, Any]

RETAILER = Actor("retailer", "org")
FROM_SITE = Address(
    name="Old Lab",
    line1="1 Babbage Street",
    line2="Basement",
    city="Cambridge",
    region="MA",
    postal_code="02139",
    country="US",
)
TO_SITE = Address(
    name="New Lab",
    line1="99 Lovelace Avenue",
    line2="Floor 3",
    city="Boston",
    region="MA",
    postal_code="02110",
    country="US",
)
CUSTOMER_ADDRESS = Address(line1="5 Turing Way", city="Boston", postal_code="02111", country="US")
REMINDER_BEFORE = timedelta(hours=24)

UNINSTALL_CHECKLIST = [
    ChecklistItem("power isolated", True),
    ChecklistItem("anchors removed", True, "4 bolts"),
    ChecklistItem("crated", True),
]
REINSTALL_CHECKLIST = [ChecklistItem("anchored", True), ChecklistItem("power connected", True)]
ALL_PASSED = [
    ChecklistItem("self test", True),
    ChecklistItem("calibration", True, "within 0.1%"),
]


# ------------------------------------------------------------------------ helpers


@dataclass
class Relocation:
    """One case under test: what started it, its handle and the provider doing the work."""

    start: RelocationStart
    handle: Handle
    provider: Actor

    @property
    def id(self) -> str:
        return self.start.relocation_id


Opener = Callable[..., Awaitable[tuple[Relocation, RelocationView]]]


async def add_provider(h: Harness) -> str:
    async with h.sessions.begin() as session:
        org = models.Organisation(name="Test Installers", kind="repair_center")
        session.add(org)
    return org.id


async def add_asset(h: Harness, sku: str, serial: str) -> str:
    async with h.sessions.begin() as session:
        asset = models.Asset(org_id=h.org_id, sku=sku, serial=serial, site=FROM_SITE.to_json())
        session.add(asset)
    return asset.id


def relocation_start(
    h: Harness, *, provider_org_id: str, asset_id: str, sku: str, serial: str
) -> RelocationStart:
    return RelocationStart(
        relocation_id=f"REL-TEST-{uuid.uuid4().hex[:10].upper()}",
        org_id=h.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        provider_org_id=provider_org_id,
        provider_name="Test Installers",
        asset_id=asset_id,
        sku=sku,
        serial=serial,
        product_name="Bench Centrifuge",
        from_site=FROM_SITE,
        to_site=TO_SITE,
        customer=Customer(name="Ada Lovelace", email="ada@example.com", address=CUSTOMER_ADDRESS),
        policy=Policy(max_reschedules=2),
        public_base_url="http://aftersales.test",
    )


def start_operation(
    h: Harness, s: RelocationStart, task_queue: str | None
) -> WithStartWorkflowOperation[Any, Any]:
    return WithStartWorkflowOperation(
        "Relocation",
        s,
        id=relocation_workflow_id(s.relocation_id),
        task_queue=task_queue or h.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        result_type=RelocationResult,
    )


@pytest.fixture
async def open_relocation(harness: Harness) -> AsyncIterator[Opener]:
    """Opens relocations as the API does (update-with-start on `accept`); whatever a test
    leaves open is terminated afterwards, so its timers cannot fire in later tests."""
    opened: list[Handle] = []

    async def opener(task_queue: str | None = None) -> tuple[Relocation, RelocationView]:
        h = harness
        sku = f"REL-SKU-{uuid.uuid4().hex[:6].upper()}"
        serial = f"SN-{uuid.uuid4().hex[:10]}"
        provider = await add_provider(h)
        asset = await add_asset(h, sku, serial)
        s = relocation_start(h, provider_org_id=provider, asset_id=asset, sku=sku, serial=serial)
        operation = start_operation(h, s, task_queue)
        view: RelocationView = await h.env.client.execute_update_with_start_workflow(
            "accept", start_workflow_operation=operation, result_type=RelocationView
        )
        handle = await operation.workflow_handle()
        opened.append(handle)
        return Relocation(s, handle, Actor("repair_center", provider)), view

    yield opener
    for handle in opened:
        with contextlib.suppress(Exception):
            await handle.terminate("test over")


async def send(handle: Handle, name: str, arg: Any) -> RelocationView:
    view: RelocationView = await handle.execute_update(name, arg, result_type=RelocationView)
    return view


async def book(rel: Relocation, stage: Stage, starts_at: datetime) -> RelocationView:
    return await send(
        rel.handle,
        "book_appointment",
        BookAppointment(rel.provider, stage, starts_at, technician="Tess Technician"),
    )


async def report(
    rel: Relocation, outcome: StageOutcome, checklist: list[ChecklistItem] | None = None
) -> RelocationView:
    return await send(
        rel.handle, "report_stage", StageReport(rel.provider, outcome, checklist or [])
    )


async def commission(rel: Relocation, checklist: list[ChecklistItem]) -> RelocationView:
    return await send(rel.handle, "commission", Commissioning(rel.provider, checklist))


async def refused(handle: Handle, name: str, arg: Any) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await send(handle, name, arg)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def expect_invalid(handle: Handle, name: str, arg: Any, status: RelocationStatus) -> None:
    cause = await refused(handle, name, arg)
    assert cause.type == "invalid_transition"
    assert cause.details[0]["current_status"] == status.value
    assert cause.details[0]["allowed"] == list(allowed_actions(status))


async def now(h: Harness) -> datetime:
    """The server's (virtual) clock, which the workflow reads too."""
    return await h.env.get_current_time()


async def case_row(h: Harness, case_id: str) -> models.Case:
    async with h.sessions() as session:
        case = await session.get(models.Case, case_id)
        assert case is not None
        return case


async def timeline(h: Harness, case_id: str) -> list[models.TimelineEvent]:
    async with h.sessions() as session:
        rows = await session.scalars(
            select(models.TimelineEvent)
            .where(models.TimelineEvent.case_id == case_id)
            .order_by(models.TimelineEvent.seq)
        )
        return list(rows.all())


async def events(h: Harness, case_id: str) -> list[str]:
    return [e.event for e in await timeline(h, case_id)]


async def reminders(h: Harness, case_id: str) -> list[models.TimelineEvent]:
    return [e for e in await timeline(h, case_id) if e.event == "appointment_reminder"]


async def shipments(h: Harness, case_id: str) -> list[models.Shipment]:
    async with h.sessions() as session:
        rows = await session.scalars(
            select(models.Shipment).where(models.Shipment.case_id == case_id)
        )
        return list(rows.all())


async def documents(h: Harness, case_id: str) -> list[models.Document]:
    async with h.sessions() as session:
        rows = await session.scalars(
            select(models.Document).where(models.Document.case_id == case_id)
        )
        return list(rows.all())


async def asset_row(h: Harness, asset_id: str) -> models.Asset:
    async with h.sessions() as session:
        asset = await session.get(models.Asset, asset_id)
        assert asset is not None
        return asset


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll the read model in real time (the worker runs on real time between skips)."""
    for _ in range(250):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def until_status(h: Harness, case_id: str, status: RelocationStatus) -> None:
    async def reached() -> bool:
        return (await case_row(h, case_id)).status == status.value

    await eventually(reached, f"{case_id} to be {status.value}")


async def until_reminders(h: Harness, case_id: str, count: int) -> None:
    async def reminded() -> bool:
        return len(await reminders(h, case_id)) >= count

    await eventually(reminded, f"{count} reminder(s) on {case_id}")


def assert_reminded_for(reminder: models.TimelineEvent, stage: Stage, starts_at: datetime) -> None:
    """The reminder names its appointment and came a day before it."""
    assert reminder.detail == {"stage": stage.value, "starts_at": starts_at.isoformat()}
    assert abs(reminder.at - (starts_at - REMINDER_BEFORE)) < timedelta(minutes=1)


def scan(tracking: str, status: CarrierStatus) -> CarrierEvent:
    return CarrierEvent(
        event_id=uuid.uuid4().hex,
        tracking_number=tracking,
        status=status,
        occurred_at=datetime.now(UTC),  # the carrier's own clock: informative only
        location="Depot",
    )


async def transport(h: Harness, rel: Relocation) -> models.Shipment:
    (parcel,) = await shipments(h, rel.id)
    return parcel


async def through_uninstall(h: Harness, rel: Relocation) -> None:
    """From `scheduling_uninstall`: an uninstall booked for tomorrow and done."""
    starts_at = await now(h) + timedelta(days=1)
    assert (await book(rel, Stage.UNINSTALL, starts_at)).status == R.UNINSTALL_SCHEDULED
    view = await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    assert view.status == R.UNINSTALLED


async def through_transport(h: Harness, rel: Relocation) -> None:
    """From `uninstalled`: the carrier picks the equipment up and delivers it."""
    tracking = (await transport(h, rel)).tracking_number
    await rel.handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
    await until_status(h, rel.id, R.IN_TRANSIT)
    await rel.handle.signal("carrier_event", scan(tracking, CarrierStatus.DELIVERED))
    await until_status(h, rel.id, R.DELIVERED)


async def through_reinstall(h: Harness, rel: Relocation) -> None:
    """From `delivered`: a reinstall booked for tomorrow and done."""
    starts_at = await now(h) + timedelta(days=1)
    assert (await book(rel, Stage.REINSTALL, starts_at)).status == R.REINSTALL_SCHEDULED
    view = await report(rel, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST)
    assert view.status == R.REINSTALLED


# ---------------------------------------------------------------- the whole journey


async def test_straight_through_moves_the_asset_and_certifies_it(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    rel, view = await open_relocation()
    assert view.status == R.SCHEDULING_UNINSTALL
    assert (await case_row(h, rel.id)).case_type == "relocation"

    # The uninstall is booked three days out; the customer is reminded a day before.
    uninstall_at = await now(h) + timedelta(days=3)
    view = await book(rel, Stage.UNINSTALL, uninstall_at)
    assert view.status == R.UNINSTALL_SCHEDULED
    assert view.appointment is not None
    assert (view.appointment.stage, view.appointment.starts_at) == (Stage.UNINSTALL, uninstall_at)
    row = await case_row(h, rel.id)
    assert row.status == "uninstall_scheduled"
    assert row.data["appointment"]["starts_at"] == uninstall_at.isoformat()
    assert await reminders(h, rel.id) == []
    await h.env.sleep(timedelta(days=2, hours=1))
    await until_reminders(h, rel.id, 1)
    await h.env.sleep(timedelta(days=1))  # the day of the visit

    view = await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    assert view.status == R.UNINSTALLED
    assert view.appointment is None
    # The equipment goes by carrier, from the old site to the new one, with a label.
    parcel = await transport(h, rel)
    assert (parcel.direction, parcel.status) == ("outbound", "label_created")
    assert parcel.from_address["line1"] == FROM_SITE.line1
    assert parcel.to_address["line1"] == TO_SITE.line1
    assert [d.kind for d in await documents(h, rel.id)] == ["shipping_label"]
    row = await case_row(h, rel.id)
    assert row.status == "uninstalled"
    assert [c["item"] for c in row.data["checklists"]["uninstall"]] == [
        c.item for c in UNINSTALL_CHECKLIST
    ]
    timeline_events = await events(h, rel.id)
    assert timeline_events.index("uninstalled") < timeline_events.index("transport_booked")

    await rel.handle.signal("carrier_event", scan(parcel.tracking_number, CarrierStatus.PICKED_UP))
    await until_status(h, rel.id, R.IN_TRANSIT)
    await rel.handle.signal("carrier_event", scan(parcel.tracking_number, CarrierStatus.DELIVERED))
    await until_status(h, rel.id, R.DELIVERED)

    reinstall_at = await now(h) + timedelta(days=3)
    view = await book(rel, Stage.REINSTALL, reinstall_at)
    assert view.status == R.REINSTALL_SCHEDULED
    await h.env.sleep(timedelta(days=2, hours=1))
    await until_reminders(h, rel.id, 2)
    await h.env.sleep(timedelta(days=1))
    view = await report(rel, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST)
    assert view.status == R.REINSTALLED
    assert (await asset_row(h, rel.start.asset_id)).site["line1"] == FROM_SITE.line1

    view = await commission(rel, ALL_PASSED)
    assert view.status == R.COMPLETED
    result: RelocationResult = await rel.handle.result()
    assert result.status == R.COMPLETED
    assert [s.tracking_number for s in result.shipments] == [parcel.tracking_number]
    assert [d.kind for d in result.documents] == ["shipping_label", "relocation_certificate"]

    (certificate,) = [d for d in await documents(h, rel.id) if d.kind == "relocation_certificate"]
    assert certificate.verification_code is not None
    assert certificate.verification_code.startswith("RC-")
    assert result.documents[-1].verification_code == certificate.verification_code
    asset = await asset_row(h, rel.start.asset_id)
    assert asset.site == TO_SITE.to_json()
    assert asset.moved_by_case_id == rel.id
    assert (await case_row(h, rel.id)).status == "completed"

    # One reminder per appointment, each a day before it.
    uninstall_reminder, reinstall_reminder = await reminders(h, rel.id)
    assert_reminded_for(uninstall_reminder, Stage.UNINSTALL, uninstall_at)
    assert_reminded_for(reinstall_reminder, Stage.REINSTALL, reinstall_at)
    assert (await events(h, rel.id))[-1] == "commissioned"


async def test_a_missed_uninstall_is_booked_again(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    rel, _ = await open_relocation()
    first = await now(h) + timedelta(hours=6)
    await book(rel, Stage.UNINSTALL, first)
    view = await report(rel, StageOutcome.MISSED)
    assert view.status == R.SCHEDULING_UNINSTALL
    assert view.appointment is None
    row = await case_row(h, rel.id)
    assert row.status == "scheduling_uninstall"
    assert row.data["appointment"] is None
    (missed,) = [e for e in await timeline(h, rel.id) if e.event == "appointment_missed"]
    assert missed.detail == {"stage": "uninstall", "starts_at": first.isoformat()}

    # Nothing but a new booking gets it going again.
    await expect_invalid(
        rel.handle,
        "report_stage",
        StageReport(rel.provider, StageOutcome.UNINSTALLED),
        R.SCHEDULING_UNINSTALL,
    )
    second = await now(h) + timedelta(days=2)
    view = await book(rel, Stage.UNINSTALL, second)
    assert view.status == R.UNINSTALL_SCHEDULED
    assert view.appointment is not None
    assert view.appointment.starts_at == second
    view = await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    assert view.status == R.UNINSTALLED
    assert len(await shipments(h, rel.id)) == 1
    await through_transport(h, rel)
    await through_reinstall(h, rel)
    assert (await commission(rel, ALL_PASSED)).status == R.COMPLETED
    assert (await rel.handle.result()).status == R.COMPLETED


# ------------------------------------------------------------------- reschedules


async def test_two_reschedules_then_the_third_is_refused(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    rel, _ = await open_relocation()
    for used in (1, 2):
        await book(rel, Stage.UNINSTALL, await now(h) + timedelta(days=3))
        after = await now(h) + timedelta(days=7)
        view = await send(rel.handle, "reschedule", RescheduleRequest(Stage.UNINSTALL, after))
        assert (view.status, view.reschedules_used, view.appointment) == (
            R.SCHEDULING_UNINSTALL,
            used,
            None,
        )
        row = await case_row(h, rel.id)
        assert row.status == "scheduling_uninstall"
        assert row.data["reschedules_used"] == used
        last = (await timeline(h, rel.id))[-1]
        assert (last.event, last.actor) == ("reschedule_requested", "customer")
        assert last.detail == {
            "stage": "uninstall",
            "reschedules": str(used),
            "preferred_after": after.isoformat(),
        }

    booked_at = await now(h) + timedelta(days=8)
    await book(rel, Stage.UNINSTALL, booked_at)
    before = await events(h, rel.id)
    cause = await refused(rel.handle, "reschedule", RescheduleRequest(Stage.UNINSTALL))
    assert cause.type == RESCHEDULE_LIMIT_REACHED
    assert cause.details[0] == {"reschedules_used": 2}

    view = await rel.handle.query("current", result_type=RelocationView)
    assert (view.status, view.reschedules_used) == (R.UNINSTALL_SCHEDULED, 2)
    assert view.appointment is not None
    assert view.appointment.starts_at == booked_at
    assert await events(h, rel.id) == before
    row = await case_row(h, rel.id)
    assert (row.status, row.data["reschedules_used"]) == ("uninstall_scheduled", 2)
    # The provider can still do the visit.
    assert (await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)).status == (
        R.UNINSTALLED
    )


# ------------------------------------------------------------------ commissioning


async def test_failed_commissioning_then_a_passing_one(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    rel, _ = await open_relocation()
    await through_uninstall(h, rel)
    await through_transport(h, rel)
    await through_reinstall(h, rel)

    failing = [ChecklistItem("self test", True), ChecklistItem("calibration", False, "drifts")]
    view = await commission(rel, failing)
    assert view.status == R.REINSTALLED
    failed = (await timeline(h, rel.id))[-1]
    assert (failed.event, failed.status) == ("commissioning_failed", "reinstalled")
    assert failed.detail == {"failed": "calibration"}
    assert (await case_row(h, rel.id)).status == "reinstalled"
    asset = await asset_row(h, rel.start.asset_id)
    assert (asset.site, asset.moved_by_case_id) == (FROM_SITE.to_json(), None)
    assert "relocation_certificate" not in [d.kind for d in await documents(h, rel.id)]

    view = await commission(rel, ALL_PASSED)
    assert view.status == R.COMPLETED
    assert (await rel.handle.result()).status == R.COMPLETED
    asset = await asset_row(h, rel.start.asset_id)
    assert (asset.site, asset.moved_by_case_id) == (TO_SITE.to_json(), rel.id)
    kinds = [d.kind for d in await documents(h, rel.id)]
    assert kinds.count("relocation_certificate") == 1
    assert (await case_row(h, rel.id)).data["checklists"]["commissioning"] == [
        {"item": c.item, "passed": c.passed, "note": c.note} for c in ALL_PASSED
    ]


# --------------------------------------------------------------------- cancelling


@pytest.mark.parametrize("stage", ["scheduling_uninstall", "uninstall_scheduled", "uninstalled"])
async def test_cancel_before_the_equipment_is_on_the_road(
    harness: Harness, open_relocation: Opener, stage: str
) -> None:
    h = harness
    rel, _ = await open_relocation()
    if stage != "scheduling_uninstall":
        await book(rel, Stage.UNINSTALL, await now(h) + timedelta(days=2))
    if stage == "uninstalled":
        await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
        assert (await transport(h, rel)).status == "label_created"
    assert (await case_row(h, rel.id)).status == stage

    view = await send(rel.handle, "cancel", RelocationCancel(RETAILER, reason="customer_moved"))
    assert (view.status, view.appointment) == (R.CANCELLED, None)
    result: RelocationResult = await rel.handle.result()
    assert result.status == R.CANCELLED
    row = await case_row(h, rel.id)
    assert row.status == "cancelled"
    assert row.data["appointment"] is None
    last = (await timeline(h, rel.id))[-1]
    assert (last.event, last.detail) == ("cancelled", {"reason": "customer_moved"})
    parcels = await shipments(h, rel.id)
    if stage == "uninstalled":
        assert [p.status for p in parcels] == ["voided"]
    else:
        assert parcels == []
    asset = await asset_row(h, rel.start.asset_id)
    assert (asset.site, asset.moved_by_case_id) == (FROM_SITE.to_json(), None)


async def test_cancel_is_refused_once_in_transit(harness: Harness, open_relocation: Opener) -> None:
    h = harness
    rel, _ = await open_relocation()
    await through_uninstall(h, rel)
    parcel = await transport(h, rel)
    await rel.handle.signal("carrier_event", scan(parcel.tracking_number, CarrierStatus.PICKED_UP))
    await until_status(h, rel.id, R.IN_TRANSIT)
    before = await events(h, rel.id)

    await expect_invalid(rel.handle, "cancel", RelocationCancel(RETAILER), R.IN_TRANSIT)
    assert await events(h, rel.id) == before
    assert (await case_row(h, rel.id)).status == "in_transit"
    assert (await transport(h, rel)).status == "label_created"
    view = await rel.handle.query("current", result_type=RelocationView)
    assert view.status == R.IN_TRANSIT


# ------------------------------------------------------------- out-of-order commands


async def test_out_of_order_commands_are_refused_and_change_nothing(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    rel, _ = await open_relocation()
    starts_at = await now(h) + timedelta(days=2)
    before = await events(h, rel.id)
    await expect_invalid(
        rel.handle, "commission", Commissioning(rel.provider, ALL_PASSED), R.SCHEDULING_UNINSTALL
    )
    await expect_invalid(
        rel.handle,
        "reschedule",
        RescheduleRequest(Stage.UNINSTALL),
        R.SCHEDULING_UNINSTALL,
    )
    await expect_invalid(
        rel.handle,
        "report_stage",
        StageReport(rel.provider, StageOutcome.MISSED),
        R.SCHEDULING_UNINSTALL,
    )
    assert await events(h, rel.id) == before
    assert (await case_row(h, rel.id)).status == "scheduling_uninstall"

    await book(rel, Stage.UNINSTALL, starts_at)
    before = await events(h, rel.id)
    await expect_invalid(
        rel.handle,
        "report_stage",
        StageReport(rel.provider, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST),
        R.UNINSTALL_SCHEDULED,
    )
    await expect_invalid(
        rel.handle,
        "book_appointment",
        BookAppointment(rel.provider, Stage.REINSTALL, starts_at, "Tess Technician"),
        R.UNINSTALL_SCHEDULED,
    )
    await expect_invalid(
        rel.handle, "commission", Commissioning(rel.provider, ALL_PASSED), R.UNINSTALL_SCHEDULED
    )
    assert await events(h, rel.id) == before
    row = await case_row(h, rel.id)
    assert row.status == "uninstall_scheduled"
    assert row.data["appointment"]["stage"] == "uninstall"
    assert await shipments(h, rel.id) == []


# ----------------------------------------------------------------------- reminders


@pytest.mark.parametrize(
    ("first_in", "moved_to"),
    [(timedelta(days=3), timedelta(days=5)), (timedelta(days=5), timedelta(days=2, hours=12))],
    ids=["moved-later", "moved-earlier"],
)
async def test_a_moved_appointment_is_reminded_once_at_its_new_time(
    harness: Harness, open_relocation: Opener, first_in: timedelta, moved_to: timedelta
) -> None:
    h = harness
    rel, _ = await open_relocation()
    t0 = await now(h)
    await book(rel, Stage.UNINSTALL, t0 + first_in)
    await h.env.sleep(timedelta(days=1))
    # The provider moves the visit before the first reminder was due.
    view = await book(rel, Stage.UNINSTALL, t0 + moved_to)
    assert view.status == R.UNINSTALL_SCHEDULED
    assert view.appointment is not None
    assert view.appointment.starts_at == t0 + moved_to
    assert await reminders(h, rel.id) == []

    # Past the new reminder time, and past the replaced one's too.
    latest = max(first_in, moved_to)
    await h.env.sleep(latest - REMINDER_BEFORE - timedelta(days=1) + timedelta(hours=1))
    await until_reminders(h, rel.id, 1)
    # The visit is done: once the report is applied, any reminder that fell due is on the
    # timeline (the workflow issues due reminders before it applies a command).
    await report(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    (reminder,) = await reminders(h, rel.id)
    assert_reminded_for(reminder, Stage.UNINSTALL, t0 + moved_to)
    assert (await case_row(h, rel.id)).data["appointment"] is None


# --------------------------------------------------------------------------- races


class Gate:
    """Holds an activity at its start until the test opens it."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.opened = asyncio.Event()

    async def pass_through(self) -> None:
        self.reached.set()
        await self.opened.wait()


class GatedStore(StoreActivities):
    """The real read-model writes, except that projecting `event` waits at the gate."""

    def __init__(self, h: Harness, event: str, gate: Gate) -> None:
        super().__init__(h.sessions, OutboxConfig(h.settings.public_base_url, send_email=False))
        self.event = event
        self.gate = gate

    @activity.defn(name="project")
    async def project(self, projection: CaseProjection) -> None:
        if any(entry.event == self.event for entry in projection.timeline):
            await self.gate.pass_through()
        await super().project(projection)


@contextlib.asynccontextmanager
async def side_worker(
    h: Harness, replacements: dict[str, Callable[..., Any]]
) -> AsyncIterator[str]:
    """A worker like `worker.build_worker` on a task queue of its own, with some activities
    swapped for test doubles of the same name. Yields the task queue."""
    activities = [
        fn
        for fn in build_activities(h.sessions, h.settings)
        if getattr(fn, "__name__", "") not in replacements
    ]
    queue = f"rel-side-{uuid.uuid4().hex[:6]}"
    async with Worker(
        h.env.client,
        task_queue=queue,
        workflows=list(WORKFLOWS),
        activities=[*activities, *replacements.values()],
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_all_modules()
        ),
    ):
        yield queue


async def test_a_cancel_accepted_before_the_pick_up_is_not_applied_on_the_road(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    gate = Gate()
    store = GatedStore(h, "carrier_exception", gate)
    async with side_worker(h, {"project": store.project}) as queue:
        rel, _ = await open_relocation(queue)
        await through_uninstall(h, rel)
        tracking = (await transport(h, rel)).tracking_number
        # A carrier exception (a failed pick-up attempt) keeps the workflow busy projecting...
        await rel.handle.signal("carrier_event", scan(tracking, CarrierStatus.EXCEPTION))
        await asyncio.wait_for(gate.reached.wait(), 10)
        # ...while the retailer cancels (still uninstalled: the cancel is allowed) and the
        # carrier, a moment later, picks the crate up.
        cancel = asyncio.create_task(
            send(rel.handle, "cancel", RelocationCancel(RETAILER, reason="customer_moved"))
        )
        await asyncio.sleep(0.5)
        await rel.handle.signal("carrier_event", scan(tracking, CarrierStatus.PICKED_UP))
        gate.opened.set()
        try:
            view: RelocationView | None = await asyncio.wait_for(cancel, 10)
        except WorkflowUpdateFailedError:
            view = None
        entries = [(e.status, e.event) for e in await timeline(h, rel.id)]
        if view is None:
            # Refused: then the equipment is on its way and the case goes on.
            await until_status(h, rel.id, R.IN_TRANSIT)
        else:
            # Accepted before the pick-up: then it takes effect before it, and the parcel
            # is voided; a case is never cancelled from the road.
            assert view.status == R.CANCELLED
            assert "in_transit" not in [status for status, _ in entries], entries
            assert (await transport(h, rel)).status == "voided"
