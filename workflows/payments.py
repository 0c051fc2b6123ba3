"""Moving a case's money through the payment gateway: the one way every lifecycle charges,
holds, captures, releases and refunds.

    account = PaymentAccount(start.org_id, start.rma_id, currency, payment_method)
    await pay(account, PaymentKind.REFUND, amount, step_key(workflow_id, "refund"))

The idempotency key names the payment once per case (a workflow id and a step, or the key
of the hold a capture or release settles), so a retried activity never moves money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.stubs import PaymentActivities
    from domain.contracts.payments import (
        PAYMENT_DECLINED,
        PaymentKind,
        PaymentRequest,
        PaymentResult,
    )
    from workflows.base import EXTERNAL_RETRY, EXTERNAL_TIMEOUT


@dataclass(frozen=True)
class PaymentAccount:
    """Where a case's money moves: the retailer's org, the case it is for, the case's
    currency and the customer's payment method."""

    org_id: str
    case_id: str
    currency: str
    payment_method: str


async def pay(
    account: PaymentAccount,
    kind: PaymentKind,
    amount: Decimal,
    idempotency_key: str,
    retry: RetryPolicy = EXTERNAL_RETRY,
) -> PaymentResult:
    """Move `amount` as `kind` on the case's account, once per idempotency key. A declined
    payment fails with an `ActivityError` that `declined` recognises, and is not retried."""
    return await workflow.execute_activity_method(
        PaymentActivities.execute_payment,
        PaymentRequest(
            idempotency_key=idempotency_key,
            org_id=account.org_id,
            case_id=account.case_id,
            kind=kind,
            amount=amount,
            currency=account.currency,
            payment_method=account.payment_method,
        ),
        start_to_close_timeout=EXTERNAL_TIMEOUT,
        retry_policy=retry,
    )


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


def declined(error: ActivityError) -> bool:
    """Whether the payment failed because the gateway declined it: a business answer for the
    case to act on, unlike a failure that retrying did not heal."""
    cause = error.cause
    return isinstance(cause, ApplicationError) and cause.type == PAYMENT_DECLINED
