"""Site visits, as every lifecycle with a technician on site books them (a relocation's
uninstall and reinstall, an installation): the checklist a visit records, the reminder a day
before it, the customer's limited reschedules, and how a checklist reads on a certificate.

The workflows' side (the visit booked now, its reminder, the reschedules used) is
`workflows.appointments.Visits`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.documents import ChecklistLine, long_date

# The customer is reminded this long before each visit.
REMINDER_BEFORE = timedelta(hours=24)
# The refusal of a reschedule past the retailer's `max_reschedules` (409 on the API).
RESCHEDULE_LIMIT_REACHED = "reschedule_limit_reached"


@dataclass
class ChecklistItem:
    item: str
    passed: bool
    note: str = ""


@dataclass
class Visit:
    """A booked visit with no stage of its own (an installation has one kind of visit)."""

    starts_at: datetime
    technician: str


def checklist_summary(checklist: Sequence[ChecklistItem]) -> dict[str, str]:
    """The timeline detail of a visit done: how many checklist items passed."""
    passed = sum(1 for c in checklist if c.passed)
    return {"checklist": f"{passed}/{len(checklist)} passed"}


def failed_items(checklist: Sequence[ChecklistItem]) -> list[str]:
    """The items that did not pass, in order: a commissioning with any is not done."""
    return [c.item for c in checklist if not c.passed]


def certificate_lines(checklist: Sequence[ChecklistItem]) -> list[ChecklistLine]:
    """A checklist as a certificate prints it."""
    return [ChecklistLine(c.item, c.passed, c.note) for c in checklist]


def visit_day(dates: dict[str, datetime], step: str) -> str:
    """The day a step was done, as a certificate prints it; blank for a step not done."""
    moment = dates.get(step)
    return long_date(moment) if moment else ""


def visit_detail(stage: str, starts_at: datetime, technician: str | None = None) -> dict[str, str]:
    """The timeline detail of a visit booked (with its technician), missed or reminded of."""
    detail = {"stage": stage, "starts_at": starts_at.isoformat()}
    if technician is not None:
        detail["technician"] = technician
    return detail


def reschedule_detail(stage: str, used: int, preferred_after: datetime | None) -> dict[str, str]:
    """The timeline detail of a reschedule the customer asked for."""
    detail = {"stage": stage, "reschedules": str(used)}
    if preferred_after:
        detail["preferred_after"] = preferred_after.isoformat()
    return detail


def reschedule_limit_detail(used: int) -> str:
    """Why a reschedule is refused, for the refusal's message."""
    return f"the appointment was rescheduled {used} times, the most this retailer allows"
