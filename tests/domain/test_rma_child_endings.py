"""What a child case's end means for its RMA (lifecycles.md §1.5): the RMA completes with the
child's outcome, is cancelled with its reason, or takes one more step."""

from __future__ import annotations

import pytest

from domain.contracts.events import CaseEvent
from domain.repair import TERMINAL_REPAIR_STATUSES, RepairStatus
from domain.replacement import TERMINAL_REPLACEMENT_STATUSES, ReplacementStatus
from domain.rma import (
    ChildEnding,
    NextStep,
    Outcome,
    RmaStatus,
    after_repair,
    after_replacement,
)


@pytest.mark.parametrize(
    ("repair", "ending"),
    [
        (
            RepairStatus.COMPLETED,
            ChildEnding(RmaStatus.COMPLETED, CaseEvent.REPAIRED, Outcome.REPAIRED),
        ),
        (
            RepairStatus.RETURNED_UNREPAIRED,
            ChildEnding(
                RmaStatus.COMPLETED, CaseEvent.RETURNED_UNREPAIRED, Outcome.RETURNED_UNREPAIRED
            ),
        ),
        (
            RepairStatus.CANCELLED,
            ChildEnding(RmaStatus.CANCELLED, CaseEvent.REPAIR_CANCELLED, reason="repair_cancelled"),
        ),
        (
            RepairStatus.UNROUTABLE,
            ChildEnding(
                RmaStatus.RESOLVING, CaseEvent.REPAIR_UNROUTABLE, next_step=NextStep.SHIP_BACK
            ),
        ),
        (
            RepairStatus.BEYOND_REPAIR,
            ChildEnding(
                RmaStatus.RESOLVING, CaseEvent.REPAIR_BEYOND_REPAIR, next_step=NextStep.REPLACE
            ),
        ),
    ],
)
def test_after_repair(repair: RepairStatus, ending: ChildEnding) -> None:
    assert after_repair(repair) == ending


@pytest.mark.parametrize(
    ("replacement", "ending"),
    [
        (
            ReplacementStatus.COMPLETED,
            ChildEnding(RmaStatus.COMPLETED, CaseEvent.REPLACED, Outcome.REPLACED),
        ),
        (
            ReplacementStatus.REFUNDED,
            ChildEnding(RmaStatus.COMPLETED, CaseEvent.REFUNDED, Outcome.REFUNDED),
        ),
        (
            ReplacementStatus.CANCELLED,
            ChildEnding(
                RmaStatus.CANCELLED, CaseEvent.REPLACEMENT_ENDED, reason="replacement_cancelled"
            ),
        ),
        (
            ReplacementStatus.PAYMENT_FAILED,
            ChildEnding(
                RmaStatus.CANCELLED,
                CaseEvent.REPLACEMENT_ENDED,
                reason="replacement_payment_failed",
            ),
        ),
    ],
)
def test_after_replacement(replacement: ReplacementStatus, ending: ChildEnding) -> None:
    assert after_replacement(replacement) == ending


def test_every_end_of_a_child_leaves_the_rma_terminal_or_takes_a_step() -> None:
    """A child returns only once terminal; the RMA must never wait in `resolving` after it
    with nothing left to do."""
    endings = [after_repair(s) for s in TERMINAL_REPAIR_STATUSES] + [
        after_replacement(s) for s in TERMINAL_REPLACEMENT_STATUSES
    ]
    for ending in endings:
        assert (ending.status is RmaStatus.RESOLVING) == (ending.next_step is not None)
        assert ending.next_step is not NextStep.REPLACE or ending.outcome is None
