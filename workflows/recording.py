"""Recording a new case, and what its workflow does when the case cannot be stored.

Every lifecycle keeps one `CaseRecord`: its run records the case first thing, its create
update (`authorize`, `accept`) answers through `first_answer`, its validators refuse
commands until `recorded`, and its run ends with `fail_if_refused` when the data was
refused for good:

    self.case = CaseRecord()
    ...
    await self.case.record(new_case(start, CaseKind.REPAIR, start.repair_id, ...))
    await self.case.fail_if_refused()

A case that claims its units (one open case per serial) records through `record_claiming`,
which answers whether another open case holds one of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import StoreActivities
    from domain.common import INVALID_DATA, CaseStart, Customer
    from domain.contracts.events import CaseEvent
    from domain.contracts.facts import CUSTOMER_FIRST_NAME
    from domain.contracts.store import (
        CaseItemRecord,
        ClaimingCase,
        IfHeld,
        NewCase,
        SerialClaim,
        SerialRelease,
        TimelineEntry,
    )
    from workflows.base import QUICK_RETRY, QUICK_TIMEOUT
    from workflows.patches import (
        ONE_STEP_RECORD_PATCH,
        UNRECORDABLE_PATCH,
        batched,
        patched,
    )

A = TypeVar("A")
R = TypeVar("R")


def new_case(
    start: CaseStart,
    case_type: str,
    case_id: str,
    *,
    status: str,
    items: list[CaseItemRecord],
    timeline: list[TimelineEntry],
    data: dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
    created_at: datetime | None = None,
    order_ref: str = "",
    resolution: str | None = None,
    coverage: str | None = None,
    reason: str | None = None,
    receiving_org_id: str | None = None,
) -> NewCase:
    """The first record of this workflow's case, for `start`'s organisation and customer in
    its policy's currency: created now (unless given), under this workflow's id, with the
    customer's first name among its facts (emails greet by it)."""
    customer = start.customer
    return NewCase(
        case_id=case_id,
        org_id=start.org_id,
        case_type=str(case_type),
        workflow_id=workflow.info().workflow_id,
        status=str(status),
        tracking_token=start.tracking_token,
        customer=customer,
        created_at=created_at or workflow.now(),
        currency=start.policy.currency,
        order_ref=order_ref,
        resolution=resolution,
        coverage=coverage,
        reason=reason,
        items=items,
        data=_with_first_name(data or {}, customer),
        timeline=timeline,
        receiving_org_id=receiving_org_id,
        links=links or {},
    )


def _with_first_name(data: dict[str, Any], customer: Customer) -> dict[str, Any]:
    # Emails greet by it; a lifecycle's facts may carry it already, in their own key order.
    if CUSTOMER_FIRST_NAME in data:
        return data
    return {CUSTOMER_FIRST_NAME: customer.first_name, **data}


def one_unit(
    sku: str, serial: str, unit_price: Decimal, reason: str, notes: str = ""
) -> list[CaseItemRecord]:
    """The items of a case about one unit."""
    return [
        CaseItemRecord(
            sku=sku, serial=serial, quantity=1, unit_price=unit_price, reason=reason, notes=notes
        )
    ]


class CaseRecord:
    """Whether the case is stored and open to commands, or refused for good."""

    def __init__(self) -> None:
        # Stored, and its first decision made: commands may come, the create call answers.
        self.recorded = False
        # Why the case could not be stored, when its data is refused for good.
        self.refused: str | None = None

    async def record(self, new: NewCase, *, open_now: bool = True) -> bool:
        """Store the case; True once stored. With `open_now` it is `recorded` at once;
        otherwise the workflow calls `open()` once its first decision is made."""
        self.refused = await record_new_case(new)
        if self.refused is None and open_now:
            self.recorded = True
        return self.refused is None

    async def record_claiming(self, new: NewCase, serials: list[str], if_held: IfHeld) -> bool:
        """Claim the units and store the case, atomically (requests racing for one unit
        all pass a look at open cases; one wins the claim). True when another open case
        holds one of them: the case is then stored as `if_held` says, claiming nothing.
        The case is `recorded` once stored; data the database refuses stores nothing."""
        if not batched(ONE_STEP_RECORD_PATCH):
            held = await claim_serials(new.org_id, new.case_id, serials)
            recorded = await self.record(if_held.instead_of(new) if held is False else new)
            if not recorded and held is True:
                await release_serials(new.case_id)
            return held is False
        claiming = ClaimingCase(new, serials, if_held)
        self.refused, claim = await _refused_for_data(
            new.case_id, StoreActivities.record_claiming, claiming
        )
        self.recorded = self.refused is None
        return claim is not None and claim.held_by is not None

    def open(self) -> None:
        """The first decision is made: the create call answers, commands are accepted."""
        self.recorded = True

    async def first_answer(self, ready: Callable[[], bool] | None = None) -> None:
        """For the create update: wait until the case is recorded (and `ready()`, if given),
        or refuse with `unrecordable` if its data was refused."""
        await workflow.wait_condition(
            lambda: (self.recorded if ready is None else ready()) or self.refused is not None
        )
        if self.refused is not None:
            raise unrecordable(self.refused)

    async def fail_if_refused(self) -> None:
        """For the run: end the workflow failed, once its handlers are done, if the case
        was refused."""
        if self.refused is None:
            return
        await workflow.wait_condition(workflow.all_handlers_finished)
        raise unrecordable(self.refused)


async def record_new_case(new: NewCase) -> str | None:
    """Store the new case. Answer None once stored, or why the database refuses its data for
    good: then nothing was stored, and the workflow answers its first update with
    `unrecordable(...)` and ends failed with the same error."""
    refused, _ = await _refused_for_data(new.case_id, StoreActivities.record_case, new)
    return refused


async def _refused_for_data(
    case_id: str, activity: Callable[[Any, A], Awaitable[R]], argument: A
) -> tuple[str | None, R | None]:
    """Run the recording local activity: (None, its answer), or (why, None) when the
    database refuses the case's data for good."""
    try:
        answer = await workflow.execute_local_activity_method(
            activity,
            argument,
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
    except (ActivityError, ApplicationError) as error:
        # A local activity's non-retryable failure may arrive bare or wrapped.
        cause = error.cause if isinstance(error, ActivityError) else error
        if not (isinstance(cause, ApplicationError) and cause.type == INVALID_DATA):
            raise
        if not patched(UNRECORDABLE_PATCH):
            raise
        workflow.logger.warning("case %s cannot be stored: %s", case_id, cause.message)
        return cause.message, None
    return None, answer


def if_held(
    new: NewCase, status: str, reason: str | None, event: CaseEvent, detail: dict[str, str]
) -> IfHeld:
    """`new` as refused because another open case holds one of its units: `status` and
    `reason`, no coverage, and its last timeline entry (the decision) replaced by `event`."""
    last = dataclasses.replace(
        new.timeline[-1], status=str(status), event=str(event), detail=detail
    )
    return IfHeld(str(status), reason, None, last)


async def claim_serials(org_id: str, case_id: str, serials: list[str]) -> bool | None:
    """Claim the units for this open case, atomically (requests racing for one unit all
    pass a look at open cases; one wins the claim). True once this case holds them, False
    when another open case holds one, None when the database refuses the serials (then
    recording the case refuses them too, and ends it)."""
    try:
        claim = await workflow.execute_local_activity_method(
            StoreActivities.claim_serials,
            SerialClaim(org_id, case_id, serials),
            start_to_close_timeout=QUICK_TIMEOUT,
            retry_policy=QUICK_RETRY,
        )
    except (ActivityError, ApplicationError) as error:
        # A local activity's non-retryable failure may arrive bare or wrapped.
        cause = error.cause if isinstance(error, ActivityError) else error
        if not (isinstance(cause, ApplicationError) and cause.type == INVALID_DATA):
            raise
        return None
    return claim.held_by is None


async def release_serials(case_id: str) -> None:
    """Give back the units a case claimed and will not hold (it could not be stored)."""
    await workflow.execute_local_activity_method(
        StoreActivities.release_serials,
        SerialRelease(case_id),
        start_to_close_timeout=QUICK_TIMEOUT,
        retry_policy=QUICK_RETRY,
    )


def unrecordable(reason: str) -> ApplicationError:
    """The refusal of a case whose data cannot be stored (the API answers 422 `invalid_data`)."""
    return ApplicationError(
        f"{workflow.info().workflow_id} cannot be stored: {reason}",
        type=INVALID_DATA,
        non_retryable=True,
    )
