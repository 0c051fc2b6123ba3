"""What a plan's state decides on its own (lifecycles.md §5): the billing calendar's next
step, dunning and suspension, renewal, claims and their answers, and the commands a
continued plan remembers. The workflow performs what these decide."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.common import Customer, Policy
from domain.durations import add_months
from domain.service_plan import (
    REMEMBERED_COMMANDS,
    BillingPeriod,
    Charge,
    ClaimAnswer,
    ClaimRefusal,
    ClaimRequest,
    ClaimType,
    Overdue,
    PlanState,
    PlanStatus,
    PlanTerms,
    ServicePlanStart,
    plan_view,
)

ENROLLED = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
TERMS = PlanTerms(
    code="CARE-3",
    name="Care 3",
    term_months=3,
    billing_period=BillingPeriod.MONTHLY,
    price=Decimal("9.99"),
    claim_limit=1,
    waiting_period=timedelta(days=14),
    incidents=frozenset({"breakdown"}),
)
POLICY = Policy(dunning=[timedelta(days=1), timedelta(days=3)], grace_period=timedelta(days=7))


def enrolled(terms: PlanTerms = TERMS) -> PlanState:
    start = ServicePlanStart(
        plan_id="PLN-2026-000001",
        org_id="org",
        org_name="Shop",
        tracking_token="t",
        sku="SKU",
        serial="SN",
        product_name="Speaker",
        category="audio",
        unit_price=Decimal("199.00"),
        policy=POLICY,
        public_base_url="http://test",
        terms=terms,
        payment_method="pm_ok",
        customer=Customer("Grace Hopper"),
    )
    return PlanState.enrol(start, ENROLLED)


def test_an_enrolled_plan_waits_and_owes_its_first_period_at_once() -> None:
    state = enrolled()
    assert (state.status, state.term_start, state.term_number) == (
        PlanStatus.WAITING_PERIOD,
        ENROLLED,
        1,
    )
    assert state.waiting(ENROLLED + timedelta(days=13))
    assert not state.waiting(ENROLLED + timedelta(days=14))
    assert state.charge_due(ENROLLED)
    assert state.charge_key("PLN-2026-000001") == "plan:PLN-2026-000001/term-1/charge-1"


def test_a_paid_period_is_recorded_with_its_bounds_and_the_next_falls_due_a_month_on() -> None:
    state = enrolled()
    assert state.paid() == 1
    assert state.charges == [Charge(Decimal("9.99"), ENROLLED, add_months(ENROLLED, 1))]
    assert state.next_charge_at() == add_months(ENROLLED, 1)
    assert not state.charge_due(add_months(ENROLLED, 1) - timedelta(seconds=1))
    assert state.charge_due(add_months(ENROLLED, 1))
    assert state.charge_key("P") == "plan:P/term-1/charge-2"
    state.paid()
    state.paid()
    # The term is paid for: nothing more is due in it.
    assert state.next_charge_at() is None
    assert not state.charge_due(state.term_ends_at)


def test_a_past_due_plan_is_dunned_step_by_step_then_suspended_when_grace_ends() -> None:
    state = enrolled()
    state.status = PlanStatus.ACTIVE
    failed_at = ENROLLED + timedelta(days=30)
    state.charge_failed(failed_at)
    state.status = PlanStatus.PAST_DUE
    # Billing stops while a charge is overdue: dunning retries it instead.
    assert not state.charge_due(failed_at)
    assert state.overdue(POLICY, failed_at + timedelta(hours=23)) is None
    assert state.overdue(POLICY, failed_at + timedelta(days=1)) is Overdue.RETRY
    state.dunning_step += 1
    assert state.overdue(POLICY, failed_at + timedelta(days=2)) is None
    assert state.overdue(POLICY, failed_at + timedelta(days=3)) is Overdue.RETRY
    state.dunning_step += 1
    # The schedule is spent: nothing until grace ends, then suspension.
    assert state.overdue(POLICY, failed_at + timedelta(days=6)) is None
    assert state.overdue(POLICY, failed_at + timedelta(days=7)) is Overdue.SUSPEND
    state.paid_up()
    assert (state.failed_charge_at, state.dunning_step) == (None, 0)
    assert state.overdue(POLICY, failed_at + timedelta(days=7)) is None


def test_an_active_plan_is_never_dunned() -> None:
    state = enrolled()
    state.status = PlanStatus.ACTIVE
    state.failed_charge_at = ENROLLED
    assert state.overdue(POLICY, ENROLLED + timedelta(days=30)) is None


def test_the_renewal_notice_goes_once_and_a_renewal_starts_a_fresh_term_on_new_terms() -> None:
    state = enrolled()
    end = add_months(ENROLLED, 3)
    assert not state.renewal_notice_due(end - timedelta(days=31))
    assert state.renewal_notice_due(end - timedelta(days=30))
    assert state.notice_renewal() == {"term_ends_at": end.isoformat(), "auto_renew": "true"}
    assert not state.renewal_notice_due(end)
    state.paid()
    dearer = dataclasses.replace(TERMS, price=Decimal("12.00"))
    state.renew(dearer)
    assert (state.term_start, state.term_number, state.terms) == (end, 2, dearer)
    assert (state.charges, state.next_charge, state.renewal_notice_sent) == ([], 0, False)
    assert state.term_ends_at == add_months(end, 3)
    assert state.charge_key("P") == "plan:P/term-2/charge-1"


def test_claims_are_numbered_refused_by_the_rules_and_answered_with_their_case() -> None:
    state = enrolled()
    waiting = state.new_claim(ClaimRequest(ClaimType.REPAIR, "breakdown"), ENROLLED)
    assert (waiting.number, waiting.decision, waiting.reason) == (
        1,
        "refused",
        ClaimRefusal.WAITING_PERIOD.value,
    )
    assert waiting.answer() == ClaimAnswer("refused", ClaimRefusal.WAITING_PERIOD)
    state.claims.append(waiting)
    state.status = PlanStatus.ACTIVE
    later = ENROLLED + timedelta(days=20)
    claim = state.new_claim(ClaimRequest(ClaimType.REPLACEMENT, "breakdown"), later)
    assert (claim.number, claim.reason) == (2, None)
    state.approve(claim)
    claim.case_id = "RPL-2026-000001-C2"
    assert (claim.decision, claim.link) == ("approved", "replacement_id")
    assert claim.answer() == ClaimAnswer("approved", replacement_id="RPL-2026-000001-C2")
    assert (state.approved_claims_at, state.any_approved_claim) == ([later], True)
    assert state.claims_used(later) == 1
    assert state.claims_used(add_months(later, 12)) == 0
    # The limit (one a year) is reached.
    over = state.new_claim(ClaimRequest(ClaimType.REPAIR, "breakdown"), later)
    assert over.reason == ClaimRefusal.CLAIM_LIMIT_REACHED.value


def test_a_continued_plan_remembers_its_latest_commands_and_their_answers() -> None:
    state = enrolled()
    answer = ClaimAnswer("approved", repair_id="REP-1")
    state.remember(None, answer)
    assert state.applied_commands == {}
    assert not state.answered(None)
    state.remember("cmd:claim", answer)
    assert state.answered("cmd:claim")
    assert state.applied_commands["cmd:claim"] == answer
    for n in range(REMEMBERED_COMMANDS):
        state.remember(f"cmd:{n}", None)
    # The oldest is forgotten first: retries come soon after their command.
    assert not state.answered("cmd:claim")
    assert state.answered("cmd:0")
    assert len(state.applied_commands) == REMEMBERED_COMMANDS


def test_the_view_counts_claims_in_the_rolling_year_and_shows_no_charge_once_closed() -> None:
    state = enrolled()
    view = plan_view("PLN-1", state, ENROLLED)
    assert (view.term_ends_at, view.next_charge_at, view.claims_used) == (
        add_months(ENROLLED, 3),
        ENROLLED,
        0,
    )
    state.status = PlanStatus.CANCELLED
    assert plan_view("PLN-1", state, ENROLLED).next_charge_at is None
