"""The daily warranty-end notices: every unit sold on an order whose warranty ends within
the notice period, told once (the database keeps which were). Started each day by a Temporal
Schedule (`warranty_notice_schedule`), not cron: a day the workers are down is caught up
by the next run, and two runs that overlap tell no unit twice."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
)

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CampaignActivities
    from domain.campaign import (
        PAGES_PER_RUN,
        WARRANTY_NOTICES_SCHEDULE,
        WARRANTY_NOTICES_WORKFLOW,
        WarrantyPage,
        WarrantyRun,
    )
    from workflows.campaign import PAGE_HEARTBEAT, PAGE_RETRY, PAGE_TIMEOUT

# At 06:00 UTC: mail that reaches inboxes in the morning across Europe and overnight in the
# Americas; the hour matters less than that it is once a day.
NOTICE_HOUR_UTC = 6


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


def warranty_notice_schedule(task_queue: str) -> Schedule:
    """The daily schedule: one run at a time (a run still going when the next is due lets
    that one be skipped, as the running one tells the same units)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WARRANTY_NOTICES_WORKFLOW,
            WarrantyRun(),
            id=f"{WARRANTY_NOTICES_SCHEDULE}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    hour=[ScheduleRange(NOTICE_HOUR_UTC)],
                    minute=[ScheduleRange(0)],
                    second=[ScheduleRange(0)],
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )
