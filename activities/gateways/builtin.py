"""The built-in payment gateway: stands in for a real one, the default of every
organisation."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from activities.gateways import GatewayAnswer
from domain.contracts.payments import PaymentKind


class BuiltinGateway:
    """Understands the test tokens of api.md: `pm_ok`, `pm_declined`, `pm_fail_once`.
    Any other token (e.g. the original order's payment for a refund) is approved."""

    async def execute(
        self,
        idempotency_key: str,
        kind: PaymentKind,
        amount: Decimal,
        currency: str,
        payment_method: str,
        attempt: int,
    ) -> GatewayAnswer:
        reference = "gw_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        if payment_method == "pm_declined":
            return GatewayAnswer(False, reference, "card declined")
        if payment_method == "pm_fail_once" and attempt == 1:
            return GatewayAnswer(False, reference, "card declined (first attempt)")
        return GatewayAnswer(True, reference)
