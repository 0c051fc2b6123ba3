"""A case's timeline as its workflow writes it: numbered entries, projected to the read model."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain.contracts.store import CaseProjection, TimelineEntry
    from domain.rma import Actor
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT


class Timeline:
    """Numbers entries in order (the read model stores each `(case, seq)` once, so a retried
    projection appends nothing twice) and projects each state change with its facts."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.seq = 0

    def entry(
        self, status: str, event: str, actor: Actor, detail: dict[str, str] | None = None
    ) -> TimelineEntry:
        self.seq += 1
        return TimelineEntry(
            seq=self.seq,
            at=workflow.now(),
            status=str(status),
            event=event,
            actor=actor.label(),
            detail=detail or {},
        )

    async def project(
        self,
        status: str,
        event: str,
        actor: Actor,
        detail: dict[str, str] | None = None,
        *,
        fields: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        await workflow.execute_local_activity_method(
            StoreActivities.project,
            CaseProjection(
                case_id=self.case_id,
                status=str(status),
                updated_at=workflow.now(),
                timeline=[self.entry(status, event, actor, detail)],
                fields=fields or {},
                data=data or {},
                links=links or {},
            ),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
