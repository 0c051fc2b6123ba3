"""A booking the carrier refused, as every lifecycle with parcels takes it: recorded on the
case's timeline and in its view (`carrier_error`), then the case waits for the retailer to
fix what the carrier said (the address, the allowed services, the key) and retry
(`retry_shipping`, POST /v1/{rmas|repairs|replacements|relocations}/{id}/retry-shipping).

A lifecycle opts in by giving its Shipper one, made in its `@workflow.init`, which registers
the update:

    self.shipper = Shipper.for_case(start, case_id, CarrierErrors(self.timeline, self._status))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain.common import Actor, Address
    from domain.contracts.carrier import (
        CARRIER_REFUSED,
        RETRY_SHIPPING_UPDATE,
        CarrierRefusal,
        RetryShipping,
    )
    from domain.contracts.events import CaseEvent
    from workflows.base import invalid_transition
    from workflows.commands import CommandSlot
    from workflows.timeline import Timeline


def refusal_of(error: BaseException) -> CarrierRefusal | None:
    """The carrier's refusal an activity failed with, if that is why it failed."""
    cause = error.cause if isinstance(error, ActivityError) else None
    if not isinstance(cause, ApplicationError) or cause.type != CARRIER_REFUSED:
        return None
    details: dict[str, Any] = cause.details[0] if cause.details else {}
    return CarrierRefusal(
        code=str(details.get("code", "")),
        message=str(details.get("message", cause.message)),
        errors=[dict(e) for e in details.get("errors", [])],
    )


class BookingAbandoned(Exception):
    """The case is to move on without the parcel (a cancellation came while its refused
    booking waited for a retry): the lifecycle goes on to apply what came."""


class CarrierErrors:
    """One case's refused booking, if any, and the retailer's retry of it. `abandon()`
    says the case need not wait for the retry any more (a cancellation is waiting)."""

    def __init__(
        self,
        timeline: Timeline,
        status: Callable[[], str],
        abandon: Callable[[], bool] = lambda: False,
    ) -> None:
        self.timeline = timeline
        self.status = status
        self.abandon = abandon
        self.refusal: CarrierRefusal | None = None
        self.retries: CommandSlot[RetryShipping] = CommandSlot()
        workflow.set_update_handler(
            RETRY_SHIPPING_UPDATE, self._retry, validator=self._validate_retry
        )

    async def wait_for_retry(self, refusal: CarrierRefusal, direction: str) -> RetryShipping:
        """Show the refusal on the case, wait for the retailer's retry and record it.
        Answers the retry (with the corrected address, if it brought one); raises
        `BookingAbandoned` if the case is to go on without the parcel."""
        self.refusal = refusal
        detail = {"direction": direction, "code": refusal.code, "message": refusal.message}
        await self.timeline.project(
            self.status(),
            CaseEvent.CARRIER_ERROR,
            Actor.carrier(),
            detail,
            data={"carrier_error": {**dataclasses.asdict(refusal), "direction": direction}},
        )
        await workflow.wait_condition(lambda: not self.retries.empty or self.abandon())
        self.refusal = None
        if self.retries.empty:
            await self.timeline.project(
                self.status(),
                CaseEvent.SHIPPING_ABANDONED,
                Actor.system(),
                {"direction": direction},
                data={"carrier_error": None},
            )
            raise BookingAbandoned(direction)
        retry = self.retries.take()
        fixed = {"address": "corrected"} if retry.address is not None else {}
        await self.timeline.project(
            self.status(),
            CaseEvent.SHIPPING_RETRIED,
            retry.actor,
            {"direction": direction, **fixed},
            data={"carrier_error": None},
        )
        self.retries.done()
        return retry

    async def _retry(self, request: RetryShipping) -> None:
        await self.retries.hand_over(request)

    def _validate_retry(self, request: RetryShipping) -> None:
        if self.refusal is None or not self.retries.empty:
            raise invalid_transition("retry shipping", self.status(), ())


def with_address(
    origin: Address, destination: Address, inbound: bool, fix: Address | None
) -> tuple[Address, Address]:
    """The parcel's ends with the customer's replaced by `fix` (keeping the name on the
    label unless the fix names someone)."""
    if fix is None:
        return origin, destination
    if inbound:
        return dataclasses.replace(fix, name=fix.name or origin.name), destination
    return origin, dataclasses.replace(fix, name=fix.name or destination.name)
