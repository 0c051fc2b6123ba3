"""What every payment gateway adapter offers: one money movement per call, answered as made,
declined or waiting for the customer. One module per gateway (`builtin`, `stripe`, ...);
`activities.providers` picks an organisation's.

A gateway raises for anything that may heal (network, the provider's 5xx): the activity's
retry policy tries again with the same `GatewayCall.idempotency_key`, which the gateway
must pass on to its provider so that a retried call never moves money twice."""

from __future__ import annotations

from collections.abc import Mapping
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
    # The ledger entry's own key (idempotency_key less the attempt), for the gateway to
    # carry back in its events.
    ledger_key: str = ""


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


@dataclass(frozen=True)
class EventSubject:
    """The payment a gateway's event is about, read before the event is verified: only to
    find the ledger entry, hence the organisation whose webhook secret verifies it."""

    reference: str
    # Our ledger key and attempt, when the gateway carries them back (a payment whose
    # answer the ledger has not stored yet has no reference there).
    ledger_key: str = ""
    attempt: int = 0


@dataclass(frozen=True)
class GatewayEvent:
    """A verified event: its id (each is acted on once), type, the payment it is about and,
    when it settles one, SUCCEEDED or DECLINED ("" for an event that settles nothing)."""

    event_id: str
    type: str
    reference: str
    settled: str
    message: str = ""


class InvalidEvent(Exception):
    """An event that fails its signature check (`signature`), or is no event at all."""

    def __init__(self, detail: str, signature: bool) -> None:
        super().__init__(detail)
        self.signature = signature


class EventReader(Protocol):
    """How one gateway's webhook events read (`activities.gateways.events.READERS`)."""

    def subject(self, body: bytes) -> EventSubject | None: ...

    def read(self, body: bytes, headers: Mapping[str, str], secret: str) -> GatewayEvent: ...
