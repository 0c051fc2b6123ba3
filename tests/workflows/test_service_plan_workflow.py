"""The service-plan workflow on the time-skipping server: enrolment, billing on timers,
dunning and suspension, claims that start repairs and replacements, cancellation with
proration, renewal at the catalog's new price, transfer, and a ten-year term."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy

from db import models
from domain.common import Address, Customer, Policy
from domain.durations import add_months
from domain.ids import (
    new_tracking_token,
    repair_workflow_id,
    replacement_workflow_id,
    service_plan_workflow_id,
)
from domain.money import floor_cents
from domain.service_plan import (
    BillingPeriod,
    CancelAnswer,
    ClaimAnswer,
    ClaimRefusal,
    ClaimRequest,
    ClaimType,
    PaymentMethodChange,
    PlanCancel,
    PlanStatus,
    PlanTerms,
    PlanTransfer,
    PlanView,
    ServicePlanStart,
)
from tests.workflows.conftest import Harness

P = PlanStatus
Handle = WorkflowHandle[Any, Any]

CUSTOMER_ADDRESS = Address(line1="3 Plan Street", city="Dayton", postal_code="45402", country="US")
MONTHLY_PRICE = Decimal("9.99")

# ------------------------------------------------------------------------ helpers


def new_terms(**changes: Any) -> PlanTerms:
    """A monthly 3-month plan of its own code (the catalog is per code), no renewal."""
    terms = PlanTerms(
        code=f"CARE-{uuid.uuid4().hex[:8].upper()}",
        name="Care Monthly",
        term_months=3,
        billing_period=BillingPeriod.MONTHLY,
        price=MONTHLY_PRICE,
        claim_limit=2,
        incidents=frozenset({"breakdown", "accidental_damage"}),
        auto_renew=False,
    )
    return dataclasses.replace(terms, **changes)


def plan_start(
    h: Harness,
    terms: PlanTerms,
    *,
    payment_method: str = "pm_ok",
    policy: Policy | None = None,
) -> ServicePlanStart:
    """A plan on a unit of its own SKU (no stock: a replacement claim is backordered) and
    category (no repair center: a repair claim ends unroutable by itself)."""
    return ServicePlanStart(
        plan_id=f"PLN-TEST-{uuid.uuid4().hex[:10].upper()}",
        org_id=h.org_id,
        org_name="Test Retailer",
        tracking_token=new_tracking_token(),
        sku=f"PLN-SKU-{uuid.uuid4().hex[:8].upper()}",
        serial=f"SN-{uuid.uuid4().hex[:8]}",
        product_name="Speaker",
        category=f"cat-{uuid.uuid4().hex[:8]}",
        unit_price=Decimal("199.00"),
        policy=policy or Policy(),
        public_base_url="http://aftersales.test",
        terms=terms,
        payment_method=payment_method,
        customer=Customer(name="Grace Hopper", email="grace@example.com", address=CUSTOMER_ADDRESS),
    )


async def open_plan(h: Harness, s: ServicePlanStart) -> tuple[Handle, PlanView]:
    """Enrol and get the create call's answer in one round trip, as the API does."""
    operation: WithStartWorkflowOperation[Any, PlanView] = WithStartWorkflowOperation(
        "ServicePlan",
        s,
        id=service_plan_workflow_id(s.plan_id),
        task_queue=h.settings.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        result_type=PlanView,
    )
    view: PlanView = await h.env.client.execute_update_with_start_workflow(
        "accept", start_workflow_operation=operation, result_type=PlanView
    )
    return await operation.workflow_handle(), view


async def claim(handle: Handle, request: ClaimRequest) -> ClaimAnswer:
    answer: ClaimAnswer = await handle.execute_update("claim", request, result_type=ClaimAnswer)
    return answer


async def change_method(handle: Handle, payment_method: str) -> PlanView:
    view: PlanView = await handle.execute_update(
        "change_payment_method", PaymentMethodChange(payment_method), result_type=PlanView
    )
    return view


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll in real time (the worker runs on real time between skips)."""
    for _ in range(500):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def sleep_until(h: Harness, moment: datetime) -> None:
    await h.env.sleep(moment - await h.env.get_current_time())


async def case_row(h: Harness, case_id: str) -> models.Case | None:
    async with h.sessions() as session:
        return await session.get(models.Case, case_id)


async def case_status(h: Harness, case_id: str) -> str | None:
    row = await case_row(h, case_id)
    return None if row is None else row.status


async def until_status(h: Harness, case_id: str, status: str) -> None:
    async def reached() -> bool:
        return await case_status(h, case_id) == status

    await eventually(reached, f"{case_id} to be {status}")


async def events(h: Harness, case_id: str) -> list[str]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.TimelineEvent.event)
                    .where(models.TimelineEvent.case_id == case_id)
                    .order_by(models.TimelineEvent.seq)
                )
            ).all()
        )


async def payments(h: Harness, case_id: str, kind: str | None = None) -> list[models.Payment]:
    query = select(models.Payment).where(models.Payment.case_id == case_id)
    if kind is not None:
        query = query.where(models.Payment.kind == kind)
    async with h.sessions() as session:
        rows = (await session.scalars(query.order_by(models.Payment.created_at))).all()
    return list(rows)


async def charge_row(h: Harness, plan_id: str, term: int, period: int) -> models.Payment:
    key = f"plan:{plan_id}/term-{term}/charge-{period}"
    async with h.sessions() as session:
        row = await session.scalar(
            select(models.Payment).where(models.Payment.idempotency_key == key)
        )
    assert row is not None, key
    return row


async def cancel(handle: Handle, reason: str = "") -> CancelAnswer:
    answer: CancelAnswer = await handle.execute_update(
        "cancel", PlanCancel(reason), result_type=CancelAnswer
    )
    return answer


async def certificates(h: Harness, case_id: str) -> list[models.Document]:
    async with h.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(models.Document)
                    .where(
                        models.Document.case_id == case_id,
                        models.Document.kind == "coverage_certificate",
                    )
                    .order_by(models.Document.created_at)
                )
            ).all()
        )


async def settle_and_terminate(
    h: Harness, workflow_id: str, case_id: str, settled_status: str
) -> None:
    """End a workflow the test leaves running, only once it is idle: its case row shows the
    settled status and no workflow task or activity is under way. Terminating one in the
    middle of a task would stall the shared time-skipping server's clock."""
    handle = h.env.client.get_workflow_handle(workflow_id)

    async def idle() -> bool:
        description = await handle.describe()
        if description.status != WorkflowExecutionStatus.RUNNING:
            return True
        raw = description.raw_description
        return (
            await case_status(h, case_id) == settled_status
            and not raw.HasField("pending_workflow_task")
            and not raw.pending_activities
        )

    await eventually(idle, f"{workflow_id} to settle as {settled_status}")
    if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
        await handle.terminate(reason="test cleanup")


# -------------------------------------------------------------------------- tests


async def test_monthly_plan_bills_each_month_then_expires(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, view = await open_plan(h, s)
    assert view.status is P.ACTIVE
    assert view.plan_id == s.plan_id
    (certificate,) = await certificates(h, s.plan_id)
    assert certificate.idempotency_key.endswith("coverage-certificate-1")
    assert await case_status(h, s.plan_id) == "active"

    assert view.term_ends_at is not None
    await sleep_until(h, view.term_ends_at + timedelta(days=1))
    result: PlanView = await handle.result()
    assert result.status is P.EXPIRED
    assert result.next_charge_at is None
    await until_status(h, s.plan_id, "expired")

    charges = await payments(h, s.plan_id, "charge")
    assert len(charges) == 3
    assert len({c.idempotency_key for c in charges}) == 3
    assert all((c.status, c.attempts, c.amount) == ("succeeded", 1, MONTHLY_PRICE) for c in charges)
    timeline = await events(h, s.plan_id)
    assert timeline[:2] == ["enrolled", "charged"]
    assert timeline.count("charged") == 3
    assert timeline.count("renewal_upcoming") == 1
    assert timeline[-1] == "expired"


async def test_declined_first_charge_rejects_the_plan(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(), payment_method="pm_declined")
    handle, view = await open_plan(h, s)
    assert view.status is P.REJECTED
    assert (await handle.result()).status is P.REJECTED
    assert await case_status(h, s.plan_id) == "rejected"
    (charge,) = await payments(h, s.plan_id)
    assert (charge.kind, charge.status, charge.attempts) == ("charge", "declined", 1)
    assert await certificates(h, s.plan_id) == []
    assert (await events(h, s.plan_id))[-1] == "rejected"


async def test_waiting_period_refuses_claims_then_activates(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(waiting_period=timedelta(days=14)))
    handle, view = await open_plan(h, s)
    assert view.status is P.WAITING_PERIOD
    assert await certificates(h, s.plan_id) == []

    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "breakdown"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.WAITING_PERIOD)
    assert answer.repair_id is None

    await h.env.sleep(timedelta(days=15))
    await until_status(h, s.plan_id, "active")
    assert (await handle.query("current", result_type=PlanView)).status is P.ACTIVE
    assert len(await certificates(h, s.plan_id)) == 1
    assert "activated" in await events(h, s.plan_id)
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_failed_charge_recovers_on_the_first_dunning_retry(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, view = await open_plan(h, s)
    assert view.status is P.ACTIVE
    assert (await change_method(handle, "pm_fail_once")).status is P.ACTIVE
    assert view.next_charge_at is not None

    await sleep_until(h, view.next_charge_at + timedelta(hours=1))
    await until_status(h, s.plan_id, "past_due")
    row = await charge_row(h, s.plan_id, 1, 2)
    assert (row.status, row.attempts) == ("declined", 1)
    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "breakdown"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.PLAN_NOT_ACTIVE)

    await h.env.sleep(timedelta(days=1))
    await until_status(h, s.plan_id, "active")
    row = await charge_row(h, s.plan_id, 1, 2)
    assert (row.status, row.attempts, row.amount) == ("succeeded", 2, MONTHLY_PRICE)
    timeline = await events(h, s.plan_id)
    assert timeline.count("charge_failed") == 1
    assert timeline[-2:] == ["charged", "reactivated"]
    assert len(await payments(h, s.plan_id, "charge")) == 2
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_unpaid_plan_is_suspended_after_grace_then_reactivated(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(), policy=Policy(grace_period=timedelta(days=10)))
    handle, view = await open_plan(h, s)
    assert (await change_method(handle, "pm_declined")).status is P.ACTIVE
    assert view.next_charge_at is not None

    await sleep_until(h, view.next_charge_at + timedelta(hours=1))
    await until_status(h, s.plan_id, "past_due")
    await h.env.sleep(timedelta(days=10))
    await until_status(h, s.plan_id, "suspended")
    timeline = await events(h, s.plan_id)
    assert timeline.count("dunning_retry_failed") == 3
    assert timeline[-1] == "suspended"
    row = await charge_row(h, s.plan_id, 1, 2)
    assert (row.status, row.attempts) == ("declined", 4)

    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "breakdown"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.PLAN_NOT_ACTIVE)

    view = await change_method(handle, "pm_ok")
    assert view.status is P.ACTIVE
    assert await case_status(h, s.plan_id) == "active"
    row = await charge_row(h, s.plan_id, 1, 2)
    assert (row.status, row.attempts, row.payment_method) == ("succeeded", 5, "pm_ok")
    assert (await events(h, s.plan_id))[-1] == "reactivated"
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_claims_refused_out_of_cover_and_over_the_limit(harness: Harness) -> None:
    h = harness
    terms = new_terms(
        claim_limit=1,
        deductibles={ClaimType.REPAIR: Decimal("49.00"), ClaimType.REPLACEMENT: Decimal("99.00")},
    )
    s = plan_start(h, terms)
    handle, _ = await open_plan(h, s)

    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "theft"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.NOT_COVERED)
    assert await payments(h, s.plan_id, "deductible") == []

    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "breakdown", "no sound"))
    assert (answer.decision, answer.reason) == ("approved", None)
    repair_id = f"REP-{s.plan_id.split('-', 1)[1]}-C2"
    assert (answer.repair_id, answer.replacement_id) == (repair_id, None)
    (deductible,) = await payments(h, s.plan_id, "deductible")
    assert (deductible.amount, deductible.status, deductible.attempts) == (
        Decimal("49.00"),
        "succeeded",
        1,
    )
    assert deductible.idempotency_key == f"plan:{s.plan_id}/claim-2/deductible"

    answer = await claim(handle, ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.CLAIM_LIMIT_REACHED)
    assert answer.replacement_id is None
    assert len(await payments(h, s.plan_id, "deductible")) == 1
    view: PlanView = await handle.query("current", result_type=PlanView)
    assert (view.status, view.claims_used) == (P.ACTIVE, 1)
    timeline = await events(h, s.plan_id)
    assert timeline.count("claim_refused") == 2
    assert timeline.count("claim_approved") == 1
    plan_row = await case_row(h, s.plan_id)
    assert plan_row is not None
    assert plan_row.links.get("repair_id") == repair_id
    assert [c["decision"] for c in plan_row.data["claims"]] == ["refused", "approved", "refused"]

    # The repair child: no center serves the plan's category, so it ends by itself.
    await settle_and_terminate(h, repair_workflow_id(repair_id), repair_id, "unroutable")
    repair = await case_row(h, repair_id)
    assert repair is not None
    assert (repair.case_type, repair.status, repair.coverage) == (
        "repair",
        "unroutable",
        "service_plan",
    )
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_approved_replacement_claim_starts_a_replacement(harness: Harness) -> None:
    h = harness
    terms = new_terms(deductibles={ClaimType.REPLACEMENT: Decimal("99.00")})
    s = plan_start(h, terms)
    handle, _ = await open_plan(h, s)

    answer = await claim(handle, ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage"))
    replacement_id = f"RPL-{s.plan_id.split('-', 1)[1]}-C1"
    assert (answer.decision, answer.replacement_id, answer.repair_id) == (
        "approved",
        replacement_id,
        None,
    )
    (deductible,) = await payments(h, s.plan_id, "deductible")
    assert (deductible.amount, deductible.status) == (Decimal("99.00"), "succeeded")
    plan_row = await case_row(h, s.plan_id)
    assert plan_row is not None
    assert plan_row.links.get("replacement_id") == replacement_id

    # No stock of the plan's SKU: the replacement waits on backorder; end it once settled.
    await settle_and_terminate(
        h, replacement_workflow_id(replacement_id), replacement_id, "backordered"
    )
    replacement = await case_row(h, replacement_id)
    assert replacement is not None
    assert (replacement.case_type, replacement.status) == ("replacement", "backordered")
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_cancel_inside_the_full_refund_window_refunds_everything(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, _ = await open_plan(h, s)
    await h.env.sleep(timedelta(days=3))
    answer = await cancel(handle, "changed my mind")
    assert (answer.refund, answer.status) == (MONTHLY_PRICE, P.CANCELLED)
    (refund,) = await payments(h, s.plan_id, "refund")
    assert (refund.amount, refund.status) == (MONTHLY_PRICE, "succeeded")
    assert (await handle.result()).status is P.CANCELLED
    assert await case_status(h, s.plan_id) == "cancelled"
    assert (await events(h, s.plan_id))[-1] == "cancelled"


async def test_cancel_after_the_window_is_prorated(harness: Harness) -> None:
    h = harness
    terms = new_terms(
        name="Care Annual",
        term_months=12,
        billing_period=BillingPeriod.ANNUAL,
        price=Decimal("365.00"),
    )
    s = plan_start(h, terms)
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    await h.env.sleep(timedelta(days=40))
    answer = await cancel(handle)
    assert answer.status is P.CANCELLED

    enrolled = add_months(view.term_ends_at, -12)
    total_days = (view.term_ends_at.date() - enrolled.date()).days
    expected = floor_cents(Decimal("365.00") * (total_days - 41) / total_days)
    assert answer.refund == expected
    assert Decimal("320") < answer.refund < Decimal("330")
    (refund,) = await payments(h, s.plan_id, "refund")
    assert (refund.amount, refund.status) == (expected, "succeeded")
    assert refund.idempotency_key == f"plan:{s.plan_id}/cancel-refund"
    assert (await handle.result()).status is P.CANCELLED
    assert await case_status(h, s.plan_id) == "cancelled"


async def test_transfer_issues_a_certificate_to_the_new_owner(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, _ = await open_plan(h, s)
    owner = Customer(name="Ada Lovelace", email="ada@example.com", address=CUSTOMER_ADDRESS)
    view: PlanView = await handle.execute_update(
        "transfer", PlanTransfer(owner), result_type=PlanView
    )
    assert view.status is P.ACTIVE
    first, second = await certificates(h, s.plan_id)
    assert first.id != second.id
    assert second.idempotency_key.endswith("coverage-certificate-2")
    row = await case_row(h, s.plan_id)
    assert row is not None
    assert row.data["owner"] == "Ada Lovelace"
    assert row.data["customer_first_name"] == "Ada"
    async with h.sessions() as session:
        record = await session.get(models.CustomerRecord, row.customer_id)
    assert record is not None
    assert record.name == "Ada Lovelace"
    assert (await events(h, s.plan_id))[-1] == "transferred"
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_auto_renewal_takes_the_catalog_price(harness: Harness) -> None:
    h = harness
    terms = new_terms(term_months=12, auto_renew=True)
    s = plan_start(h, terms)
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    new_price = Decimal("12.49")
    async with h.sessions.begin() as session:
        session.add(
            models.PlanCatalogEntry(
                org_id=h.org_id,
                code=terms.code,
                name="Care Monthly 2",
                terms={
                    "name": "Care Monthly 2",
                    "term_months": 12,
                    "billing_period": "monthly",
                    "price": str(new_price),
                    "claim_limit": 2,
                    "deductibles": {},
                    "waiting_period": "PT0S",
                    "incidents": ["breakdown", "accidental_damage"],
                    "cancel_full_refund_within": "P30D",
                    "auto_renew": True,
                },
            )
        )

    await sleep_until(h, view.term_ends_at + timedelta(days=1))

    async def renewed_and_charged() -> bool:
        rows = await payments(h, s.plan_id, "charge")
        return len(rows) == 13 and all(r.status == "succeeded" for r in rows)

    await eventually(renewed_and_charged, "the first charge of the second term")
    assert await case_status(h, s.plan_id) == "active"
    first_term = [await charge_row(h, s.plan_id, 1, n) for n in range(1, 13)]
    assert {r.amount for r in first_term} == {MONTHLY_PRICE}
    renewal = await charge_row(h, s.plan_id, 2, 1)
    assert (renewal.amount, renewal.status, renewal.attempts) == (new_price, "succeeded", 1)
    timeline = await events(h, s.plan_id)
    assert timeline.count("renewal_upcoming") == 1
    assert timeline.count("renewed") == 1
    assert timeline.index("renewed") < len(timeline) - 1
    assert len(await certificates(h, s.plan_id)) == 2

    # The renewal began a new run (continue-as-new) carrying the plan forward.
    description = await h.env.client.get_workflow_handle(handle.id).describe()
    assert description.run_id != handle.result_run_id
    current: PlanView = await h.env.client.get_workflow_handle(handle.id).query(
        "current", result_type=PlanView
    )
    assert current.term_ends_at == add_months(view.term_ends_at, 12)
    assert current.status is P.ACTIVE
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_ten_year_monthly_plan_bills_120_times(harness: Harness) -> None:
    """All 120 charges of a single ten-year term on timers, in one modest history. (The
    test server caps a run at 3,650 days, less than 120 months; the plan neither renews nor
    is told to continue as new within a term, so the test stops just before that cap.)"""
    h = harness
    s = plan_start(h, new_terms(term_months=120))
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    for _ in range(9):
        await h.env.sleep(timedelta(days=365))
    await sleep_until(h, view.term_ends_at - timedelta(days=10))

    async def all_charged() -> bool:
        return len(await payments(h, s.plan_id, "charge")) == 120

    await eventually(all_charged, "120 charges")
    charges = await payments(h, s.plan_id, "charge")
    assert len({c.idempotency_key for c in charges}) == 120
    assert all((c.status, c.attempts, c.amount) == ("succeeded", 1, MONTHLY_PRICE) for c in charges)
    timeline = await events(h, s.plan_id)
    assert timeline.count("charged") == 120
    assert timeline.count("renewal_upcoming") == 1
    view = await handle.query("current", result_type=PlanView)
    assert (view.status, view.next_charge_at) == (P.ACTIVE, None)

    history = await h.env.client.get_workflow_handle(handle.id).fetch_history()
    assert len(history.events) < 5000
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_thirty_six_months_charge_each_period_once(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(term_months=36))
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    await sleep_until(h, view.term_ends_at + timedelta(days=1))
    assert (await handle.result()).status is P.EXPIRED
    charges = await payments(h, s.plan_id, "charge")
    assert len(charges) == 36
    assert len({c.idempotency_key for c in charges}) == 36
    assert all((c.status, c.attempts) == ("succeeded", 1) for c in charges)


async def test_a_declined_deductible_refuses_the_claim(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(deductibles={ClaimType.REPAIR: Decimal("49.00")}))
    handle, _ = await open_plan(h, s)
    await change_method(handle, "pm_declined")
    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "breakdown"))
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.DEDUCTIBLE_PAYMENT_FAILED)
    assert answer.repair_id is None
    (deductible,) = await payments(h, s.plan_id, "deductible")
    assert deductible.status == "declined"
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_a_decade_of_yearly_renewals_continues_as_new_with_state_intact(
    harness: Harness,
) -> None:
    """A 12-month plan renewing ten times: each term is a run of its own (continue-as-new),
    the charges, the claims and the timeline carry on across them."""
    h = harness
    s = plan_start(h, new_terms(term_months=12, auto_renew=True))
    handle, _ = await open_plan(h, s)
    answer = await claim(handle, ClaimRequest(ClaimType.REPAIR, "theft"))
    assert answer.reason is ClaimRefusal.NOT_COVERED
    for _ in range(10):
        await h.env.sleep(timedelta(days=365))

    async def renewed_nine_times() -> bool:
        return (await events(h, s.plan_id)).count("renewed") >= 9

    await eventually(renewed_nine_times, "nine renewals")
    current = h.env.client.get_workflow_handle(handle.id)
    description = await current.describe()
    assert description.run_id != handle.result_run_id  # not the first run any more
    # Every monthly charge of every term so far, once each, under its own term's key.
    charges = await payments(h, s.plan_id, "charge")
    assert len({c.idempotency_key for c in charges}) == len(charges) >= 9 * 12
    assert all(c.attempts == 1 for c in charges)
    row = await case_row(h, s.plan_id)
    assert row is not None and row.data["term_number"] >= 10
    # The refused claim of term 1 is still on record, and the timeline never restarted.
    assert [c["reason"] for c in row.data["claims"]] == ["not_covered"]
    timeline = await events(h, s.plan_id)
    assert timeline[0] == "enrolled"
    assert timeline.count("enrolled") == 1
    history = await current.fetch_history()
    assert len(history.events) < 1000  # one term's worth, not ten
    await settle_and_terminate(h, handle.id, s.plan_id, "active")
