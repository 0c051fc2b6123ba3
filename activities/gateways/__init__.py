"""What every payment gateway adapter offers: one money movement per call, answered as made,
declined or waiting for the customer. One module per gateway (`builtin`, `stripe`, ...);
`activities.providers` picks an organisation's.

A gateway raises for anything that may heal (network, the provider's 5xx): the activity's
retry policy tries again with the same `GatewayCall.idempotency_key`, which the gateway
must pass on to its provider so that a retried call never moves money twice."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from domain.contracts.payments import REQUIRES_ACTION, PaymentKind

# Ledger statuses (db.models.Payment.status) a gateway's answer leads to.
SUCCEEDED = "succeeded"
DECLINED = "declined"
PENDING = "pending"


@dataclass(frozen=True)
class GatewayCall:
    """One attempt at one ledger entry, as the gateway needs it."""

    # Ours, per attempt: the ledger key and the attempt number, stable across retries of
    # an attempt whose answer was lost.
    idempotency_key: str
    kind: PaymentKind
    amount: Decimal
    currency: str
    payment_method: str
    attempt: int
    # The gateway's reference of the hold a capture or release settles, or of the payment
    # a refund gives back; empty for charges and holds.
    original_reference: str = ""
    # Where the customer lands after authenticating a payment (the case's tracking page).
    return_url: str = ""
    org_id: str = ""
    case_id: str = ""


@dataclass(frozen=True)
class GatewayAnswer:
    status: str  # SUCCEEDED, DECLINED or REQUIRES_ACTION
    reference: str
    message: str = ""
    # Where the customer authenticates, when status is REQUIRES_ACTION.
    action_url: str = ""

    @classmethod
    def approved(cls, reference: str) -> GatewayAnswer:
        return cls(SUCCEEDED, reference)

    @classmethod
    def declined(cls, reference: str, message: str) -> GatewayAnswer:
        return cls(DECLINED, reference, message)

    @classmethod
    def needs_customer(cls, reference: str, action_url: str) -> GatewayAnswer:
        return cls(REQUIRES_ACTION, reference, "authentication required", action_url)


class PaymentGateway(Protocol):
    # The ledger's `provider` for what this gateway moves: a capture, release or refund
    # goes to the gateway that holds the original.
    name: str

    async def execute(self, call: GatewayCall) -> GatewayAnswer: ...


@runtime_checkable
class GatewayDirectory(Protocol):
    """An organisation's gateway as configured now (`activities.providers`)."""

    async def gateway_for(self, org_id: str) -> PaymentGateway: ...
