"""A case's site visits as its workflow keeps them: the visit booked now, whether its
reminder went out, and how many times the customer moved it. Shared by every lifecycle
with a technician on site (relocation, installation):

    self.visits: Visits[Appointment] = Visits()
    ...
    self.visits.book(Appointment(stage, starts_at, technician), technician)
    await self._transition(SCHEDULED, E.APPOINTMENT_BOOKED, actor, detail)

    # in the main loop's wait: wake for the reminder, and send it when due
    await self.scans.wait_for(ready, None, apply, tick=self._remind,
                              alarm=self.visits.reminder_at, commands_first=True)

    async def _remind(self) -> None:
        due = self.visits.due_reminder()
        if due is not None:
            await self._transition(self.status, E.APPOINTMENT_REMINDER, ...)

The lifecycle keeps its transitions (what each step writes, in which order); this keeps the
bookkeeping, so both lifecycles remind and count reschedules by one rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Generic, Protocol, TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.appointments import (
        REMINDER_BEFORE,
        RESCHEDULE_LIMIT_REACHED,
        reschedule_limit_detail,
    )
    from workflows.base import refusal


class Booked(Protocol):
    """What a visit needs for its reminder: when it starts."""

    @property
    def starts_at(self) -> datetime: ...


A = TypeVar("A", bound=Booked)


class Visits(Generic[A]):
    """The visit booked now (if any), its reminder, and the customer's reschedules."""

    def __init__(self) -> None:
        self.appointment: A | None = None
        self.reminded = False
        self.reschedules_used = 0
        # Who did the last visit booked: the certificate names them.
        self.technician = ""

    def book(self, appointment: A, technician: str) -> None:
        """A visit booked (or moved by the provider): it is reminded afresh."""
        self.appointment = appointment
        self.technician = technician
        self.reminded = False

    def reschedule(self) -> int:
        """The customer asked for another date: the visit is off; answers the count so far."""
        self.reschedules_used += 1
        self.appointment = None
        return self.reschedules_used

    def end(self) -> A:
        """The booked visit happened or was missed: it is off the books (answered)."""
        ended = self.appointment
        if ended is None:
            raise RuntimeError("no visit is booked: validate before ending one")
        self.appointment = None
        return ended

    def clear(self) -> None:
        """The case ends (cancelled): no visit any more."""
        self.appointment = None

    def reminder_at(self) -> datetime | None:
        """When the booked visit's reminder is due, if it has not gone out."""
        if self.appointment is None or self.reminded:
            return None
        return self.appointment.starts_at - REMINDER_BEFORE

    def due_reminder(self) -> A | None:
        """The visit to remind the customer of now, once: None until its moment, or when
        already reminded."""
        at = self.reminder_at()
        if at is None or workflow.now() < at:
            return None
        self.reminded = True
        return self.appointment

    def refuse_reschedule(self, max_reschedules: int) -> None:
        """For the reschedule validator: 409 `reschedule_limit_reached` once the customer
        has moved visits as often as the retailer allows."""
        used = self.reschedules_used
        if used >= max_reschedules:
            details = {"reschedules_used": used}
            raise refusal(RESCHEDULE_LIMIT_REACHED, reschedule_limit_detail(used), details)
