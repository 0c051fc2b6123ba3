"""The kit's clean-up on the time-skipping server: a workflow a test leaves running is ended
only between its tasks, so the clock the module's later tests sleep on keeps moving. Its own
module: when the clean-up is wrong, the clock of this module's server stalls."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from temporalio import activity

from activities.store import StoreActivities
from db.outbox import OutboxConfig
from domain.contracts.store import CaseProjection
from domain.ids import replacement_workflow_id, service_plan_workflow_id
from domain.service_plan import ClaimRequest, ClaimType
from tests.workflows.kit import (
    Harness,
    new_terms,
    plan_start,
    settle_and_terminate,
    side_worker,
    typed,
    with_start,
)
from workflows.service_plan import ServicePlanWorkflow

# How long a replacement's workflow task goes on after its projection wrote the read model:
# a busy worker (CI) takes as long between a local activity and the task's completion.
SLOW_TASK_SECONDS = 1.5


async def test_a_child_settled_in_the_read_model_mid_task_is_ended_after_its_task(
    harness: Harness,
) -> None:
    h = harness
    store = StoreActivities(h.sessions, OutboxConfig(h.settings.public_base_url, send_email=False))

    @activity.defn(name="project")
    async def project(projection: CaseProjection) -> None:
        await store.project(projection)
        if projection.case_id.startswith("RPL-"):
            await asyncio.sleep(SLOW_TASK_SECONDS)

    async with side_worker(h, {"project": project}) as queue:
        s = plan_start(h, new_terms(deductibles={ClaimType.REPLACEMENT: Decimal("9.00")}))
        operation = with_start(
            h, ServicePlanWorkflow.run, s, service_plan_workflow_id(s.plan_id), queue
        )
        await h.env.client.execute_update_with_start_workflow(
            typed(ServicePlanWorkflow.accept), start_workflow_operation=operation
        )
        plan = await operation.workflow_handle()
        answer = await plan.execute_update(
            typed(ServicePlanWorkflow.claim),
            ClaimRequest(ClaimType.REPLACEMENT, "accidental_damage"),
        )
        assert answer.replacement_id is not None
        replacement = answer.replacement_id
        # The replacement's row says backordered while the task that wrote it still runs.
        await settle_and_terminate(
            h, replacement_workflow_id(replacement), replacement, "backordered"
        )
        await settle_and_terminate(h, plan.id, s.plan_id, "active")

    # Ended mid-task, the replacement would hold the clock: this sleep would time out.
    before = await h.env.get_current_time()
    await h.env.sleep(timedelta(days=3))
    assert await h.env.get_current_time() - before >= timedelta(days=3)
