"""What every payment gateway adapter offers: execute one money movement per key. One
module per gateway (`builtin`, ...); `activities.providers` picks an organisation's."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from domain.contracts.payments import PaymentKind


@dataclass(frozen=True)
class GatewayAnswer:
    approved: bool
    reference: str
    message: str = ""


class PaymentGateway(Protocol):
    async def execute(
        self,
        idempotency_key: str,
        kind: PaymentKind,
        amount: Decimal,
        currency: str,
        payment_method: str,
        attempt: int,
    ) -> GatewayAnswer: ...
