"""Field work in the console: the site visits of every lifecycle a provider carries out on
site (relocations; installations plug in the same way), as one appointment list by day,
and the checklist form every visit and commissioning records.

Each lifecycle is a `FieldLifecycle` in `FIELD_LIFECYCLES`, keyed by the path segment of
its pages (`/console/field/relocations/{id}`): it says which of its statuses are open, what
visit a case has booked or needs, which steps its state allows (from the same rules its
workflow's validators use), and sends each form through its JSON API route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from pydantic import BaseModel
from starlette.datastructures import FormData

from api.case_access import CaseRef, CaseResource
from api.commands import CaseCommands, Commands
from api.console.technician_forms import Refusal, text
from db import models
from db.cases import WorkedCase
from presentation.formatting import human_date


@dataclass(frozen=True)
class FieldVisit:
    """A case on the field list: its visit booked (`starts_at`) or still to book."""

    case_id: str
    path: str  # its page
    noun: str  # "Relocation", "Installation"
    visit: str  # "Uninstall", "Reinstall", "Installation visit", "Commissioning"
    starts_at: datetime | None
    technician: str
    site: dict[str, Any]
    customer_name: str
    product: str
    status: str  # in words

    @property
    def time(self) -> str:
        return f"{self.starts_at:%H:%M}" if self.starts_at else ""


@dataclass(frozen=True)
class Day:
    day: date
    title: str
    visits: list[FieldVisit]


@dataclass(frozen=True)
class FieldList:
    days: list[Day]
    to_book: list[FieldVisit]
    other: list[FieldVisit]  # open, with no visit to book or booked (on the road, commissioning)


def field_list(visits: Sequence[FieldVisit], to_book: set[str], today: date) -> FieldList:
    """Booked visits by day (UTC, the timeline's zone), earliest first; the cases whose next
    visit is to book; the rest of the open work."""
    booked = sorted((v for v in visits if v.starts_at is not None), key=lambda v: v.starts_at)  # type: ignore[arg-type, return-value]
    days: dict[date, list[FieldVisit]] = {}
    for visit in booked:
        assert visit.starts_at is not None
        days.setdefault(visit.starts_at.date(), []).append(visit)
    return FieldList(
        days=[Day(day, _day_title(day, today), day_visits) for day, day_visits in days.items()],
        to_book=[v for v in visits if v.starts_at is None and v.case_id in to_book],
        other=[v for v in visits if v.starts_at is None and v.case_id not in to_book],
    )


def _day_title(day: date, today: date) -> str:
    words = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get((day - today).days)
    weekday = f"{day:%A}"
    return (
        f"{words}, {weekday} {human_date(day, today)}"
        if words
        else f"{weekday} {human_date(day, today)}"
    )


# ------------------------------------------------------------------ checklists


@dataclass
class ChecklistDraft:
    """A checklist as the form holds it: each item, ticked or not, with its note."""

    items: list[str]
    passed: set[int] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[int, str, bool, str]]:
        return [
            (i, item, i in self.passed, self.notes[i] if i < len(self.notes) else "")
            for i, item in enumerate(self.items)
        ]


def checklist_draft(form: FormData, defaults: Sequence[str]) -> ChecklistDraft:
    """The submitted checklist: the page's items (hidden fields) plus an `extra_item` the
    technician typed, each with its `passed_<n>` box and `note` field."""
    items = [i for i in form.getlist("item") if isinstance(i, str)] or list(defaults)
    notes = [n.replace("\r\n", "\n") if isinstance(n, str) else "" for n in form.getlist("note")]
    extra = text(form, "extra_item").strip()
    if extra:
        items.append(extra)
    passed = {int(p) for p in form.getlist("passed") if isinstance(p, str) and p.isdigit()}
    return ChecklistDraft(items, passed, notes)


def checklist_data(draft: ChecklistDraft) -> list[dict[str, Any]]:
    return [
        {"item": item, "passed": ok, "note": note.strip()} for _, item, ok, note in draft.rows()
    ]


def utc_moment(value: str) -> str:
    """A `datetime-local` field's value (`2026-12-05T09:30`), which the page labels as UTC,
    as the API's aware moment; anything else is passed on for the schema to refuse."""
    value = value.strip()
    return f"{value}:00+00:00" if len(value) == 16 else value


# ------------------------------------------------------------------ lifecycles


@dataclass(frozen=True)
class FieldSteps:
    """What the provider may do now: book (the visit's name), report the visit done or
    missed (the outcome's value), commission."""

    book: str | None = None  # the stage/visit value to book, if booking is allowed
    book_label: str = ""
    done: str | None = None  # the outcome value that reports the visit done
    done_label: str = ""
    missed: bool = False
    commission: bool = False
    # Commissioning asks whether the training the retailer asked for was given.
    training: bool = False
    waiting: str | None = None


Send = Callable[[Commands], Awaitable[object]]


class FieldLifecycle(Protocol):
    """One lifecycle's field work, as the field pages drive it."""

    segment: str  # the path segment of its pages: "relocations"
    case_type: str
    noun: str
    resource: CaseResource
    commands: CaseCommands[Any]
    open_statuses: tuple[str, ...]

    def visit(self, worked: WorkedCase) -> tuple[FieldVisit, bool]:
        """The case's visit on the list, and whether its next visit is to book."""
        ...

    def steps(self, case: models.Case) -> FieldSteps: ...

    def checklist(self, step: str) -> tuple[str, ...]:
        """The default checklist of a visit done (its outcome value) or `commissioning`."""
        ...

    def facts(self, view: BaseModel) -> list[tuple[str, str]]:
        """The case's details for its page (asset, sites, the visit booked)."""
        ...

    def book(self, form: FormData, ref: CaseRef, case: models.Case) -> Send | Refusal:
        """The booking form's command (through the JSON API's route), or why not."""
        ...

    def report(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal: ...

    def commission(self, form: FormData, draft: ChecklistDraft, ref: CaseRef) -> Send | Refusal: ...
