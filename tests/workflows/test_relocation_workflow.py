"""The relocation workflow on the time-skipping server: appointments and their reminders,
missed visits, customer reschedules, the transport leg, commissioning and its certificate,
cancellation, and the refusals of out-of-order commands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError

from db import models
from domain.common import CarrierStatus
from domain.relocation import (
    RESCHEDULE_LIMIT_REACHED,
    BookAppointment,
    ChecklistItem,
    Commissioning,
    RelocationCancel,
    RelocationStatus,
    RelocationView,
    RescheduleRequest,
    Stage,
    StageOutcome,
    StageReport,
    allowed_actions,
)
from tests.workflows import kit
from tests.workflows.kit import (
    ALL_PASSED,
    FROM_SITE,
    REINSTALL_CHECKLIST,
    RETAILER,
    TO_SITE,
    UNINSTALL_CHECKLIST,
    Gate,
    GatedStore,
    Harness,
    Relocation,
    book,
    case_row,
    commission,
    documents,
    events,
    now,
    refused,
    reminders,
    report_stage,
    scan,
    shipments,
    side_worker,
    through_reinstall,
    through_transport,
    through_uninstall,
    timeline,
    transport,
    typed,
    until_reminders,
    until_status,
)
from workflows.relocation import RelocationWorkflow

R = RelocationStatus
REMINDER_BEFORE = timedelta(hours=24)

Opener = Callable[..., Awaitable[tuple[Relocation, RelocationView]]]


@pytest.fixture
async def open_relocation(harness: Harness) -> AsyncIterator[Opener]:
    """Opens relocations as the API does (update-with-start on `accept`); whatever a test
    leaves open is terminated afterwards, so its timers cannot fire in later tests."""
    opened: list[Relocation] = []

    async def opener(task_queue: str | None = None) -> tuple[Relocation, RelocationView]:
        rel, view = await kit.open_relocation(harness, task_queue)
        opened.append(rel)
        return rel, view

    yield opener
    for rel in opened:
        with contextlib.suppress(Exception):
            await kit.terminate_when_idle(harness, rel.handle.id, within=5)


async def expect_invalid(call: Any, status: RelocationStatus) -> None:
    """Refused as an invalid transition from `status`, naming the actions it allows."""
    await kit.expect_invalid(call, status.value, list(allowed_actions(status)))


async def asset_row(h: Harness, asset_id: str) -> models.Asset:
    async with h.sessions() as session:
        asset = await session.get(models.Asset, asset_id)
        assert asset is not None
        return asset


def assert_reminded_for(reminder: models.TimelineEvent, stage: Stage, starts_at: datetime) -> None:
    """The reminder names its appointment and came a day before it."""
    assert reminder.detail == {"stage": stage.value, "starts_at": starts_at.isoformat()}
    assert abs(reminder.at - (starts_at - REMINDER_BEFORE)) < timedelta(minutes=1)


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

    view = await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
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

    await rel.handle.signal(
        RelocationWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.PICKED_UP)
    )
    await until_status(h, rel.id, R.IN_TRANSIT)
    await rel.handle.signal(
        RelocationWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.DELIVERED)
    )
    await until_status(h, rel.id, R.DELIVERED)

    reinstall_at = await now(h) + timedelta(days=3)
    view = await book(rel, Stage.REINSTALL, reinstall_at)
    assert view.status == R.REINSTALL_SCHEDULED
    await h.env.sleep(timedelta(days=2, hours=1))
    await until_reminders(h, rel.id, 2)
    await h.env.sleep(timedelta(days=1))
    view = await report_stage(rel, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST)
    assert view.status == R.REINSTALLED
    assert (await asset_row(h, rel.start.asset_id)).site["line1"] == FROM_SITE.line1

    view = await commission(rel, ALL_PASSED)
    assert view.status == R.COMPLETED
    result = await rel.handle.result()
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
    view = await report_stage(rel, StageOutcome.MISSED)
    assert view.status == R.SCHEDULING_UNINSTALL
    assert view.appointment is None
    row = await case_row(h, rel.id)
    assert row.status == "scheduling_uninstall"
    assert row.data["appointment"] is None
    (missed,) = [e for e in await timeline(h, rel.id) if e.event == "appointment_missed"]
    assert missed.detail == {"stage": "uninstall", "starts_at": first.isoformat()}

    # Nothing but a new booking gets it going again.
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.report_stage),
            StageReport(rel.provider, StageOutcome.UNINSTALLED),
        ),
        R.SCHEDULING_UNINSTALL,
    )
    second = await now(h) + timedelta(days=2)
    view = await book(rel, Stage.UNINSTALL, second)
    assert view.status == R.UNINSTALL_SCHEDULED
    assert view.appointment is not None
    assert view.appointment.starts_at == second
    view = await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
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
        view = await rel.handle.execute_update(
            typed(RelocationWorkflow.reschedule), RescheduleRequest(Stage.UNINSTALL, after)
        )
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
    cause = await refused(
        rel.handle.execute_update(
            typed(RelocationWorkflow.reschedule), RescheduleRequest(Stage.UNINSTALL)
        )
    )
    assert cause.type == RESCHEDULE_LIMIT_REACHED
    assert cause.details[0] == {"reschedules_used": 2}

    view = await rel.handle.query(RelocationWorkflow.current)
    assert (view.status, view.reschedules_used) == (R.UNINSTALL_SCHEDULED, 2)
    assert view.appointment is not None
    assert view.appointment.starts_at == booked_at
    assert await events(h, rel.id) == before
    row = await case_row(h, rel.id)
    assert (row.status, row.data["reschedules_used"]) == ("uninstall_scheduled", 2)
    # The provider can still do the visit.
    assert (await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)).status == (
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
        await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
        assert (await transport(h, rel)).status == "label_created"
    assert (await case_row(h, rel.id)).status == stage

    view = await rel.handle.execute_update(
        typed(RelocationWorkflow.cancel), RelocationCancel(RETAILER, reason="customer_moved")
    )
    assert (view.status, view.appointment) == (R.CANCELLED, None)
    result = await rel.handle.result()
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
    await rel.handle.signal(
        RelocationWorkflow.carrier_event, scan(parcel.tracking_number, CarrierStatus.PICKED_UP)
    )
    await until_status(h, rel.id, R.IN_TRANSIT)
    before = await events(h, rel.id)

    await expect_invalid(
        rel.handle.execute_update(typed(RelocationWorkflow.cancel), RelocationCancel(RETAILER)),
        R.IN_TRANSIT,
    )
    assert await events(h, rel.id) == before
    assert (await case_row(h, rel.id)).status == "in_transit"
    assert (await transport(h, rel)).status == "label_created"
    view = await rel.handle.query(RelocationWorkflow.current)
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
        rel.handle.execute_update(
            typed(RelocationWorkflow.commission), Commissioning(rel.provider, ALL_PASSED)
        ),
        R.SCHEDULING_UNINSTALL,
    )
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.reschedule), RescheduleRequest(Stage.UNINSTALL)
        ),
        R.SCHEDULING_UNINSTALL,
    )
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.report_stage), StageReport(rel.provider, StageOutcome.MISSED)
        ),
        R.SCHEDULING_UNINSTALL,
    )
    assert await events(h, rel.id) == before
    assert (await case_row(h, rel.id)).status == "scheduling_uninstall"

    await book(rel, Stage.UNINSTALL, starts_at)
    before = await events(h, rel.id)
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.report_stage),
            StageReport(rel.provider, StageOutcome.REINSTALLED, REINSTALL_CHECKLIST),
        ),
        R.UNINSTALL_SCHEDULED,
    )
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.book_appointment),
            BookAppointment(rel.provider, Stage.REINSTALL, starts_at, "Tess Technician"),
        ),
        R.UNINSTALL_SCHEDULED,
    )
    await expect_invalid(
        rel.handle.execute_update(
            typed(RelocationWorkflow.commission), Commissioning(rel.provider, ALL_PASSED)
        ),
        R.UNINSTALL_SCHEDULED,
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
    await report_stage(rel, StageOutcome.UNINSTALLED, UNINSTALL_CHECKLIST)
    (reminder,) = await reminders(h, rel.id)
    assert_reminded_for(reminder, Stage.UNINSTALL, t0 + moved_to)
    assert (await case_row(h, rel.id)).data["appointment"] is None


# --------------------------------------------------------------------------- races


async def test_a_cancel_accepted_before_the_pick_up_is_not_applied_on_the_road(
    harness: Harness, open_relocation: Opener
) -> None:
    h = harness
    gate = Gate()
    store = GatedStore(
        h, gate, lambda projection: any(e.event == "carrier_exception" for e in projection.timeline)
    )
    async with side_worker(h, {"project": store.project}) as queue:
        rel, _ = await open_relocation(queue)
        await through_uninstall(h, rel)
        tracking = (await transport(h, rel)).tracking_number
        # A carrier exception (a failed pick-up attempt) keeps the workflow busy projecting...
        await rel.handle.signal(
            RelocationWorkflow.carrier_event, scan(tracking, CarrierStatus.EXCEPTION)
        )
        await asyncio.wait_for(gate.reached.wait(), 10)
        # ...while the retailer cancels (still uninstalled: the cancel is allowed) and the
        # carrier, a moment later, picks the crate up.
        cancel = asyncio.create_task(
            rel.handle.execute_update(
                typed(RelocationWorkflow.cancel),
                RelocationCancel(RETAILER, reason="customer_moved"),
            )
        )
        await asyncio.sleep(0.5)
        await rel.handle.signal(
            RelocationWorkflow.carrier_event, scan(tracking, CarrierStatus.PICKED_UP)
        )
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
