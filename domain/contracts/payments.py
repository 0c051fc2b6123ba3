"""Request and result of the payment activity (activities/payments.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

# The ApplicationError type of a declined payment: a business answer, never retried.
PAYMENT_DECLINED = "PaymentDeclined"


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


@dataclass
class PaymentResult:
    payment_id: str
    kind: PaymentKind
    amount: Decimal
    currency: str
    status: str
    gateway_reference: str
