"""Carrier scans as every lifecycle takes them: deduped by event id, queued by the signal
handler, applied by the main loop in arrival order while it waits for what moves its case on.

A lifecycle subclasses `ScannedCase`, whose `carrier_event` signal feeds its one
`CarrierScans`, and defines `_apply_scan(scan)` (what a scan means for that case), which its
waits apply as scans come:

    arrived = await self._wait_for(lambda: not self.receipt.empty, deadline)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.common import CARRIER_EVENT_SIGNAL, CarrierEvent, CarrierStatus
    from domain.contracts.events import CaseEvent
    from workflows.patches import batched

# The scans that say a parcel has left its sender: from the first of them a label can no
# longer be voided, nor the case it belongs to cancelled.
MOVEMENT_SCANS = frozenset(
    {
        CarrierStatus.PICKED_UP,
        CarrierStatus.IN_TRANSIT,
        CarrierStatus.OUT_FOR_DELIVERY,
        CarrierStatus.DELIVERED,
    }
)

ApplyScan = Callable[[CarrierEvent], Awaitable[None]]


def scan_event(scan: CarrierEvent) -> CaseEvent:
    """The timeline event a scan writes: `carrier_<status>`."""
    return CaseEvent.carrier(scan.status)


def scan_detail(scan: CarrierEvent) -> dict[str, str]:
    """The timeline detail a scan writes."""
    return {
        "tracking_number": scan.tracking_number,
        "location": scan.location,
        "occurred_at": scan.occurred_at.isoformat(),
    }


class CarrierScans:
    """The scans a case has received and not yet applied, each event id taken once."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._queue: list[CarrierEvent] = []
        # The timer of the next wake-up (`wait_for`), kept from one wait to the next while
        # the moment stays the same: an SLA due time spans several states, and a timer
        # started and cancelled per wait cost two history events and a server timer each.
        self._wake: tuple[datetime, asyncio.Task[None]] | None = None

    def receive(self, event: CarrierEvent) -> None:
        """For the signal handler. Carriers deliver at least once: the event id makes a
        second copy a no-op."""
        if event.event_id in self._seen:
            return
        self._seen.add(event.event_id)
        self._queue.append(event)

    @property
    def waiting(self) -> bool:
        """Whether scans are queued, not yet applied."""
        return bool(self._queue)

    def pending_movement(self, tracking_number: str | None = None) -> bool:
        """Whether a queued scan (of that parcel, if given) says it has left its sender: for
        validators, which judge the case as the scans will leave it, not as it stands."""
        return any(
            scan.status in MOVEMENT_SCANS
            and (tracking_number is None or scan.tracking_number == tracking_number)
            for scan in self._queue
        )

    async def apply_all(self, apply: ApplyScan) -> None:
        """Apply the queued scans in arrival order, including any that arrive meanwhile."""
        while self._queue:
            await apply(self._queue.pop(0))

    async def wait_for(
        self,
        ready: Callable[[], bool],
        deadline: datetime | None,
        apply: ApplyScan,
        *,
        tick: Callable[[], Awaitable[None]] | None = None,
        alarm: Callable[[], datetime | None] | None = None,
        commands_first: bool = False,
    ) -> bool:
        """Wait until `ready()` (True) or the deadline (False), applying scans as they come.

        `tick` is work due on each pass (an SLA check, a reminder), done after the scans;
        `alarm()` names the next moment it is due, so the wait wakes for it. With
        `commands_first`, a pass runs `tick`, then answers True if already `ready()` before
        applying queued scans: a command accepted meanwhile was judged without them.
        """
        while True:
            if commands_first:
                if tick is not None:
                    await tick()
                if ready():
                    return True
            await self.apply_all(apply)
            if tick is not None and not commands_first:
                await tick()
            if ready():
                return True
            now = workflow.now()
            if deadline is not None and now >= deadline:
                return False
            wake = [m for m in (deadline, alarm() if alarm else None) if m is not None]
            if batched():
                woke = self._wake_at(min(wake) if wake else None)
                # Awaited within this pass, so `woke` is this pass's.
                await workflow.wait_condition(lambda: ready() or self.waiting or woke())  # noqa: B023
                continue
            timeout = min(wake) - now if wake else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: ready() or self.waiting, timeout=timeout)

    def _wake_at(self, at: datetime | None) -> Callable[[], bool]:
        """A timer for `at` (the one running if it is for `at` already; none for None),
        answered as whether it has fired. A timer that has fired wakes one pass: the next
        wait for the same moment does not wake for it again."""
        if self._wake is not None and self._wake[0] != at:
            self._wake[1].cancel()
            self._wake = None
        if at is None:
            return lambda: False
        if self._wake is None:
            seconds = max((at - workflow.now()).total_seconds(), 0.0)
            self._wake = (at, asyncio.create_task(workflow.sleep(seconds)))
        timer = self._wake[1]
        if timer.done():
            return lambda: False
        return timer.done


class ScannedCase:
    """A lifecycle's workflow whose parcels carriers scan: scans arrive by the
    `carrier_event` signal, inherited here, into its `scans` queue, and its waits apply them
    as they come with its own `_apply_scan`."""

    scans: CarrierScans

    @workflow.signal(name=CARRIER_EVENT_SIGNAL)
    def carrier_event(self, event: CarrierEvent) -> None:
        self.scans.receive(event)

    async def _wait_for(self, ready: Callable[[], bool], deadline: datetime | None) -> bool:
        """Wait until `ready()` (True) or the deadline (False), applying scans as they come."""
        return await self.scans.wait_for(ready, deadline, self._apply_scan)

    async def _apply_scan(self, scan: CarrierEvent) -> None:
        """What a scan means for this case: its lifecycle says."""
        raise NotImplementedError
