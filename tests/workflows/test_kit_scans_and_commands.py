"""The workflows kit: carrier scans (dedupe, order, pending movement, waiting to a deadline)
and the command slot (hand over, the loop's answer), on a probe workflow."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from domain.common import CarrierEvent, CarrierStatus
from workflows.carrier_scans import CarrierScans, scan_detail, scan_event
from workflows.commands import CommandSlot


def scan(
    event_id: str, status: CarrierStatus = CarrierStatus.IN_TRANSIT, tn: str = "1Z1"
) -> CarrierEvent:
    return CarrierEvent(event_id, tn, status, datetime(2026, 3, 1, 9, tzinfo=UTC), "Leeds")


@workflow.defn(name="KitProbe")
class KitProbe:
    """Waits for a command or its deadline, applying scans meanwhile; answers the command
    with its length."""

    def __init__(self) -> None:
        self.scans = CarrierScans()
        self.slot: CommandSlot[str, int] = CommandSlot()
        self.applied: list[str] = []

    @workflow.run
    async def run(self, wait_seconds: int) -> list[str]:
        deadline = workflow.now() + timedelta(seconds=wait_seconds)
        if await self.scans.wait_for(lambda: not self.slot.empty, deadline, self._apply):
            command = self.slot.take()
            self.applied.append(f"command:{command}")
            self.slot.done(len(command))
        else:
            self.applied.append("deadline")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.applied

    async def _apply(self, event: CarrierEvent) -> None:
        self.applied.append(event.event_id)

    @workflow.signal
    def carrier_event(self, event: CarrierEvent) -> None:
        self.scans.receive(event)

    @workflow.update
    async def command(self, text: str) -> int:
        return await self.slot.hand_over(text)

    @command.validator
    def _validate_command(self, text: str) -> None:
        if not self.slot.empty:
            raise ApplicationError("a command is being applied", type="busy", non_retryable=True)


@pytest.fixture(scope="module")
async def client(time_skipping: WorkflowEnvironment) -> AsyncIterator[tuple[Client, str]]:
    queue = f"kit-{uuid.uuid4().hex[:6]}"
    async with Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[KitProbe],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield time_skipping.client, queue


async def test_scans_apply_once_each_in_order_before_the_command(
    client: tuple[Client, str],
) -> None:
    temporal, queue = client
    handle = await temporal.start_workflow(
        KitProbe.run, 3600, id=f"kit-{uuid.uuid4()}", task_queue=queue
    )
    for event_id in ("e1", "e1", "e2", "e1"):
        await handle.signal(KitProbe.carrier_event, scan(event_id))
    assert await handle.execute_update(KitProbe.command, "abcd") == 4
    assert await handle.result() == ["e1", "e2", "command:abcd"]


async def test_the_wait_ends_at_its_deadline_with_the_scans_applied(
    client: tuple[Client, str],
) -> None:
    temporal, queue = client
    handle = await temporal.start_workflow(
        KitProbe.run, 7 * 24 * 3600, id=f"kit-{uuid.uuid4()}", task_queue=queue
    )
    await handle.signal(KitProbe.carrier_event, scan("e1"))
    assert await handle.result() == ["e1", "deadline"]


async def test_pending_movement_and_apply_all_outside_a_workflow() -> None:
    scans = CarrierScans()
    scans.receive(scan("x", CarrierStatus.EXCEPTION, tn="A"))
    assert not scans.pending_movement()
    scans.receive(scan("p", CarrierStatus.PICKED_UP, tn="B"))
    scans.receive(scan("p", CarrierStatus.PICKED_UP, tn="B"))
    assert scans.pending_movement()
    assert scans.pending_movement("B")
    assert not scans.pending_movement("A")
    applied: list[str] = []

    async def apply(event: CarrierEvent) -> None:
        applied.append(f"{scan_event(event)}@{scan_detail(event)['tracking_number']}")
        if event.event_id == "x":
            scans.receive(scan("late", CarrierStatus.DELIVERED, tn="A"))

    await scans.apply_all(apply)
    assert applied == ["carrier_exception@A", "carrier_picked_up@B", "carrier_delivered@A"]
    assert not scans.waiting and not scans.pending_movement()
