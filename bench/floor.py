"""The Temporal floor of a case: a workflow with the same history shape as one of our cases
(the same start, updates, signals, activities, local activities and timers, in the same
order, read from a recorded history) whose bodies do nothing, driven by a client exactly as
the API drives ours. What it costs is what Temporal itself costs for our design; a bench
divides its rate by the floor's to tell how much our own code adds.

The shape is read from the history's events (payloads are never decoded):

- a local activity's marker (a patch marker is skipped) is a local activity;
- an activity is started where it was scheduled and awaited where it completed;
- a timer is started where it was started, and cancelled or awaited as it was;
- an accepted update or a signal is something the main loop waits for, and the driver
  sends, in history order (the first update with the start, as `update-with-start`);
- an update answers once the main loop has taken every step between its acceptance and its
  completion, as ours do (a command is applied by the main loop; the QA pass answers once
  its label is booked): an update answered at once would let the signals that follow share
  workflow tasks that ours cannot;
- a completed workflow completes; one still open waits, as ours do.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

QUICK = timedelta(seconds=10)


@dataclass
class Step:
    kind: str  # la | start_activity | await_activity | start_timer | cancel_timer |
    # await_timer | wait_update | wait_signal | complete
    ref: int = 0  # the activity's or timer's id; the update's or signal's number (1-based)
    seconds: float = 0.0


@dataclass
class Shape:
    steps: list[Step] = field(default_factory=list)
    # By update number: how many steps the main loop has taken when the update answers.
    answers_after: dict[int, int] = field(default_factory=dict)
    # What the driver sends, in order: "update" or "signal".
    inputs: list[str] = field(default_factory=list)

    def describe(self) -> str:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.kind] = counts.get(step.kind, 0) + 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))


def shape_of(events: list[HistoryEvent]) -> Shape:
    shape = Shape()
    in_update: int | None = None
    updates = signals = 0
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            # A `workflow.patched` marker is a history event, not a local activity.
            if event.marker_recorded_event_attributes.marker_name != "core_local_activity":
                continue
            shape.steps.append(Step("la"))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            shape.steps.append(Step("start_activity", event.event_id))
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            shape.steps.append(Step("await_activity", scheduled))
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            attributes = event.timer_started_event_attributes
            seconds = attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
            shape.steps.append(Step("start_timer", event.event_id, seconds))
        elif kind == EventType.EVENT_TYPE_TIMER_CANCELED:
            started = event.timer_canceled_event_attributes.started_event_id
            shape.steps.append(Step("cancel_timer", started))
        elif kind == EventType.EVENT_TYPE_TIMER_FIRED:
            started = event.timer_fired_event_attributes.started_event_id
            shape.steps.append(Step("await_timer", started))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signals += 1
            shape.inputs.append("signal")
            shape.steps.append(Step("wait_signal", signals))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            updates += 1
            in_update = updates
            shape.inputs.append("update")
            shape.steps.append(Step("wait_update", updates))
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            if in_update is not None:
                shape.answers_after[in_update] = len(shape.steps)
            in_update = None
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            shape.steps.append(Step("complete"))
    return shape


@activity.defn(name="floor_noop")
async def noop() -> None:
    return None


@workflow.defn(name="BenchFloor", sandboxed=False)
class Floor:
    @workflow.init
    def __init__(self, shape: Shape) -> None:
        self.updates = 0
        self.signals = 0
        self.steps_taken = 0
        self.answers_after = shape.answers_after

    @workflow.run
    async def run(self, shape: Shape) -> None:
        activities: dict[int, Any] = {}
        timers: dict[int, asyncio.Task[None]] = {}
        for step in shape.steps:
            if step.kind == "la":
                await workflow.execute_local_activity(noop, start_to_close_timeout=QUICK)
            elif step.kind == "start_activity":
                activities[step.ref] = workflow.start_activity(noop, start_to_close_timeout=QUICK)
            elif step.kind == "await_activity":
                await activities.pop(step.ref)
            elif step.kind == "start_timer":
                timers[step.ref] = asyncio.create_task(workflow.sleep(step.seconds))
            elif step.kind == "cancel_timer":
                timers.pop(step.ref).cancel()
            elif step.kind == "await_timer":
                await timers.pop(step.ref)
            elif step.kind == "wait_update":
                number = step.ref
                await workflow.wait_condition(lambda n=number: self.updates >= n)  # type: ignore[misc]
            elif step.kind == "wait_signal":
                number = step.ref
                await workflow.wait_condition(lambda n=number: self.signals >= n)  # type: ignore[misc]
            elif step.kind == "complete":
                return
            self.steps_taken += 1
        # A case still open after its last step stays open, as ours do.
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def advance(self) -> None:
        self.updates += 1
        after = self.answers_after.get(self.updates, 0)
        await workflow.wait_condition(lambda: self.steps_taken >= after)

    @workflow.signal
    def poke(self) -> None:
        self.signals += 1


async def drive(client: Client, shape: Shape, workflow_id: str, task_queue: str) -> None:
    """One case's worth of client calls: the start (with the first update, if any), then
    each update and signal in history order; then the result, if the case completes."""
    inputs = list(shape.inputs)
    if inputs and inputs[0] == "update":
        inputs.pop(0)
        operation = WithStartWorkflowOperation(
            Floor.run,
            shape,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        await client.execute_update_with_start_workflow(
            Floor.advance, start_workflow_operation=operation
        )
        handle = await operation.workflow_handle()
    else:
        handle = await client.start_workflow(
            Floor.run, shape, id=workflow_id, task_queue=task_queue
        )
    for sent in inputs:
        if sent == "update":
            await handle.execute_update(Floor.advance)
        else:
            await handle.signal(Floor.poke)
    if any(step.kind == "complete" for step in shape.steps):
        await handle.result()


async def history_shape(client: Client, workflow_id: str) -> Shape:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return shape_of(list(history.events))


def worker_for(client: Client, task_queue: str) -> Any:
    from temporalio.worker import Worker

    return Worker(client, task_queue=task_queue, workflows=[Floor], activities=[noop])


# One task queue for every floor run on a server, not a new one per run, so that rounds leave
# the server no more queues to keep than the first did.
QUEUE = "bench-floor"


async def floor_rate(
    address: str,
    history_of: str,
    seconds: float,
    concurrency: int,
    env: dict[str, str] | None = None,
) -> tuple[float, Shape]:
    """Cases per second of the floor of the case whose workflow ID is `history_of` (its
    history read from the server at `address`), `concurrency` at a time for `seconds`.
    With the bench's `env`, also prints the floor's CPU per case: the Temporal server's and
    this process's (the no-op worker and the client driving it, which stands in for the
    API's Temporal calls): what Temporal itself costs for this history shape."""
    from common import CpuMeter, rate

    client = await Client.connect(address)
    shape = await history_shape(client, history_of)
    queue, run = QUEUE, uuid.uuid4().hex[:6]
    meter = CpuMeter(env) if env else None
    async with worker_for(client, queue):
        await drive(client, shape, f"{queue}-{run}-warm-up", queue)
        if meter:
            await meter.start()
        driving = time.process_time()
        per_second, cases = await rate(
            lambda i: drive(client, shape, f"{queue}-{run}-{i}", queue), seconds, concurrency
        )
        driven = time.process_time() - driving
    # The server's work for the floor's timers is the floor's, as it is ours for our cases.
    if meter and cases:
        temporal = (await meter.per_case(cases))["temporal"]
        worker = 1000 * driven / cases
        print(
            f"CPU per floor case: temporal {temporal:.0f} ms, worker and client {worker:.0f} ms, "
            f"all {temporal + worker:.0f} ms"
        )
    return per_second, shape
