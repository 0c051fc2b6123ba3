"""A delivery queue: the webhook events of one case for one subscription (or the emails of
one case), sent one at a time in timeline order, each retried with exponential backoff
until it is accepted or its retry window has passed."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import NotifyActivities
    from domain.contracts.notify import ATTEMPT_TIMEOUT, HEARTBEAT_TIMEOUT
    from domain.delivery import (
        DELIVERY_QUEUE_WORKFLOW,
        ENQUEUE_MANY_SIGNAL,
        ENQUEUE_SIGNAL,
        DeliveryQueueStart,
        DeliveryRef,
        DeliveryRun,
        QueuedDeliveries,
        QueuedDelivery,
    )
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT
    from workflows.patches import WEBHOOKS_IN_RUNS_PATCH, patched

# A queue with nothing to do closes after this; the next event starts a new run.
IDLE = timedelta(minutes=10)
# Keeps each run's history short whatever the case's lifetime (a plan of many years).
MAX_PER_RUN = 100
MAX_BACKOFF = timedelta(hours=1)
# Webhooks waiting in a queue go out in runs of up to this many, one activity per run.
RUN_MAX = 10


@workflow.defn(name=DELIVERY_QUEUE_WORKFLOW)
class DeliveryQueueWorkflow:
    def __init__(self) -> None:
        self.queue: list[QueuedDelivery] = []
        self.seen: set[str] = set()

    @workflow.signal(name=ENQUEUE_SIGNAL)
    def enqueue(self, item: QueuedDelivery) -> None:
        # A retried projection hands the same delivery over again.
        if item.key in self.seen:
            return
        self.seen.add(item.key)
        self.queue.append(item)
        self.queue.sort(key=lambda queued: queued.seq)

    @workflow.signal(name=ENQUEUE_MANY_SIGNAL)
    def enqueue_many(self, batch: QueuedDeliveries) -> None:
        # What waited for one queue is handed over in one signal: one workflow task for the
        # lot instead of one per delivery (the hand-over's cost under a backlog).
        for item in batch.items:
            self.enqueue(item)

    @workflow.run
    async def run(self, start: DeliveryQueueStart) -> None:
        for item in start.pending:
            self.enqueue(item)
        handled = 0
        while True:
            if not self.queue:
                try:
                    await workflow.wait_condition(lambda: bool(self.queue), timeout=IDLE)
                except TimeoutError:
                    return
            item = self.queue.pop(0)
            if start.channel == "webhook" and self.queue and patched(WEBHOOKS_IN_RUNS_PATCH):
                handled += await self._deliver_run(start, item)
            else:
                await self._deliver(start, item)
                handled += 1
            if handled >= MAX_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(replace(start, pending=list(self.queue)))

    async def _deliver_run(self, start: DeliveryQueueStart, first: QueuedDelivery) -> int:
        """`first` and what waits behind it, one attempt each in one activity (one Temporal
        round trip instead of one per event); the first not accepted then goes the usual
        way, with its retries and backoff, and those after it back to the queue. Answers
        how many were handled."""
        run = [first, *self.queue[: RUN_MAX - 1]]
        del self.queue[: len(run) - 1]
        try:
            outcome = await workflow.execute_activity_method(
                NotifyActivities.deliver_webhooks,
                DeliveryRun([DeliveryRef(item.id, start.channel) for item in run]),
                start_to_close_timeout=ATTEMPT_TIMEOUT * len(run),
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                # Not retried as a run: each delivery's status says what a lost run did.
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
            ended = outcome.ended
        except ActivityError:
            ended = 0
        rest = run[ended:]
        if not rest:
            return ended
        self.queue = sorted([*rest[1:], *self.queue], key=lambda queued: queued.seq)
        await self._deliver(start, rest[0])
        return ended + 1

    async def _deliver(self, start: DeliveryQueueStart, item: QueuedDelivery) -> None:
        ref = DeliveryRef(item.id, start.channel)
        # The window runs from the event, not from its turn in the queue: events waiting
        # behind a receiver that is down do not each get a fresh day.
        left = item.created_at + start.retry_window - workflow.now()
        # Even an event whose window passed while it waited gets one attempt.
        window = max(left, min(ATTEMPT_TIMEOUT, start.retry_window))
        attempt = (
            NotifyActivities.send_email
            if start.channel == "email"
            else NotifyActivities.deliver_webhook
        )
        try:
            await workflow.execute_activity_method(
                attempt,
                ref,
                start_to_close_timeout=min(ATTEMPT_TIMEOUT, window),
                schedule_to_close_timeout=window,
                # An attempt can take ATTEMPT_TIMEOUT; one on a worker that died is retried
                # after a few seconds without a heartbeat, not after the whole of it.
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RetryPolicy(
                    initial_interval=start.first_retry,
                    backoff_coefficient=2.0,
                    maximum_interval=max(
                        start.first_retry, min(MAX_BACKOFF, start.retry_window / 8)
                    ),
                ),
            )
        except ActivityError:
            workflow.logger.warning("delivery %s given up after its retry window", item.id)
            await workflow.execute_activity_method(
                NotifyActivities.give_up,
                ref,
                start_to_close_timeout=QUICK_TIMEOUT,
                retry_policy=QUICK_RETRY,
            )
