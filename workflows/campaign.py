"""A campaign: find every known owner of the matching units, then email each customer once
per serial at a steady pace, until all are written to or the retailer cancels.

Everything that must survive a crash is in the database: the recipients (one row per
customer and serial) and which of them were written to. So each step is a page: discovery
reads the next page of owners from a cursor, sending writes the next page of emails, and a
retried page (a worker killed mid-way) does only what is left. The pace is kept with
workflow timers between pages; the history stays short with continue-as-new."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.stubs import CampaignActivities
    from domain.campaign import (
        CAMPAIGN_CANCEL_SIGNAL,
        CAMPAIGN_WORKFLOW,
        PAGES_PER_RUN,
        CampaignEnd,
        CampaignStart,
        DiscoverPage,
        SendPage,
        pause_after,
    )
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT

# A page is one transaction of up to a few hundred rows; the heartbeat tells a dead worker
# within seconds, so its page is retried elsewhere at once rather than after the timeout.
PAGE_TIMEOUT = timedelta(minutes=2)
PAGE_HEARTBEAT = timedelta(seconds=10)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


@workflow.defn(name=CAMPAIGN_WORKFLOW)
class CampaignWorkflow:
    def __init__(self) -> None:
        self.cancelled = False

    @workflow.signal(name=CAMPAIGN_CANCEL_SIGNAL)
    def cancel(self) -> None:
        self.cancelled = True

    @workflow.run
    async def run(self, start: CampaignStart) -> None:
        self.cancelled = self.cancelled or start.cancelled
        pages = 0
        cursor = start.discovery_cursor
        discovered = start.discovered
        while not discovered and not self.cancelled:
            found = await workflow.execute_activity_method(
                CampaignActivities.discover_recipients,
                DiscoverPage(start.campaign_id, cursor),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            cursor = found.next_cursor
            discovered = not cursor
            pages += 1
            if not discovered and self._run_is_long(pages):
                workflow.continue_as_new(
                    replace(start, discovery_cursor=cursor, cancelled=self.cancelled)
                )
        while not self.cancelled:
            sent = await workflow.execute_activity_method(
                CampaignActivities.send_campaign_page,
                SendPage(start.campaign_id, max(start.per_second, 1)),
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=PAGE_RETRY,
            )
            if sent.cancelled:
                self.cancelled = True
            if sent.cancelled or sent.remaining == 0:
                break
            pages += 1
            if self._run_is_long(pages):
                workflow.continue_as_new(replace(start, discovered=True, cancelled=self.cancelled))
            # The pace: a page a second at `per_second` emails a page. A cancel wakes it.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.cancelled, timeout=pause_after(sent.sent, start.per_second)
                )
        await workflow.execute_activity_method(
            CampaignActivities.finish_campaign,
            CampaignEnd(start.campaign_id, cancelled=self.cancelled),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    @staticmethod
    def _run_is_long(pages: int) -> bool:
        return pages >= PAGES_PER_RUN or workflow.info().is_continue_as_new_suggested()
