"""Warranty-end notices on the time-skipping server with the real activities: the workflow
the daily schedule starts tells each unit sold on an order once, 30 days (or less) before
its warranty ends, with the retailer's protection plans on offer; a later day tells the
units that have come due since. The schedule itself (daily, one run at a time, created once
however often it is ensured) is checked on the dev server."""

from __future__ import annotations

import contextlib
import itertools
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import structlog
import structlog.testing
from sqlalchemy import select
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    ScheduleRange,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import worker
from db import models
from domain.campaign import WARRANTY_NOTICE_HOUR_UTC as NOTICE_HOUR_UTC
from domain.campaign import WARRANTY_NOTICES_SCHEDULE, WARRANTY_NOTICES_WORKFLOW, WarrantyRun
from domain.durations import add_months
from settings import Settings
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY
from tests.workflows.kit import Harness
from worker import ensure_schedules


def bought(ends_in: timedelta, months: int, now: datetime) -> datetime:
    """When a unit with a `months` warranty was bought, for it to end `ends_in` from now."""
    return add_months(now + ends_in, -months)


async def run_notices(harness: Harness, now: datetime | None = None) -> int:
    """Run the workflow the schedule starts, on the day `now` (None: the server's clock, as
    a scheduled run does; the time-skipping server's clock jumps as other tests' timers
    fire, so the days are named)."""
    told: int = await harness.env.client.execute_workflow(
        WARRANTY_NOTICES_WORKFLOW,
        WarrantyRun(now),
        id=f"warranty-test-{uuid.uuid4().hex[:8]}",
        task_queue=harness.settings.task_queue,
        result_type=int,
    )
    return told


async def test_each_unit_told_once_as_its_warranty_end_comes_near(harness: Harness) -> None:
    now = await harness.env.get_current_time()
    sku = f"W-{uuid.uuid4().hex[:6]}"
    prefix = uuid.uuid4().hex[:6]
    async with harness.sessions.begin() as session:
        session.add(
            models.Product(
                org_id=harness.org_id,
                sku=sku,
                name="Espresso Machine",
                category="kitchen",
                unit_price=Decimal("300.00"),
                warranty_months=12,
            )
        )
        session.add(
            models.PlanCatalogEntry(
                org_id=harness.org_id, code=f"CARE-{prefix}", name="Care Plus", terms={}
            )
        )
        lines = {
            f"{prefix}-SOON": timedelta(days=20),  # due now
            f"{prefix}-LATER": timedelta(days=40),  # due in ten days
            f"{prefix}-ENDED": timedelta(days=-5),  # over: nothing to offer
        }
        for n, (serial, ends_in) in enumerate([*lines.items(), (None, timedelta(days=20))]):
            order = models.Order(
                org_id=harness.org_id,
                order_ref=f"SO-{prefix}-{n}",
                placed_at=bought(ends_in, 12, now),
                customer_name="Grace Hopper",
                customer_email="grace@example.com",
            )
            session.add(order)
            await session.flush()
            session.add(
                models.OrderLine(
                    order_id=order.id,
                    org_id=harness.org_id,
                    position=1,
                    sku=sku,
                    serial=serial,
                    quantity=1,
                )
            )

    assert await run_notices(harness, now) == 1
    assert await run_notices(harness, now) == 0  # the same day again: nobody twice
    assert await notified(harness, prefix) == [f"{prefix}-SOON"]
    email = await email_for(harness, f"{prefix}-SOON")
    assert email.to_address == "grace@example.com"
    assert email.notice == "warranty_ending"
    assert "Espresso Machine" in email.subject
    assert "Care Plus" in email.body and "Hello Grace" in email.body

    # Eleven days on, the unit whose warranty had 40 days left has 29: its turn.
    await harness.env.sleep(timedelta(days=11))
    assert await run_notices(harness, now + timedelta(days=11)) == 1
    assert await notified(harness, prefix) == [f"{prefix}-LATER", f"{prefix}-SOON"]
    # A run on the server's own clock, as the schedule starts it: nobody is told twice.
    assert await run_notices(harness) == 0
    assert await notified(harness, prefix) == [f"{prefix}-LATER", f"{prefix}-SOON"]


async def notified(harness: Harness, prefix: str) -> list[str]:
    async with harness.sessions() as session:
        serials = await session.scalars(
            select(models.WarrantyNotice.serial)
            .where(models.WarrantyNotice.serial.startswith(prefix))
            .order_by(models.WarrantyNotice.serial)
        )
        return list(serials.all())


async def email_for(harness: Harness, serial: str) -> models.Email:
    async with harness.sessions() as session:
        notice = await session.scalar(
            select(models.WarrantyNotice).where(models.WarrantyNotice.serial == serial)
        )
        assert notice is not None
        email = await session.get(models.Email, notice.email_id)
        assert email is not None
        return email


async def test_the_daily_schedule_is_created_once(dev_server: WorkflowEnvironment) -> None:
    client = dev_server.client
    settings = Settings(
        env="test",
        task_queue=f"sched-{uuid.uuid4().hex[:6]}",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
    )
    # The schedule's id is one per namespace, and the session's dev server is shared: a
    # worker another test started may have made it already, for its own task queue.
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(WARRANTY_NOTICES_SCHEDULE).delete()
    await ensure_schedules(client, settings)
    await ensure_schedules(client, settings)  # a second worker starting: nothing new
    handle = client.get_schedule_handle(WARRANTY_NOTICES_SCHEDULE)
    try:
        described = await handle.describe()
        schedule = described.schedule
        action = schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.workflow == WARRANTY_NOTICES_WORKFLOW
        assert action.task_queue == settings.task_queue
        assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        upcoming = described.info.next_action_times[:3]
        assert len(upcoming) == 3
        assert all(t.astimezone(UTC).hour == NOTICE_HOUR_UTC for t in upcoming)
        assert all(t.minute == 0 and t.second == 0 for t in upcoming)
        gaps = {b - a for a, b in itertools.pairwise(upcoming)}
        assert gaps == {timedelta(days=1)}
        # Nothing else was listed under that id: the one schedule, not two.
        ids = [s.id async for s in await client.list_schedules()]
        assert ids.count(WARRANTY_NOTICES_SCHEDULE) == 1
    finally:
        await handle.delete()


def schedule_settings(task_queue: str) -> Settings:
    return Settings(
        env="test",
        task_queue=task_queue,
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
    )


async def test_a_schedule_on_another_task_queue_moves_to_the_workers(
    dev_server: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployment's task queue changed: the schedule made for the old one is moved to the
    new one (else its runs would wait on a queue no worker polls), and an operator's pause,
    note and changed hour stay as they were."""
    client = dev_server.client
    before = schedule_settings(f"sched-old-{uuid.uuid4().hex[:6]}")
    after = schedule_settings(f"sched-new-{uuid.uuid4().hex[:6]}")
    with contextlib.suppress(RPCError):
        await client.get_schedule_handle(WARRANTY_NOTICES_SCHEDULE).delete()
    await ensure_schedules(client, before)
    handle = client.get_schedule_handle(WARRANTY_NOTICES_SCHEDULE)
    try:
        await handle.pause(note="paused by the operator")

        def at_nine(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule = current.description.schedule
            schedule.spec.calendars = [
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(9)], minute=[ScheduleRange(0)], second=[ScheduleRange(0)]
                )
            ]
            return ScheduleUpdate(schedule=schedule)

        await handle.update(at_nine)

        # A fresh logger: one cached before the capture would not be captured.
        monkeypatch.setattr(worker, "log", structlog.get_logger(worker.__name__))
        with structlog.testing.capture_logs() as logs:
            await ensure_schedules(client, after)
            await ensure_schedules(client, after)  # a second worker: nothing more to move
        moved = [entry for entry in logs if entry["event"] == "schedule moved to this task queue"]
        assert [(m["previous_task_queue"], m["task_queue"]) for m in moved] == [
            (before.task_queue, after.task_queue)
        ]

        schedule = (await handle.describe()).schedule
        action = schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == after.task_queue
        assert action.workflow == WARRANTY_NOTICES_WORKFLOW
        assert action.id == f"{WARRANTY_NOTICES_SCHEDULE}-run"
        assert schedule.state.paused and schedule.state.note == "paused by the operator"
        assert [list(c.hour) for c in schedule.spec.calendars] == [[ScheduleRange(9)]]
        assert schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
    finally:
        await handle.delete()


async def test_a_notice_reads_in_the_order_customers_language(harness: Harness) -> None:
    """An order placed in German is told in German, its date on the customer's calendar."""
    now = await harness.env.get_current_time()
    sku = f"W-{uuid.uuid4().hex[:6]}"
    serial = f"{uuid.uuid4().hex[:6]}-DE"
    async with harness.sessions.begin() as session:
        session.add(
            models.Product(
                org_id=harness.org_id,
                sku=sku,
                name="Kaffeemaschine",
                category="kitchen",
                unit_price=Decimal("300.00"),
                warranty_months=12,
            )
        )
        order = models.Order(
            org_id=harness.org_id,
            order_ref=f"SO-{serial}",
            placed_at=bought(timedelta(days=20), 12, now),
            customer_name="Grete Müller",
            customer_email="grete@example.com",
            customer_locale="de-DE",
            customer_time_zone="Europe/Berlin",
        )
        session.add(order)
        await session.flush()
        session.add(
            models.OrderLine(
                order_id=order.id,
                org_id=harness.org_id,
                position=1,
                sku=sku,
                serial=serial,
                quantity=1,
            )
        )

    assert await run_notices(harness, now) >= 1
    email = await email_for(harness, serial)
    # "endet am 21. Dezember 2026": German words, German date (the English has no dot).
    assert re.fullmatch(
        r"Ihre Garantie für Kaffeemaschine endet am \d{1,2}\. \w+ \d{4}", email.subject
    )
    assert email.body.startswith("Hallo Grete,")
    assert f"Die Garantie für Ihr Gerät Kaffeemaschine (Seriennummer {serial})" in email.body
