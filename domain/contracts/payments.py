"""Request and result of the payment activity (activities/payments.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

# The ApplicationError type of a declined payment: a business answer, never retried.
PAYMENT_DECLINED = "PaymentDeclined"

# PaymentResult.status of a payment the customer must still authenticate (3-D Secure):
# neither made nor declined until a PaymentEvent says which.
REQUIRES_ACTION = "requires_action"

# The signal a payment gateway's event sends to the workflow that owns the payment.
PAYMENT_EVENT_SIGNAL = "payment_event"


class PaymentKind(StrEnum):
    CHARGE = "charge"
    DEDUCTIBLE = "deductible"
    REFUND = "refund"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"


@dataclass
class PaymentRequest:
    idempotency_key: str
    org_id: str
    case_id: str
    kind: PaymentKind
    amount: Decimal
    currency: str
    payment_method: str
    # The gateway's reference of what a capture or release settles (the hold) or a refund
    # gives back (the payment). Empty: the activity finds it in the payments ledger.
    original_reference: str = ""


@dataclass
class PaymentResult:
    payment_id: str
    kind: PaymentKind
    amount: Decimal
    currency: str
    status: str
    gateway_reference: str
    # Where the customer authenticates the payment when status is REQUIRES_ACTION.
    action_url: str = ""


@dataclass
class PaymentEvent:
    """The gateway's final word on a payment that required customer action."""

    gateway_reference: str
    succeeded: bool
    message: str = ""
