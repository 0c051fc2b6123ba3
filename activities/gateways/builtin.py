"""The built-in payment gateway: stands in for a real one, the default of every
organisation."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

from activities.gateways import GatewayAnswer, GatewayCall
from domain.contracts.payments import PaymentKind

BUILTIN = "builtin"

# What the customer's card is asked for, and so may need the customer to authenticate.
_CUSTOMER_PAYS = frozenset({PaymentKind.CHARGE, PaymentKind.DEDUCTIBLE, PaymentKind.HOLD})


class BuiltinGateway:
    """Understands the test tokens of api.md: `pm_ok`, `pm_declined`, `pm_fail_once`, and
    `pm_requires_action` (a charge or hold the customer must authenticate, 3-D Secure style:
    its action URL is deterministic, under `action_base`). Any other token (e.g. the
    original order's payment for a refund) is approved."""

    name = BUILTIN

    def __init__(self, action_base: str = "http://127.0.0.1:8000") -> None:
        self.action_base = action_base.rstrip("/")

    async def execute(self, call: GatewayCall) -> GatewayAnswer:
        reference = "gw_" + hashlib.sha256(call.idempotency_key.encode()).hexdigest()[:24]
        if call.payment_method == "pm_declined":
            return GatewayAnswer.declined(reference, "card declined")
        if call.payment_method == "pm_fail_once" and call.attempt == 1:
            return GatewayAnswer.declined(reference, "card declined (first attempt)")
        if call.payment_method == "pm_requires_action" and call.kind in _CUSTOMER_PAYS:
            url = f"{self.action_base}/builtin-gateway/authenticate/{quote(reference)}"
            return GatewayAnswer.needs_customer(reference, url)
        return GatewayAnswer.approved(reference)
