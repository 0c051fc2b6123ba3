"""Every lifecycle status and every timeline event has words for the customer, and every
open status has steps to come: a status or event added without them fails here, before a
customer would see its code."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

import pytest

from domain.common import CaseKind
from domain.contracts.events import CaseEvent
from domain.contracts.facts import facts_of
from domain.installation import TERMINAL_INSTALLATION_STATUSES, InstallationStatus
from domain.relocation import TERMINAL_RELOCATION_STATUSES, RelocationStatus
from domain.repair import TERMINAL_REPAIR_STATUSES, RepairStatus
from domain.replacement import TERMINAL_REPLACEMENT_STATUSES, ReplacementStatus
from domain.rma import TERMINAL_STATUSES, RmaStatus
from domain.service_plan import TERMINAL_PLAN_STATUSES, PlanStatus
from presentation.copy import (
    CARRIER_EVENT_TITLES,
    CASE_NOUNS,
    EVENT_TITLES,
    HIDDEN_EVENTS,
    STATUS_WORDS,
    event_title,
    status_words,
)
from presentation.steps import (
    LIFECYCLE_STATUSES,
    TrackedCase,
    is_finished,
    next_step,
    remaining_steps,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# ------------------------------------------------------------------ events


@pytest.mark.parametrize("event", list(CaseEvent), ids=str)
def test_every_event_has_customer_copy_or_is_hidden_on_purpose(event: CaseEvent) -> None:
    titled = event in CARRIER_EVENT_TITLES or any(event in t for t in EVENT_TITLES.values())
    assert titled or event in HIDDEN_EVENTS, f"{event} has no words for the customer"
    assert not (titled and event in HIDDEN_EVENTS), f"{event} is both titled and hidden"


@pytest.mark.parametrize(
    ("kind", "event", "title"),
    [
        (kind, event, title)
        for kind, titles in EVENT_TITLES.items()
        for event, title in titles.items()
    ]
    + [(kind, event, title) for kind in CaseKind for event, title in CARRIER_EVENT_TITLES.items()],
    ids=str,
)
def test_every_event_title_is_plain_words(kind: CaseKind, event: CaseEvent, title: str) -> None:
    shown = event_title(kind.value, event.value, {"stage": "uninstall"})
    assert shown == title.format(stage="Uninstall", stage_lower="uninstall")
    assert shown[0].isupper() and "_" not in shown


@pytest.mark.parametrize("event", sorted(HIDDEN_EVENTS), ids=str)
def test_a_hidden_event_is_not_shown(event: CaseEvent) -> None:
    assert all(event_title(kind.value, event.value, {}) is None for kind in CaseKind)


# ------------------------------------------------------------------ statuses and steps

# Named here from each lifecycle's own module, so a state added there fails these tests
# until it has words.
LIFECYCLES: list[tuple[CaseKind, type[StrEnum], frozenset[StrEnum]]] = [
    (CaseKind.RMA, RmaStatus, frozenset(TERMINAL_STATUSES)),
    (CaseKind.REPAIR, RepairStatus, frozenset(TERMINAL_REPAIR_STATUSES)),
    (CaseKind.REPLACEMENT, ReplacementStatus, frozenset(TERMINAL_REPLACEMENT_STATUSES)),
    (CaseKind.RELOCATION, RelocationStatus, frozenset(TERMINAL_RELOCATION_STATUSES)),
    (CaseKind.SERVICE_PLAN, PlanStatus, frozenset(TERMINAL_PLAN_STATUSES)),
    (CaseKind.INSTALLATION, InstallationStatus, frozenset(TERMINAL_INSTALLATION_STATUSES)),
]
EVERY_STATUS = [(kind, status) for kind, enum, _ in LIFECYCLES for status in enum]
OPEN_STATUSES = [
    (kind, status) for kind, enum, ended in LIFECYCLES for status in enum if status not in ended
]


def test_every_lifecycle_is_covered() -> None:
    assert {kind for kind, _, _ in LIFECYCLES} == set(CaseKind)
    assert {kind: enum for kind, enum, _ in LIFECYCLES} == dict(LIFECYCLE_STATUSES)


@pytest.mark.parametrize(("kind", "status"), EVERY_STATUS, ids=lambda v: str(v))
def test_every_status_has_plain_words(kind: CaseKind, status: StrEnum) -> None:
    assert status.value in STATUS_WORDS[kind], f"{kind}.{status} has no plain words"
    words = status_words(kind.value, status.value)
    assert words.headline and words.headline[0].isupper()
    # Plain words, not the code: no underscores, and not the status name itself.
    for text in (words.headline, words.explanation):
        assert "_" not in text
    assert words.headline.lower() != status.value.replace("_", " ")


@pytest.mark.parametrize(("kind", "status"), OPEN_STATUSES, ids=lambda v: str(v))
def test_every_open_status_has_steps_to_come(kind: CaseKind, status: StrEnum) -> None:
    assert not is_finished(kind.value, status.value)
    assert remaining_steps(kind.value, status.value), f"{kind}.{status} has no path ahead"


@pytest.mark.parametrize(
    ("kind", "status"),
    # sorted: a frozenset's order differs between processes, and parallel runners
    # (pytest-xdist) require every process to collect the same tests in the same order
    [(k, s) for k, _, ended in LIFECYCLES for s in sorted(ended)],
    ids=lambda v: str(v),
)
def test_a_finished_case_has_nothing_to_come_and_no_next_step(
    kind: CaseKind, status: StrEnum
) -> None:
    assert is_finished(kind.value, status.value)
    assert remaining_steps(kind.value, status.value) == []
    assert next_step(TrackedCase(kind.value, status.value, facts_of(kind, {})), NOW) is None


def test_every_case_kind_has_a_noun() -> None:
    assert set(CASE_NOUNS) == set(CaseKind)
