"""The installation workflow on the time-skipping server: the visit and its reminder, missed
visits, customer reschedules, commissioning with its certificate and the asset it makes at
the site, the training asked for, cancellation, and the refusals of out-of-order commands."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from domain.appointments import RESCHEDULE_LIMIT_REACHED, ChecklistItem
from domain.installation import (
    BookVisit,
    InstallationCancel,
    InstallationCommissioning,
    InstallationReschedule,
    InstallationStatus,
    InstallationView,
    VisitOutcome,
    VisitReport,
    allowed_actions,
)
from tests.workflows import kit
from tests.workflows.kit import (
    ALL_PASSED,
    FROM_SITE,
    INSTALL_CHECKLIST,
    INSTALL_SITE,
    RETAILER,
    Harness,
    Installation,
    book_visit,
    case_row,
    commission_installation,
    documents,
    events,
    now,
    refused,
    reminders,
    report_visit,
    timeline,
    typed,
    until_reminders,
)
from workflows.installation import InstallationWorkflow

I = InstallationStatus  # noqa: E741 - the lifecycle's states
REMINDER_BEFORE = timedelta(hours=24)

Opener = Callable[..., Awaitable[tuple[Installation, InstallationView]]]


@pytest.fixture
async def open_installation(harness: Harness) -> AsyncIterator[Opener]:
    """Opens installations as the API does; whatever a test leaves open is terminated
    afterwards, so its timers cannot fire in later tests."""
    opened: list[Installation] = []

    async def opener(**options: Any) -> tuple[Installation, InstallationView]:
        ins, view = await kit.open_installation(harness, **options)
        opened.append(ins)
        return ins, view

    yield opener
    for ins in opened:
        with contextlib.suppress(Exception):
            await kit.terminate_when_idle(harness, ins.handle.id, within=5)


async def expect_invalid(call: Any, status: InstallationStatus) -> None:
    """Refused as an invalid transition from `status`, naming the actions it allows."""
    await kit.expect_invalid(call, status.value, list(allowed_actions(status)))


async def assets_of(h: Harness, ins: Installation) -> list[models.Asset]:
    async with h.sessions() as session:
        query = select(models.Asset).where(
            models.Asset.org_id == h.org_id, models.Asset.serial == ins.start.serial
        )
        return list((await session.scalars(query)).all())


def assert_reminded_for(reminder: models.TimelineEvent, starts_at: datetime) -> None:
    """The reminder names its visit and came a day before it."""
    assert reminder.detail == {"stage": "installation", "starts_at": starts_at.isoformat()}
    assert abs(reminder.at - (starts_at - REMINDER_BEFORE)) < timedelta(minutes=1)


# ---------------------------------------------------------------- the whole journey


async def test_installed_and_commissioned_with_training_makes_the_asset_and_certifies_it(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, view = await open_installation(training=True)
    assert view.status == I.SCHEDULING
    row = await case_row(h, ins.id)
    assert (row.case_type, row.status, row.receiving_org_id) == (
        "installation",
        "scheduling",
        ins.provider.org_id,
    )
    assert row.data["training"] is True
    assert row.data["site"]["line1"] == INSTALL_SITE.line1
    assert await assets_of(h, ins) == []

    visit_at = await now(h) + timedelta(days=3)
    view = await book_visit(ins, visit_at)
    assert view.status == I.SCHEDULED
    assert view.appointment is not None
    assert view.appointment.starts_at == visit_at
    row = await case_row(h, ins.id)
    assert row.data["appointment"] == {
        "starts_at": visit_at.isoformat(),
        "technician": "Tess Technician",
    }
    assert await reminders(h, ins.id) == []
    await h.env.sleep(timedelta(days=2, hours=1))
    await until_reminders(h, ins.id, 1)
    await h.env.sleep(timedelta(days=1))

    view = await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    assert (view.status, view.appointment) == (I.INSTALLED, None)
    installed = (await timeline(h, ins.id))[-1]
    assert (installed.event, installed.detail) == ("installed", {"checklist": "2/2 passed"})
    row = await case_row(h, ins.id)
    assert [c["item"] for c in row.data["checklists"]["installation"]] == [
        c.item for c in INSTALL_CHECKLIST
    ]
    # No asset until it is commissioned.
    assert await assets_of(h, ins) == []

    view = await commission_installation(ins, ALL_PASSED, training_given=True)
    assert view.status == I.COMPLETED
    result = await ins.handle.result()
    assert result.status == I.COMPLETED
    assert [d.kind for d in result.documents] == ["installation_certificate"]
    (certificate,) = await documents(h, ins.id, "installation_certificate")
    assert certificate.verification_code is not None
    assert certificate.verification_code.startswith("IC-")
    assert result.documents[0].verification_code == certificate.verification_code

    (asset,) = await assets_of(h, ins)
    assert (asset.sku, asset.site, asset.moved_by_case_id) == (
        ins.start.sku,
        INSTALL_SITE.to_json(),
        ins.id,
    )
    assert result.asset_id == asset.id
    row = await case_row(h, ins.id)
    assert (row.status, row.data["asset_id"], row.data["training_given"]) == (
        "completed",
        asset.id,
        True,
    )
    commissioned = (await timeline(h, ins.id))[-1]
    assert commissioned.event == "commissioned"
    assert commissioned.detail == {"asset_id": asset.id, "training_given": "true"}
    (reminder,) = await reminders(h, ins.id)
    assert_reminded_for(reminder, visit_at)


async def test_a_unit_seen_before_is_placed_at_the_new_site(
    harness: Harness, open_installation: Opener
) -> None:
    """The retailer's asset for the SKU and serial already exists (a relocation once made
    it): commissioning moves that one to the site instead of making a second."""
    h = harness
    ins, _ = await open_installation()
    async with h.sessions.begin() as session:
        earlier = models.Asset(
            org_id=h.org_id, sku=ins.start.sku, serial=ins.start.serial, site=FROM_SITE.to_json()
        )
        session.add(earlier)
    await book_visit(ins, await now(h) + timedelta(days=1))
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    view = await commission_installation(ins, ALL_PASSED)
    assert (view.status, view.asset_id) == (I.COMPLETED, earlier.id)
    (asset,) = await assets_of(h, ins)
    assert (asset.id, asset.site, asset.moved_by_case_id) == (
        earlier.id,
        INSTALL_SITE.to_json(),
        ins.id,
    )
    # Training was not asked: the timeline says nothing of it.
    assert (await timeline(h, ins.id))[-1].detail == {"asset_id": earlier.id}


async def test_a_missed_visit_is_booked_again(harness: Harness, open_installation: Opener) -> None:
    h = harness
    ins, _ = await open_installation()
    first = await now(h) + timedelta(hours=6)
    await book_visit(ins, first)
    view = await report_visit(ins, VisitOutcome.MISSED)
    assert (view.status, view.appointment) == (I.SCHEDULING, None)
    row = await case_row(h, ins.id)
    assert (row.status, row.data["appointment"]) == ("scheduling", None)
    (missed,) = [e for e in await timeline(h, ins.id) if e.event == "appointment_missed"]
    assert missed.detail == {"stage": "installation", "starts_at": first.isoformat()}

    await expect_invalid(
        ins.handle.execute_update(
            typed(InstallationWorkflow.report_visit),
            VisitReport(ins.provider, VisitOutcome.INSTALLED),
        ),
        I.SCHEDULING,
    )
    second = await now(h) + timedelta(days=2)
    assert (await book_visit(ins, second)).status == I.SCHEDULED
    assert (await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)).status == (
        I.INSTALLED
    )
    assert (await commission_installation(ins, ALL_PASSED)).status == I.COMPLETED
    assert (await ins.handle.result()).status == I.COMPLETED


# ------------------------------------------------------------------- reschedules


async def test_two_reschedules_then_the_third_is_refused(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, _ = await open_installation()
    for used in (1, 2):
        await book_visit(ins, await now(h) + timedelta(days=3))
        after = await now(h) + timedelta(days=7)
        view = await ins.handle.execute_update(
            typed(InstallationWorkflow.reschedule), InstallationReschedule(after)
        )
        assert (view.status, view.reschedules_used, view.appointment) == (
            I.SCHEDULING,
            used,
            None,
        )
        row = await case_row(h, ins.id)
        assert (row.status, row.data["reschedules_used"]) == ("scheduling", used)
        last = (await timeline(h, ins.id))[-1]
        assert (last.event, last.actor) == ("reschedule_requested", "customer")
        assert last.detail == {
            "stage": "installation",
            "reschedules": str(used),
            "preferred_after": after.isoformat(),
        }

    booked_at = await now(h) + timedelta(days=8)
    await book_visit(ins, booked_at)
    before = await events(h, ins.id)
    cause = await refused(
        ins.handle.execute_update(typed(InstallationWorkflow.reschedule), InstallationReschedule())
    )
    assert cause.type == RESCHEDULE_LIMIT_REACHED
    assert cause.details[0] == {"reschedules_used": 2}
    view = await ins.handle.query(InstallationWorkflow.current)
    assert (view.status, view.reschedules_used) == (I.SCHEDULED, 2)
    assert view.appointment is not None
    assert view.appointment.starts_at == booked_at
    assert await events(h, ins.id) == before
    # The provider can still do the visit.
    assert (await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)).status == (
        I.INSTALLED
    )


async def test_a_moved_visit_is_reminded_once_at_its_new_time(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, _ = await open_installation()
    t0 = await now(h)
    await book_visit(ins, t0 + timedelta(days=5))
    await h.env.sleep(timedelta(days=1))
    # The provider brings the visit forward before its first reminder was due.
    moved = t0 + timedelta(days=2, hours=12)
    assert (await book_visit(ins, moved)).status == I.SCHEDULED
    assert await reminders(h, ins.id) == []
    await h.env.sleep(timedelta(days=4))
    await until_reminders(h, ins.id, 1)
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    (reminder,) = await reminders(h, ins.id)
    assert_reminded_for(reminder, moved)


# ------------------------------------------------------------------ commissioning


async def test_failed_commissioning_then_a_passing_one(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, _ = await open_installation()
    await book_visit(ins, await now(h) + timedelta(days=1))
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)

    failing = [ChecklistItem("self test", True), ChecklistItem("calibration", False, "drifts")]
    view = await commission_installation(ins, failing)
    assert view.status == I.INSTALLED
    failed = (await timeline(h, ins.id))[-1]
    assert (failed.event, failed.status, failed.detail) == (
        "commissioning_failed",
        "installed",
        {"failed": "calibration"},
    )
    assert await documents(h, ins.id) == []
    assert await assets_of(h, ins) == []

    assert (await commission_installation(ins, ALL_PASSED)).status == I.COMPLETED
    assert (await ins.handle.result()).status == I.COMPLETED
    assert [d.kind for d in await documents(h, ins.id)] == ["installation_certificate"]
    assert len(await assets_of(h, ins)) == 1
    assert (await case_row(h, ins.id)).data["checklists"]["commissioning"] == [
        {"item": c.item, "passed": c.passed, "note": c.note} for c in ALL_PASSED
    ]


# --------------------------------------------------------------------- cancelling


@pytest.mark.parametrize("status", ["scheduling", "scheduled"])
async def test_cancel_until_installed(
    harness: Harness, open_installation: Opener, status: str
) -> None:
    h = harness
    ins, _ = await open_installation()
    if status == "scheduled":
        await book_visit(ins, await now(h) + timedelta(days=2))
    view = await ins.handle.execute_update(
        typed(InstallationWorkflow.cancel), InstallationCancel(RETAILER, reason="site not ready")
    )
    assert (view.status, view.appointment) == (I.CANCELLED, None)
    assert (await ins.handle.result()).status == I.CANCELLED
    row = await case_row(h, ins.id)
    assert (row.status, row.data["appointment"]) == ("cancelled", None)
    last = (await timeline(h, ins.id))[-1]
    assert (last.event, last.detail) == ("cancelled", {"reason": "site not ready"})
    assert await assets_of(h, ins) == []


async def test_cancel_is_refused_once_installed(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, _ = await open_installation()
    await book_visit(ins, await now(h) + timedelta(days=1))
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    before = await events(h, ins.id)
    await expect_invalid(
        ins.handle.execute_update(typed(InstallationWorkflow.cancel), InstallationCancel(RETAILER)),
        I.INSTALLED,
    )
    assert await events(h, ins.id) == before
    assert (await case_row(h, ins.id)).status == "installed"


# ------------------------------------------------------------- out-of-order commands


async def test_out_of_order_commands_are_refused_and_change_nothing(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    ins, _ = await open_installation()
    before = await events(h, ins.id)
    for call in (
        ins.handle.execute_update(
            typed(InstallationWorkflow.commission),
            InstallationCommissioning(ins.provider, ALL_PASSED),
        ),
        ins.handle.execute_update(typed(InstallationWorkflow.reschedule), InstallationReschedule()),
        ins.handle.execute_update(
            typed(InstallationWorkflow.report_visit),
            VisitReport(ins.provider, VisitOutcome.MISSED),
        ),
    ):
        await expect_invalid(call, I.SCHEDULING)
    assert await events(h, ins.id) == before

    starts_at = await now(h) + timedelta(days=2)
    await book_visit(ins, starts_at)
    await report_visit(ins, VisitOutcome.INSTALLED, INSTALL_CHECKLIST)
    before = await events(h, ins.id)
    for call in (
        ins.handle.execute_update(
            typed(InstallationWorkflow.book_appointment),
            BookVisit(ins.provider, starts_at, "Tess Technician"),
        ),
        ins.handle.execute_update(
            typed(InstallationWorkflow.report_visit),
            VisitReport(ins.provider, VisitOutcome.INSTALLED, INSTALL_CHECKLIST),
        ),
        ins.handle.execute_update(typed(InstallationWorkflow.reschedule), InstallationReschedule()),
    ):
        await expect_invalid(call, I.INSTALLED)
    assert await events(h, ins.id) == before
    assert (await case_row(h, ins.id)).status == "installed"


# ------------------------------------------------------------------ one open case per unit


async def open_claims(h: Harness, serial_number: str) -> list[str]:
    async with h.sessions() as session:
        query = select(models.OpenSerial.case_id).where(
            models.OpenSerial.org_id == h.org_id, models.OpenSerial.serial == serial_number
        )
        return list((await session.scalars(query)).all())


async def test_the_unit_is_claimed_while_open_and_a_second_order_is_stored_cancelled(
    harness: Harness, open_installation: Opener
) -> None:
    h = harness
    first, view = await open_installation()
    assert view.status == I.SCHEDULING
    assert await open_claims(h, first.start.serial) == [first.id]

    # Another order for the same unit while the first is open: it loses the claim.
    second, view = await open_installation(serial_number=first.start.serial)
    assert (view.status, view.appointment) == (I.CANCELLED, None)
    assert (await second.handle.result()).status == I.CANCELLED
    row = await case_row(h, second.id)
    assert (row.status, row.reason) == ("cancelled", "duplicate_open_case")
    (refusal,) = await timeline(h, second.id)
    assert (refusal.event, refusal.detail) == ("cancelled", {"reason": "duplicate_open_case"})
    assert await open_claims(h, first.start.serial) == [first.id]

    # Once the first is closed, the unit may have its next case.
    await first.handle.execute_update(
        typed(InstallationWorkflow.cancel), InstallationCancel(RETAILER)
    )
    assert await open_claims(h, first.start.serial) == []
    third, view = await open_installation(serial_number=first.start.serial)
    assert view.status == I.SCHEDULING
    assert await open_claims(h, first.start.serial) == [third.id]
