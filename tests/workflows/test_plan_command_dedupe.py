"""A command retried with its Idempotency-Key after the plan continued as new (a renewal):
Temporal dedupes update ids only within a run, so the plan itself remembers the ids it
applied and answers a retry with the first answer, charging nothing again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from domain.service_plan import ClaimRequest, ClaimType, PlanTransfer
from tests.support import eventually
from tests.workflows.kit import (
    Harness,
    catalog_entry,
    documents,
    new_terms,
    open_plan,
    payments,
    plan_start,
    settle_and_terminate,
    sleep_until,
    typed,
)
from workflows.service_plan import ServicePlanWorkflow


async def test_a_claim_retried_after_continue_as_new_is_not_applied_again(
    harness: Harness,
) -> None:
    h = harness
    terms = new_terms(
        term_months=12,
        auto_renew=True,
        claim_limit=5,
        deductibles={ClaimType.REPAIR: Decimal("49.00")},
    )
    s = plan_start(h, terms)
    handle, view = await open_plan(h, s)
    assert view.term_ends_at is not None
    async with h.sessions.begin() as session:
        # In the catalog, so the plan renews (a new run) instead of ending with its term.
        session.add(catalog_entry(h, terms))
    claim_id = "cmd:claim-retried-across-runs"
    request = ClaimRequest(ClaimType.REPAIR, "breakdown", "no sound")
    claim = typed(ServicePlanWorkflow.claim)
    transfer = typed(ServicePlanWorkflow.transfer)
    first = await handle.execute_update(claim, request, id=claim_id)
    assert first.decision == "approved" and first.repair_id
    transfer_id = "cmd:transfer-retried-across-runs"
    await handle.execute_update(transfer, PlanTransfer(s.customer), id=transfer_id)
    assert len(await documents(h, s.plan_id, "coverage_certificate")) == 2

    await sleep_until(h, view.term_ends_at + timedelta(days=1))
    current = h.env.client.get_workflow_handle_for(ServicePlanWorkflow.run, handle.id)

    async def continued() -> bool:
        return (await current.describe()).run_id != handle.result_run_id

    await eventually(continued, what="the renewal's new run")

    again = await current.execute_update(claim, request, id=claim_id)
    assert again == first
    assert len(await payments(h, s.plan_id, "deductible")) == 1
    await current.execute_update(transfer, PlanTransfer(s.customer), id=transfer_id)
    # The first term's two certificates and the renewal's: no second transfer certificate.
    assert len(await documents(h, s.plan_id, "coverage_certificate")) == 3
    await settle_and_terminate(h, handle.id, s.plan_id, "active")
