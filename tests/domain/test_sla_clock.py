"""The repair turnaround clock (lifecycles.md §2 SLA) as the repair workflow keeps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.repair import RepairStatus, SlaClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_the_clock_starts_at_receipt() -> None:
    clock = SlaClock(turnaround=5 * DAY)
    assert clock.due(T0) is None
    assert clock.alarm(RepairStatus.AWAITING_UNIT, T0) is None
    assert clock.breach(RepairStatus.AWAITING_UNIT, T0 + 30 * DAY) is None
    clock.received_at = T0
    assert clock.due(T0) == T0 + 5 * DAY
    assert clock.alarm(RepairStatus.RECEIVED, T0) == T0 + 5 * DAY


def test_a_quote_pauses_the_clock_until_answered() -> None:
    clock = SlaClock(turnaround=5 * DAY, received_at=T0)
    clock.pause(T0 + DAY)
    # While the customer holds the quote, nothing is due and no alarm is set.
    assert clock.alarm(RepairStatus.AWAITING_APPROVAL, T0 + 9 * DAY) is None
    assert clock.breach(RepairStatus.AWAITING_APPROVAL, T0 + 9 * DAY) is None
    clock.resume(T0 + 3 * DAY)
    clock.resume(T0 + 4 * DAY)  # no pause open: nothing changes
    assert clock.pauses == [(T0 + DAY, T0 + 3 * DAY)]
    assert clock.due(T0 + 4 * DAY) == T0 + 7 * DAY


def test_a_breach_is_flagged_once_and_only_when_late() -> None:
    clock = SlaClock(turnaround=5 * DAY, received_at=T0)
    assert clock.breach(RepairStatus.REPAIRING, T0 + 5 * DAY - timedelta(seconds=1)) is None
    assert clock.breach(RepairStatus.REPAIRING, T0 + 5 * DAY) == T0 + 5 * DAY
    assert clock.breached
    assert clock.breach(RepairStatus.REPAIRING, T0 + 6 * DAY) is None
    assert clock.alarm(RepairStatus.REPAIRING, T0 + 6 * DAY) is None


def test_ready_in_time_stops_the_clock() -> None:
    clock = SlaClock(turnaround=5 * DAY, received_at=T0, ready_at=T0 + 4 * DAY)
    assert clock.alarm(RepairStatus.READY_TO_SHIP, T0 + 9 * DAY) is None
    assert clock.breach(RepairStatus.READY_TO_SHIP, T0 + 9 * DAY) is None
    late = SlaClock(turnaround=5 * DAY, received_at=T0, ready_at=T0 + 6 * DAY)
    assert late.breach(RepairStatus.READY_TO_SHIP, T0 + 6 * DAY) == T0 + 5 * DAY


def test_a_closed_job_is_never_breached() -> None:
    clock = SlaClock(turnaround=5 * DAY, received_at=T0)
    assert clock.alarm(RepairStatus.CANCELLED, T0 + 9 * DAY) is None
    assert clock.breach(RepairStatus.CANCELLED, T0 + 9 * DAY) is None
