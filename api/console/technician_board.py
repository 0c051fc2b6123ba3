"""The repair center's job board: its open jobs in one column per status, oldest first, each
with its SLA clock in words (the page is read without JavaScript; htmx only re-reads it).

Built from the rows of one query (`db.cases.cases_worked_by`): the job's typed facts carry
everything a card shows, and the customer's name is the only personal datum on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from api.case_views import repair_sla_due_at
from db.cases import WorkedCase
from domain.contracts.facts import RepairFacts, SlaFacts
from domain.repair import OPEN_REPAIR_STATUSES, RepairStatus
from presentation.formatting import human_datetime, humanise

# The board's columns, in the order a job moves through them.
BOARD_STATUSES = OPEN_REPAIR_STATUSES
# A board is one page: beyond this many open jobs the oldest are shown and the rest counted
# as not shown (a center with more open work than this has a bigger problem than a board).
BOARD_LIMIT = 500

COLUMN_TITLES: dict[RepairStatus, str] = {
    RepairStatus.AWAITING_UNIT: "Awaiting unit",
    RepairStatus.RECEIVED: "Received",
    RepairStatus.DIAGNOSING: "Diagnosing",
    RepairStatus.AWAITING_APPROVAL: "Quote with customer",
    RepairStatus.AWAITING_PARTS: "Awaiting parts",
    RepairStatus.REPAIRING: "Repairing",
    RepairStatus.QUALITY_CHECK: "Quality check",
    RepairStatus.READY_TO_SHIP: "Ready to ship",
    RepairStatus.SHIPPED: "Shipped",
}


def status_title(status: str) -> str:
    try:
        return COLUMN_TITLES[RepairStatus(status)]
    except (ValueError, KeyError):
        return humanise(status)


@dataclass(frozen=True)
class SlaView:
    """A job's turnaround clock as a technician reads it."""

    due_at: datetime | None
    words: str  # "Due in 1 d 4 h", "Overdue by 3 h", "Clock paused", "Clock not started"
    due_words: str  # "7 December at 14:00 UTC", "" without a due time
    breached: bool
    state: str  # "running", "paused", "stopped", "not_started"

    @property
    def due_iso(self) -> str:
        return self.due_at.isoformat() if self.due_at else ""


def duration_words(span: timedelta) -> str:
    """`2 d 4 h`, `3 h 10 min`, `25 min`, `less than a minute`: precise enough to act on."""
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else "less than a minute"


def sla_view(status: str, sla: SlaFacts, now: datetime) -> SlaView:
    """The clock runs from receipt until `ready_to_ship`, stands still while a quote waits
    for the customer, and is breached when the job is not ready by its due time (whether
    or not the workflow's timer has flagged it yet)."""
    due = repair_sla_due_at(sla)
    today = now.date()
    if due is None:
        return SlaView(None, "Clock not started", "", False, "not_started")
    due_words = human_datetime(due, today)
    late_now = sla.ready_at is None and now > due
    breached = sla.breached or late_now or (sla.ready_at is not None and sla.ready_at > due)
    if sla.ready_at is not None:
        words = "Ready late" if breached else "Ready on time"
        return SlaView(due, words, due_words, breached, "stopped")
    if status == RepairStatus.AWAITING_APPROVAL:
        # The due time moves on while the clock stands still: late only if it was before.
        words = "Clock paused: quote with customer"
        return SlaView(due, words, due_words, sla.breached, "paused")
    if late_now:
        return SlaView(due, f"Overdue by {duration_words(now - due)}", due_words, True, "running")
    return SlaView(due, f"Due in {duration_words(due - now)}", due_words, breached, "running")


@dataclass(frozen=True)
class JobCard:
    id: str
    status: str
    product: str
    serial: str
    fault: str
    customer_name: str
    since: str  # when the job was opened, in words
    sla: SlaView


@dataclass(frozen=True)
class Column:
    status: str
    title: str
    jobs: list[JobCard]


@dataclass(frozen=True)
class Board:
    columns: list[Column]
    total: int
    breached: int
    truncated: bool


def _card(worked: WorkedCase, now: datetime) -> JobCard:
    case = worked.case
    facts = RepairFacts.from_data(case.data)
    fault = facts.fault if len(facts.fault) <= 120 else facts.fault[:119] + "…"
    return JobCard(
        id=case.id,
        status=case.status,
        product=facts.unit.product_name or facts.unit.sku,
        serial=facts.unit.serial,
        fault=fault,
        customer_name=worked.customer_name,
        since=human_datetime(case.created_at, now.date()),
        sla=sla_view(case.status, facts.sla, now),
    )


def board(rows: list[WorkedCase], now: datetime) -> Board:
    """The columns in lifecycle order, each oldest first (the rows come oldest first)."""
    cards = [_card(row, now) for row in rows[:BOARD_LIMIT]]
    columns = [
        Column(status.value, COLUMN_TITLES[status], [c for c in cards if c.status == status])
        for status in BOARD_STATUSES
    ]
    return Board(
        columns=columns,
        total=len(cards),
        breached=sum(1 for c in cards if c.sla.breached),
        truncated=len(rows) > BOARD_LIMIT,
    )
