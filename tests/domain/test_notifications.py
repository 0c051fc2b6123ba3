"""Which timeline entries email the customer, and the events integrations receive."""

from __future__ import annotations

import pytest

from domain.events import event_id, event_type, matches, pattern_problem
from domain.notifications import Notice, notice_for


@pytest.mark.parametrize(
    ("case_type", "event", "status", "previous", "linked", "notice"),
    [
        ("rma", "label_created", "awaiting_return", "awaiting_return", False, Notice.LABEL_READY),
        ("rma", "received", "received", "in_transit", False, Notice.RECEIVED),
        ("rma", "note", "received", "received", False, None),  # already received
        ("rma", "shipping_back", "resolving", "received", False, Notice.SHIPPED_BACK),
        ("rma", "carrier_picked_up", "in_transit", "awaiting_return", False, None),
        ("repair", "label_created", "awaiting_unit", "awaiting_unit", False, Notice.LABEL_READY),
        ("repair", "label_created", "awaiting_unit", "awaiting_unit", True, None),
        ("repair", "received", "received", "awaiting_unit", False, Notice.RECEIVED),
        ("repair", "received", "received", "awaiting_unit", True, None),
        ("repair", "quoted", "awaiting_approval", "diagnosing", True, Notice.QUOTE_WAITING),
        ("repair", "carrier_picked_up", "shipped", "ready_to_ship", True, Notice.SHIPPED_BACK),
        ("repair", "carrier_in_transit", "shipped", "shipped", True, None),
        ("replacement", "carrier_picked_up", "shipped", "requested", False,
         Notice.REPLACEMENT_SHIPPED),
        ("replacement", "core_label_created", "awaiting_core", "delivered", False,
         Notice.CORE_LABEL_READY),
        ("relocation", "appointment_reminder", "scheduled_uninstall", "scheduled_uninstall",
         False, Notice.APPOINTMENT_REMINDER),
        ("service_plan", "renewal_upcoming", "active", "active", False, Notice.RENEWAL_UPCOMING),
        ("service_plan", "charged", "active", "active", False, None),
        ("service_plan", "transferred", "active", "active", False, Notice.PLAN_TRANSFERRED),
    ],
)  # fmt: skip
def test_the_steps_that_matter_and_only_those_email(
    case_type: str, event: str, status: str, previous: str, linked: bool, notice: Notice | None
) -> None:
    assert notice_for(case_type, event, status, previous, linked) is notice


def test_event_types_ids_and_patterns() -> None:
    assert event_type("rma", "received", "received", "in_transit") == "rma.received"
    assert event_type("repair", "repairing", "sla_breached", "repairing") == "repair.sla_breached"
    assert event_type("rma", "pending_review", "created", None) == "rma.pending_review"
    assert event_id("RMA-1", 3) == event_id("RMA-1", 3) != event_id("RMA-1", 4)
    assert event_id("RMA-1", 3) != event_id("RMA-2", 3)
    assert matches(["rma.*"], "rma.received") and not matches(["rma.*"], "repair.received")
    assert matches(["*.cancelled"], "repair.cancelled") and matches(["*"], "service_plan.x")
    assert not matches(["repair.completed"], "repair.completed_late")
    for good in ("*", "rma.*", "*.completed", "service_plan.renewal_upcoming"):
        assert pattern_problem(good) is None
    for bad in ("rma", "parcel.*", "rma.received.x", "RMA.*", "", "rma.re ceived"):
        assert pattern_problem(bad) is not None
