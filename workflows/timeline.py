"""A case's timeline as its workflow writes it: numbered entries, projected to the read model.

Each state change projects at once, one local activity each, unless the lifecycle (or a kit
step) gathers several into one write:

    async with self.timeline.together():  # one `project` for both transitions
        await self._transition(S.DIAGNOSING, E.DIAGNOSED, actor, detail)
        await self._transition(S.REPAIRING, E.COVERED, actor)

A kit step that stores something with the change (a label) holds the projections back with
`collecting` and writes them in its own activity (`workflows.shipping.labelled`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain.common import Actor
    from domain.contracts.events import CaseEvent
    from domain.contracts.store import CaseProjection, TimelineEntry
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT
    from workflows.patches import ONE_STEP_PROJECTION_PATCH, batched


class Timeline:
    """Numbers entries in order (the read model stores each `(case, seq)` once, so a retried
    projection appends nothing twice) and projects each state change with its facts."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.seq = 0
        # The projections held back for one write (`collecting`), in order; None: write each.
        self._held: list[CaseProjection] | None = None

    def entry(
        self, status: str, event: CaseEvent, actor: Actor, detail: dict[str, str] | None = None
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
        event: CaseEvent,
        actor: Actor,
        detail: dict[str, str] | None = None,
        *,
        fields: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        links: dict[str, str] | None = None,
    ) -> None:
        change = CaseProjection(
            case_id=self.case_id,
            status=str(status),
            updated_at=workflow.now(),
            timeline=[self.entry(status, event, actor, detail)],
            fields=fields or {},
            data=data or {},
            links=links or {},
        )
        if self._held is not None:
            self._held.append(change)
            return
        await self.write(change)

    async def write(self, change: CaseProjection) -> None:
        """One `project` local activity."""
        await workflow.execute_local_activity_method(
            StoreActivities.project,
            change,
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )

    @contextlib.contextmanager
    def collecting(self, hold: bool = True) -> Iterator[list[CaseProjection]]:
        """Hold back the projections made inside, for the caller to write in one step
        (`merged`). With `hold` False (a path recorded before a batching patch) they are
        written as they are made, and none is held."""
        if not hold:
            yield []
            return
        if self._held is not None:
            raise RuntimeError("projections are already held back")
        held: list[CaseProjection] = []
        self._held = held
        try:
            yield held
        finally:
            self._held = None

    @contextlib.asynccontextmanager
    async def together(self) -> AsyncIterator[None]:
        """The projections made inside written as one `project` at its end (each its own
        before `ONE_STEP_PROJECTION_PATCH`). Nothing inside may wait for a message: the read
        model shows none of it until the end."""
        if not batched(ONE_STEP_PROJECTION_PATCH):
            yield
            return
        with self.collecting() as held:
            yield
        if held:
            await self.write(merged(held))


def merged(changes: list[CaseProjection]) -> CaseProjection:
    """Successive projections of one case as one: the last status and time, every entry,
    fields, facts and links merged in order (as the read model merges them one by one)."""
    if not changes:
        raise ValueError("no projection to write")
    last = changes[-1]
    fields: dict[str, Any] = {}
    data: dict[str, Any] = {}
    links: dict[str, str] = {}
    for change in changes:
        fields |= change.fields
        data |= change.data
        links |= change.links
    return CaseProjection(
        case_id=last.case_id,
        status=last.status,
        updated_at=last.updated_at,
        timeline=[entry for change in changes for entry in change.timeline],
        fields=fields,
        data=data,
        links=links,
    )
