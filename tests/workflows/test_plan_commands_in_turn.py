"""A plan takes the commands that come while it applies another, in turn: two claims sent at
once are both applied, one after the other, neither refused (`plan-commands-in-main-loop`,
`CommandSlot.hand_over_in_turn`)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from temporalio import activity
from temporalio.client import WorkflowUpdateStage

from activities.payments import BuiltinGateway, PaymentActivities
from domain.contracts.payments import PaymentKind, PaymentRequest, PaymentResult
from domain.ids import repair_workflow_id, service_plan_workflow_id
from domain.service_plan import ClaimRequest, ClaimType
from tests.workflows.kit import (
    Gate,
    Harness,
    case_row,
    events,
    new_terms,
    payments,
    plan_start,
    settle_and_terminate,
    side_worker,
    typed,
    with_start,
)
from workflows.service_plan import ServicePlanWorkflow


class GatedDeductible(PaymentActivities):
    """The real ledger and gateway, except that the first claim's deductible waits at the
    gate: the plan is in the middle of applying that claim until the test opens it."""

    def __init__(self, h: Harness, gate: Gate) -> None:
        super().__init__(h.sessions, BuiltinGateway())
        self.gate = gate

    @activity.defn(name="execute_payment")
    async def execute_payment(self, request: PaymentRequest) -> PaymentResult:
        if request.kind == PaymentKind.DEDUCTIBLE and "/claim-1/" in request.idempotency_key:
            await self.gate.pass_through()
        return await super().execute_payment(request)


async def test_two_claims_sent_at_once_are_both_applied_in_turn(harness: Harness) -> None:
    h = harness
    gate = Gate()
    payer = GatedDeductible(h, gate)
    terms = new_terms(claim_limit=2, deductibles={ClaimType.REPAIR: Decimal("49.00")})
    s = plan_start(h, terms)
    claim = typed(ServicePlanWorkflow.claim)
    async with side_worker(h, {"execute_payment": payer.execute_payment}) as queue:
        operation = with_start(
            h, ServicePlanWorkflow.run, s, service_plan_workflow_id(s.plan_id), queue
        )
        view = await h.env.client.execute_update_with_start_workflow(
            typed(ServicePlanWorkflow.accept), start_workflow_operation=operation
        )
        assert view.status == "active"
        handle = await operation.workflow_handle()
        try:
            first = asyncio.create_task(
                handle.execute_update(claim, ClaimRequest(ClaimType.REPAIR, "breakdown", "one"))
            )
            # The plan is applying the first claim: its deductible is being charged.
            await asyncio.wait_for(gate.reached.wait(), 10)
            # The second is accepted meanwhile (not refused by its validator, and its
            # handler does not fail the workflow task on the occupied slot)...
            second = await asyncio.wait_for(
                handle.start_update(
                    claim,
                    ClaimRequest(ClaimType.REPAIR, "breakdown", "two"),
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                ),
                10,
            )
            # ...and waits its turn: the first is still being applied.
            assert not first.done()
            gate.opened.set()
            one = await asyncio.wait_for(first, 10)
            two = await asyncio.wait_for(second.result(), 10)
        finally:
            gate.opened.set()
        # The plan and its repairs run on this worker's queue: they settle while it polls.
        ids = {f"REP-{s.plan_id.split('-', 1)[1]}-C{n}" for n in (1, 2)}
        # The repair children: no center serves the plan's category, so they end by
        # themselves.
        for repair_id in sorted(ids):
            await settle_and_terminate(h, repair_workflow_id(repair_id), repair_id, "unroutable")
        await settle_and_terminate(h, handle.id, s.plan_id, "active")
    assert (one.decision, two.decision) == ("approved", "approved")
    assert {one.repair_id, two.repair_id} == ids
    # In turn: the first claim is numbered and paid before the second.
    assert one.repair_id is not None and one.repair_id.endswith("-C1")
    assert [p.idempotency_key for p in await payments(h, s.plan_id, "deductible")] == [
        f"plan:{s.plan_id}/claim-{n}/deductible" for n in (1, 2)
    ]
    assert (await events(h, s.plan_id)).count("claim_approved") == 2
    assert [c["decision"] for c in (await case_row(h, s.plan_id)).data["claims"]] == [
        "approved",
        "approved",
    ]
