"""The service-plan workflow on the time-skipping server: enrolment, billing on timers,
dunning and suspension, claims that start repairs and replacements, cancellation with
proration, renewal at the catalog's new price, transfer, and a ten-year term."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from db import models
from domain.common import Customer, Policy
from domain.durations import add_months
from domain.ids import repair_workflow_id, replacement_workflow_id
from domain.money import floor_cents, floor_minor, money_text
from domain.service_plan import (
    BillingPeriod,
    ClaimRefusal,
    ClaimRequest,
    ClaimType,
    PaymentMethodChange,
    PlanCancel,
    PlanStatus,
    PlanTransfer,
    PlanView,
)
from tests.support import eventually
from tests.workflows.kit import (
    CUSTOMER_ADDRESS,
    MONTHLY_PRICE,
    Harness,
    PlanHandle,
    case_row,
    case_status,
    catalog_entry,
    documents,
    events,
    new_terms,
    open_plan,
    payments,
    plan_start,
    settle_and_terminate,
    sleep_until,
    timeline,
    typed,
    until_status,
)
from workflows.service_plan import ServicePlanWorkflow

P = PlanStatus
CERTIFICATE = "coverage_certificate"


async def change_method(handle: PlanHandle, payment_method: str) -> PlanView:
    return await handle.execute_update(
        typed(ServicePlanWorkflow.change_payment_method), PaymentMethodChange(payment_method)
    )


async def charge_row(h: Harness, plan_id: str, term: int, period: int) -> models.Payment:
    key = f"plan:{plan_id}/term-{term}/charge-{period}"
    async with h.sessions() as session:
        row = await session.scalar(
            select(models.Payment).where(models.Payment.idempotency_key == key)
        )
    assert row is not None, key
    return row


# -------------------------------------------------------------------------- tests


async def test_monthly_plan_bills_each_month_then_expires(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, view = await open_plan(h, s)
    assert view.status is P.ACTIVE
    assert view.plan_id == s.plan_id
    (certificate,) = await documents(h, s.plan_id, CERTIFICATE)
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
    assert await documents(h, s.plan_id, CERTIFICATE) == []
    assert (await events(h, s.plan_id))[-1] == "rejected"


async def test_waiting_period_refuses_claims_then_activates(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms(waiting_period=timedelta(days=14)))
    handle, view = await open_plan(h, s)
    assert view.status is P.WAITING_PERIOD
    assert await documents(h, s.plan_id, CERTIFICATE) == []

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "breakdown")
    )
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.WAITING_PERIOD)
    assert answer.repair_id is None

    await h.env.sleep(timedelta(days=15))
    await until_status(h, s.plan_id, "active")
    assert (await handle.query(ServicePlanWorkflow.current)).status is P.ACTIVE
    assert len(await documents(h, s.plan_id, CERTIFICATE)) == 1
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
    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "breakdown")
    )
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

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "breakdown")
    )
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

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "theft")
    )
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.NOT_COVERED)
    assert await payments(h, s.plan_id, "deductible") == []

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "breakdown", "no sound")
    )
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

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage")
    )
    assert (answer.decision, answer.reason) == ("refused", ClaimRefusal.CLAIM_LIMIT_REACHED)
    assert answer.replacement_id is None
    assert len(await payments(h, s.plan_id, "deductible")) == 1
    view: PlanView = await handle.query(ServicePlanWorkflow.current)
    assert (view.status, view.claims_used) == (P.ACTIVE, 1)
    timeline = await events(h, s.plan_id)
    assert timeline.count("claim_refused") == 2
    assert timeline.count("claim_approved") == 1
    plan_row = await case_row(h, s.plan_id)
    assert plan_row.links.get("repair_id") == repair_id
    assert [c["decision"] for c in plan_row.data["claims"]] == ["refused", "approved", "refused"]

    # The repair child: no center serves the plan's category, so it ends by itself.
    await settle_and_terminate(h, repair_workflow_id(repair_id), repair_id, "unroutable")
    repair = await case_row(h, repair_id)
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

    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage")
    )
    replacement_id = f"RPL-{s.plan_id.split('-', 1)[1]}-C1"
    assert (answer.decision, answer.replacement_id, answer.repair_id) == (
        "approved",
        replacement_id,
        None,
    )
    (deductible,) = await payments(h, s.plan_id, "deductible")
    assert (deductible.amount, deductible.status) == (Decimal("99.00"), "succeeded")
    plan_row = await case_row(h, s.plan_id)
    assert plan_row.links.get("replacement_id") == replacement_id

    # No stock of the plan's SKU: the replacement waits on backorder; end it once settled.
    await settle_and_terminate(
        h, replacement_workflow_id(replacement_id), replacement_id, "backordered"
    )
    replacement = await case_row(h, replacement_id)
    assert (replacement.case_type, replacement.status) == ("replacement", "backordered")
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_cancel_inside_the_full_refund_window_refunds_everything(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, _ = await open_plan(h, s)
    await h.env.sleep(timedelta(days=3))
    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.cancel), PlanCancel("changed my mind")
    )
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
    answer = await handle.execute_update(typed(ServicePlanWorkflow.cancel), PlanCancel())
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


async def test_a_yen_refund_is_prorated_down_to_whole_yen(harness: Harness) -> None:
    """lifecycles.md §5 rounds a refund down: 4500 JPY a year, 40 days in, gives back the
    unused share floored to the yen (3994.52… → 3994), never 3995 as a gateway's or the API's
    half-up rounding of a share kept in hundredths would make it."""
    h = harness
    terms = new_terms(term_months=12, billing_period=BillingPeriod.ANNUAL, price=Decimal("4500"))
    s = plan_start(h, terms, policy=Policy(currency="JPY"))
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    await h.env.sleep(timedelta(days=40))
    answer = await handle.execute_update(typed(ServicePlanWorkflow.cancel), PlanCancel())

    enrolled = add_months(view.term_ends_at, -12)
    total_days = (view.term_ends_at.date() - enrolled.date()).days
    share = Decimal("4500") * (total_days - 41) / total_days
    expected = floor_minor(share, "JPY")
    assert expected < share  # the share has a fraction of a yen, dropped
    assert (answer.refund, answer.refund.as_tuple().exponent) == (expected, 0)
    (refund,) = await payments(h, s.plan_id, "refund")
    assert (refund.amount, refund.currency, refund.status) == (expected, "JPY", "succeeded")
    (cancelled,) = [e.detail for e in await timeline(h, s.plan_id) if e.event == "cancelled"]
    assert cancelled == {"refund": str(expected), "currency": "JPY"}
    assert (await handle.result()).status is P.CANCELLED


async def test_transfer_issues_a_certificate_to_the_new_owner(harness: Harness) -> None:
    h = harness
    s = plan_start(h, new_terms())
    handle, _ = await open_plan(h, s)
    owner = Customer(name="Ada Lovelace", email="ada@example.com", address=CUSTOMER_ADDRESS)
    view = await handle.execute_update(typed(ServicePlanWorkflow.transfer), PlanTransfer(owner))
    assert view.status is P.ACTIVE
    first, second = await documents(h, s.plan_id, CERTIFICATE)
    assert first.id != second.id
    assert second.idempotency_key.endswith("coverage-certificate-2")
    row = await case_row(h, s.plan_id)
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
        session.add(catalog_entry(h, terms, name="Care Monthly 2", price=str(new_price)))

    await sleep_until(h, view.term_ends_at + timedelta(days=1))

    async def renewed_and_charged() -> bool:
        rows = await payments(h, s.plan_id, "charge")
        return len(rows) == 13 and all(r.status == "succeeded" for r in rows)

    await eventually(renewed_and_charged, what="the first charge of the second term")
    assert await case_status(h, s.plan_id) == "active"
    first_term = [await charge_row(h, s.plan_id, 1, n) for n in range(1, 13)]
    assert {r.amount for r in first_term} == {MONTHLY_PRICE}
    renewal = await charge_row(h, s.plan_id, 2, 1)
    assert (renewal.amount, renewal.status, renewal.attempts) == (new_price, "succeeded", 1)
    timeline = await events(h, s.plan_id)
    assert timeline.count("renewal_upcoming") == 1
    assert timeline.count("renewed") == 1
    assert timeline.index("renewed") < len(timeline) - 1
    assert len(await documents(h, s.plan_id, CERTIFICATE)) == 2

    # The renewal began a new run (continue-as-new) carrying the plan forward.
    description = await h.env.client.get_workflow_handle(handle.id).describe()
    assert description.run_id != handle.result_run_id
    current = await h.env.client.get_workflow_handle_for(ServicePlanWorkflow.run, handle.id).query(
        ServicePlanWorkflow.current
    )
    assert current.term_ends_at == add_months(view.term_ends_at, 12)
    assert current.status is P.ACTIVE
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_a_yen_plan_writes_its_charges_and_renewal_in_whole_yen(harness: Harness) -> None:
    """JPY has no minor unit: the timeline says `12000`, never `12000.00`."""
    h = harness
    terms = new_terms(
        term_months=12, billing_period=BillingPeriod.ANNUAL, price=Decimal("12000"), auto_renew=True
    )
    s = plan_start(h, terms, policy=Policy(currency="JPY"))
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    async with h.sessions.begin() as session:
        session.add(catalog_entry(h, terms, price="13000"))
    await sleep_until(h, view.term_ends_at + timedelta(days=1))

    async def renewed_and_charged() -> bool:
        rows = await payments(h, s.plan_id, "charge")
        return len(rows) == 2 and all(r.status == "succeeded" for r in rows)

    await eventually(renewed_and_charged, what="the first charge of the second term")
    entries = await timeline(h, s.plan_id)
    charged = [e.detail for e in entries if e.event == "charged"]
    assert [(c["amount"], c["currency"]) for c in charged] == [("12000", "JPY"), ("13000", "JPY")]
    (renewed,) = [e.detail for e in entries if e.event == "renewed"]
    assert renewed == {"term": "2", "price": "13000"}
    await settle_and_terminate(h, handle.id, s.plan_id, "active")


async def test_a_dinar_plan_writes_its_deductible_and_refund_with_three_places(
    harness: Harness,
) -> None:
    """KWD has three decimals: a deductible of 0.75 says `0.750`, a refund `1.450`."""
    h = harness
    terms = new_terms(price=Decimal("1.5"), deductibles={ClaimType.REPLACEMENT: Decimal("0.75")})
    s = plan_start(h, terms, policy=Policy(currency="KWD"))
    handle, _ = await open_plan(h, s)
    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage")
    )
    assert answer.decision == "approved" and answer.replacement_id is not None
    # No stock of the plan's SKU: the replacement waits on backorder; end it once settled.
    await settle_and_terminate(
        h, replacement_workflow_id(answer.replacement_id), answer.replacement_id, "backordered"
    )
    cancelled = await handle.execute_update(typed(ServicePlanWorkflow.cancel), PlanCancel())
    assert cancelled.refund > 0  # prorated: the approved claim ends the full-refund window

    entries = {e.event: e.detail for e in await timeline(h, s.plan_id)}
    assert (entries["charged"]["amount"], entries["charged"]["currency"]) == ("1.500", "KWD")
    assert entries["claim_approved"]["deductible"] == "0.750"
    refund = entries["cancelled"]
    assert refund["currency"] == "KWD"
    assert re.fullmatch(r"\d+\.\d{3}", refund["refund"]), refund
    assert refund["refund"] == money_text(cancelled.refund, "KWD")


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

    await eventually(all_charged, what="120 charges")
    charges = await payments(h, s.plan_id, "charge")
    assert len({c.idempotency_key for c in charges}) == 120
    assert all((c.status, c.attempts, c.amount) == ("succeeded", 1, MONTHLY_PRICE) for c in charges)
    timeline = await events(h, s.plan_id)
    assert timeline.count("charged") == 120
    assert timeline.count("renewal_upcoming") == 1
    view = await handle.query(ServicePlanWorkflow.current)
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
    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "breakdown")
    )
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
    answer = await handle.execute_update(
        typed(ServicePlanWorkflow.claim), ClaimRequest(ClaimType.REPAIR, "theft")
    )
    assert answer.reason is ClaimRefusal.NOT_COVERED
    for _ in range(10):
        await h.env.sleep(timedelta(days=365))

    async def renewed_nine_times() -> bool:
        return (await events(h, s.plan_id)).count("renewed") >= 9

    await eventually(renewed_nine_times, what="nine renewals")
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
