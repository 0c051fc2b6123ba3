"""Which timeline entries email the customer, and what each email says."""

from __future__ import annotations

import pytest

from domain.events import event_id, event_type, matches, pattern_problem
from domain.notifications import EmailContext, Notice, compose, notice_for

CTX = EmailContext(
    first_name="Ada",
    case_id="RMA-2026-ABCD1234",
    retailer="Acme Audio",
    tracking_url="https://returns.example.com/track/tok",
    detail={
        "ship_by": "2026-12-07T10:00:00+00:00",
        "amount": "90.00",
        "currency": "USD",
        "expires_at": "2026-12-03T10:00:00+00:00",
        "tracking_number": "1Z999",
        "core_due": "2027-01-05T10:00:00+00:00",
        "stage": "uninstall",
        "starts_at": "2026-12-01T14:30:00+00:00",
        "term_ends_at": "2026-12-20T00:00:00+00:00",
        "auto_renew": "true",
    },
)


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


@pytest.mark.parametrize("notice", list(Notice))
def test_every_email_greets_by_first_name_names_the_case_and_links_the_page(
    notice: Notice,
) -> None:
    email = compose(notice, CTX)
    assert CTX.case_id in email.subject
    assert email.body.startswith("Hello Ada,\n")
    assert f"\n{CTX.tracking_url}\n" in email.body
    assert email.body.rstrip().endswith("Acme Audio")


def test_emails_carry_their_deadlines_amounts_and_tracking_numbers_in_words() -> None:
    assert "by 7 December 2026" in compose(Notice.LABEL_READY, CTX).body
    quote = compose(Notice.QUOTE_WAITING, CTX).body
    assert "90.00 USD" in quote and "by 3 December 2026" in quote
    assert "1Z999" in compose(Notice.SHIPPED_BACK, CTX).body
    assert "by 5 January 2027" in compose(Notice.CORE_LABEL_READY, CTX).body
    reminder = compose(Notice.APPOINTMENT_REMINDER, CTX)
    assert "uninstall" in reminder.subject and "1 December 2026 at 14:30 UTC" in reminder.body
    renewal = compose(Notice.RENEWAL_UPCOMING, CTX).body
    assert "20 December 2026" in renewal and "renews automatically" in renewal
    manual = EmailContext(**{**CTX.__dict__, "detail": {**CTX.detail, "auto_renew": "false"}})
    assert "does not renew by itself" in compose(Notice.RENEWAL_UPCOMING, manual).body
    no_name = EmailContext(**{**CTX.__dict__, "first_name": ""})
    assert compose(Notice.RECEIVED, no_name).body.startswith("Hello,\n")


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
