"""The daily warranty-end notices: every unit sold on an order whose warranty ends within
the notice period, told once (the database keeps which were). Started each day by a Temporal
Schedule (`worker.warranty_notice_schedule`), not cron: a day the workers are down is caught up
by the next run, and two runs that overlap tell no unit twice."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CampaignActivities
    from domain.campaign import (
        PAGES_PER_RUN,
        WARRANTY_NOTICES_WORKFLOW,
        WarrantyPage,
        WarrantyRun,
    )
    from workflows.campaign import PAGE_HEARTBEAT, PAGE_RETRY, PAGE_TIMEOUT


@workflow.defn(name=WARRANTY_NOTICES_WORKFLOW)
class WarrantyNoticesWorkflow:
    @workflow.run
    async def run(self, run: WarrantyRun) -> int:
        """How many units were told (in this run, after any continue-as-new)."""
        now = run.now or workflow.now()
        after = run.after_line
        told = 0
        pages = 0
        while True:
            page = await workflow.execute_activity_method(
                CampaignActivities.send_warranty_notices,
                WarrantyPage(now, after),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            told += page.notified
            if page.last_line is None:
                return told
            after = page.last_line
            pages += 1
            if pages >= PAGES_PER_RUN or workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(WarrantyRun(now, after))
