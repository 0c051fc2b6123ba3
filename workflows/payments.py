"""Moving a case's money through the payment gateway: the one way every lifecycle charges,
holds, captures, releases and refunds.

    account = PaymentAccount(start.org_id, start.rma_id, currency, payment_method)
    await pay(account, PaymentKind.REFUND, amount, step_key(workflow_id, "refund"))

The idempotency key names the payment once per case (a workflow id and a step, or the key
of the hold a capture or release settles), so a retried activity never moves money twice.

A gateway may answer that the customer must first authenticate the payment (3-D Secure,
`requires_action`). A case that charges or holds the customer's card gives its account a
`CustomerAuthentication`, fed by the workflow's `payment_event` signal:

    self.authentication = CustomerAuthentication(self.timeline, lambda: self.status)
    account = PaymentAccount(org_id, case_id, currency, method, self.authentication)

    @workflow.signal(name=PAYMENT_EVENT_SIGNAL)
    def payment_event(self, event: PaymentEvent) -> None:
        self.authentication.receive(event)

`pay` then pauses the case: the timeline says so, the read model carries the link for the
tracking page and the email, and the payment waits for the gateway's event. Authenticated,
`pay` returns as for any approved payment; failed, or not done within
`AUTHENTICATION_WINDOW`, it fails exactly as a declined payment does, so each lifecycle's
declined path (dunning, a rejected enrolment, a failed hold) follows unchanged. A case may
also stop waiting (`withdraw_if`, a cancel): the payment is withdrawn, `PaymentWithdrawn`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import PaymentActivities
    from domain.common import Actor
    from domain.contracts.events import CaseEvent
    from domain.contracts.facts import PAYMENT_ACTION, PaymentActionFacts
    from domain.contracts.payments import (
        PAYMENT_DECLINED,
        REQUIRES_ACTION,
        PaymentEvent,
        PaymentKind,
        PaymentRequest,
        PaymentResult,
    )
    from domain.money import money_text
    from workflows.base import EXTERNAL_RETRY, EXTERNAL_TIMEOUT, failed_as_activity
    from workflows.patches import AUTHENTICATION_PATCH, patched
    from workflows.timeline import Timeline

# How long a payment waits for its customer to authenticate it before it counts as declined:
# a day to find the email and open the bank's page, not so long that a case stands still.
AUTHENTICATION_WINDOW = timedelta(hours=24)
# Cancelling with the gateway a payment left unauthenticated (too late, or no longer wanted):
# a few tries, then the case goes on without.
WITHDRAW_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=[PAYMENT_DECLINED],
)
# Why a payment that needed the customer did not go through (timeline `reason`).
AUTHENTICATION_FAILED = "authentication_failed"
AUTHENTICATION_EXPIRED = "authentication_expired"
PAYMENT_WITHDRAWN = "payment_withdrawn"


@dataclass(frozen=True)
class PaymentAccount:
    """Where a case's money moves: the retailer's org, the case it is for, the case's
    currency and the customer's payment method."""

    org_id: str
    case_id: str
    currency: str
    payment_method: str
    # Who sees a payment through its customer's authentication; None for a case that only
    # pays out (a refund never asks the customer), where a request for it is a decline.
    authentication: CustomerAuthentication | None = None


class CustomerAuthentication:
    """One case's payments that wait for the customer: the gateway's events received (by
    the workflow's `payment_event` signal) and the one payment awaited, if any."""

    def __init__(
        self,
        timeline: Timeline,
        status: Callable[[], str],
        window: timedelta = AUTHENTICATION_WINDOW,
        withdraw_if: Callable[[], bool] = lambda: False,
    ) -> None:
        self.timeline = timeline
        # The case's status as it stands, for the timeline entries the pause writes.
        self.status = status
        self.window = window
        # True when the case no longer wants the payment it waits for (a cancel came in):
        # the wait ends, the payment is withdrawn and `PaymentWithdrawn` raised.
        self.withdraw_if = withdraw_if
        self.events: dict[str, PaymentEvent] = {}
        # The payment waiting for the customer, while one does (a create call answers then).
        self.awaiting: PaymentActionFacts | None = None
        # When the last wait for a customer ended.
        self.waited_until: datetime | None = None

    def since_wait(self, began: datetime) -> datetime:
        """When a step that began at `began` counts as done: now, if a payment of it waited
        for the customer (a charge that failed after a day's wait failed then), else
        `began` as always."""
        if self.waited_until is not None and self.waited_until > began:
            return self.waited_until
        return began

    def receive(self, event: PaymentEvent) -> None:
        """Keep the gateway's word on a payment; it may come before the payment's pause
        begins, and more than once (the first one stands)."""
        self.events.setdefault(event.gateway_reference, event)

    async def settle(self, request: PaymentRequest, result: PaymentResult) -> PaymentResult:
        """Pause the case until its customer authenticates the payment `result` asks for:
        the approved result once the gateway says it went through; a decline otherwise."""
        now = workflow.now()
        action = PaymentActionFacts(
            url=result.action_url,
            since=now,
            expires_at=now + self.window,
            amount=request.amount,
            currency=request.currency,
            kind=request.kind.value,
        )
        self.awaiting = action
        # With the currency's own minor units; timeline details only (the `project` local
        # activity's input, which replay does not compare), so no patch gates it.
        money = {
            "amount": money_text(request.amount, request.currency),
            "currency": request.currency,
        }
        await self._project(
            CaseEvent.PAYMENT_AUTHENTICATION_REQUIRED,
            {**money, "expires_at": action.expires_at.isoformat()},
            action.to_data(),
        )
        reference = result.gateway_reference
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: reference in self.events or self.withdraw_if(), timeout=self.window
            )
        event = self.events.get(reference)
        self.awaiting = None
        self.waited_until = workflow.now()
        if event is not None and event.succeeded:
            await self._project(CaseEvent.PAYMENT_AUTHENTICATED, money, None)
            return dataclasses.replace(result, status="succeeded", action_url="")
        withdrawn = event is None and self.withdraw_if()
        if event is None:
            await withdraw(request, reference)
        if withdrawn:
            await self._project(
                CaseEvent.PAYMENT_AUTHENTICATION_FAILED,
                {**money, "reason": PAYMENT_WITHDRAWN},
                None,
            )
            raise PaymentWithdrawn(f"the {request.kind.value} is no longer wanted")
        reason = AUTHENTICATION_EXPIRED if event is None else AUTHENTICATION_FAILED
        await self._project(
            CaseEvent.PAYMENT_AUTHENTICATION_FAILED, {**money, "reason": reason}, None
        )
        raise not_authenticated(request, (event.message if event else "") or reason)

    async def _project(
        self, event: CaseEvent, detail: dict[str, str], action: dict[str, str] | None
    ) -> None:
        await self.timeline.project(
            self.status(), event, Actor.system(), detail, data={PAYMENT_ACTION: action}
        )


async def withdraw(request: PaymentRequest, reference: str) -> None:
    """Cancel with the gateway a payment its customer did not authenticate in time: the case
    has moved on as declined, and the customer must not be able to authorise it later."""
    release = dataclasses.replace(
        request,
        idempotency_key=f"{request.idempotency_key}/release",
        kind=PaymentKind.RELEASE,
        original_reference=reference,
    )
    # Best effort, and bounded: a payment authenticated at the last moment cannot be
    # cancelled any more, and its ledger row says it was made (the next attempt under its
    # key finds it paid); a case must not stop here either way.
    with contextlib.suppress(ActivityError):
        await workflow.execute_activity_method(
            PaymentActivities.execute_payment,
            release,
            start_to_close_timeout=EXTERNAL_TIMEOUT,
            retry_policy=WITHDRAW_RETRY,
        )


async def pay(
    account: PaymentAccount,
    kind: PaymentKind,
    amount: Decimal,
    idempotency_key: str,
    retry: RetryPolicy = EXTERNAL_RETRY,
) -> PaymentResult:
    """Move `amount` as `kind` on the case's account, once per idempotency key. A declined
    payment fails with an `ActivityError` that `declined` recognises, and is not retried.
    One the customer must authenticate waits for them first (see the module's note)."""
    request = PaymentRequest(
        idempotency_key=idempotency_key,
        org_id=account.org_id,
        case_id=account.case_id,
        kind=kind,
        amount=amount,
        currency=account.currency,
        payment_method=account.payment_method,
    )
    result = await workflow.execute_activity_method(
        PaymentActivities.execute_payment,
        request,
        start_to_close_timeout=EXTERNAL_TIMEOUT,
        retry_policy=retry,
    )
    if result.status != REQUIRES_ACTION or not patched(AUTHENTICATION_PATCH):
        return result
    if account.authentication is None:
        raise not_authenticated(request, "the customer's authentication cannot be asked for here")
    return await account.authentication.settle(request, result)


async def pay_unless_declined(
    account: PaymentAccount, kind: PaymentKind, amount: Decimal, idempotency_key: str
) -> bool:
    """`pay`, answering False instead of failing when the gateway declines: for a case that
    acts on a declined card (a plan's charge, a claim's deductible)."""
    try:
        await pay(account, kind, amount, idempotency_key)
    except ActivityError as error:
        if declined(error):
            return False
        raise
    return True


class PaymentWithdrawn(ApplicationError):
    """The case withdrew the payment it was waiting for its customer to authenticate (see
    `CustomerAuthentication.withdraw_if`): neither made nor declined. A lifecycle that can
    withdraw catches it; one that does not would fail its workflow, never half-pay."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="PaymentWithdrawn", non_retryable=True)


class PaymentNotAuthenticated(ActivityError):
    """A payment its customer did not authenticate: failed as the payment activity fails on
    a decline (a `PaymentDeclined` cause), so every `declined(error)` path takes it."""


def not_authenticated(request: PaymentRequest, message: str) -> PaymentNotAuthenticated:
    cause = ApplicationError(message, request.kind.value, type=PAYMENT_DECLINED, non_retryable=True)
    return failed_as_activity(PaymentNotAuthenticated, "execute_payment", message, cause)


def declined(error: ActivityError) -> bool:
    """Whether the payment failed because the gateway declined it: a business answer for the
    case to act on, unlike a failure that retrying did not heal."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == PAYMENT_DECLINED
