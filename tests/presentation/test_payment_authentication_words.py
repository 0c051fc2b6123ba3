"""A payment waiting for its customer's authentication, in words: whatever the case, it is
the customer's next step (with its deadline) and calls for an email; the three timeline
entries read as plain words with their reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.common import CaseKind
from domain.contracts.events import CaseEvent
from domain.contracts.facts import facts_of, payment_action_of
from domain.notifications import Notice, notice_for
from presentation.copy import event_note, event_title
from presentation.steps import TrackedCase, next_step

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

ACTION = {
    "url": "https://bank.example/3ds/pi_1",
    "since": NOW.isoformat(),
    "expires_at": (NOW + timedelta(hours=24)).isoformat(),
    "amount": "80.00",
    "currency": "USD",
    "kind": "hold",
}


@pytest.mark.parametrize("case_type", list(CaseKind))
def test_asking_for_authentication_emails_the_customer_in_any_case(case_type: CaseKind) -> None:
    notice = notice_for(
        case_type, CaseEvent.PAYMENT_AUTHENTICATION_REQUIRED, "requested", "requested", False
    )
    assert notice is Notice.PAYMENT_AUTHENTICATION
    for settled in (CaseEvent.PAYMENT_AUTHENTICATED, CaseEvent.PAYMENT_AUTHENTICATION_FAILED):
        assert notice_for(case_type, settled, "requested", "requested", False) is None


@pytest.mark.parametrize(
    ("case_type", "status"), [("replacement", "requested"), ("service_plan", "past_due")]
)
def test_the_payment_to_confirm_is_the_customers_next_step(case_type: str, status: str) -> None:
    data = {"payment_action": ACTION}
    case = TrackedCase(
        case_type, status, facts_of(case_type, data), payment_action=payment_action_of(data)
    )
    step = next_step(case, NOW)
    assert step is not None and step.yours
    assert step.title == "Confirm the payment of $80.00 with your bank"
    assert step.deadline == "Confirm it by 24 November"
    assert step.due == NOW + timedelta(hours=24)
    # Settled: the lifecycle's own next step again.
    settled = TrackedCase(case_type, status, facts_of(case_type, {}))
    assert next_step(settled, NOW) != step


def test_the_entries_read_as_words_with_their_reasons() -> None:
    for kind in ("replacement", "service_plan"):
        assert event_title(kind, "payment_authentication_required", {}) == (
            "Your bank asks you to confirm a payment"
        )
        assert event_title(kind, "payment_authenticated", {}) == "You confirmed the payment"
    failed = {"amount": "80.00", "currency": "USD", "reason": "authentication_expired"}
    assert event_note(failed, "USD", NOW.date()) == (
        "$80.00 · The payment wasn't confirmed in time"
    )
    assert "Your bank didn't confirm the payment" in event_note(
        {"reason": "authentication_failed"}, "USD", NOW.date()
    )
