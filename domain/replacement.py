"""The replacement lifecycle's vocabulary (lifecycles.md §3) and its workflow messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from domain.common import Actor, Address, Customer, DocumentRef, Policy, ShipmentRef


class ReplacementMode(StrEnum):
    STANDARD = "standard"  # ship once the defective unit is with us
    ADVANCE = "advance"  # ship first; the defective "core" comes back after


class ReplacementStatus(StrEnum):
    # Before the first decision: reserving stock (and, in advance mode, placing the hold).
    # An addition to lifecycles.md, which names no state for that moment.
    REQUESTED = "requested"
    BACKORDERED = "backordered"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    AWAITING_CORE = "awaiting_core"
    COMPLETED = "completed"
    PAYMENT_FAILED = "payment_failed"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


TERMINAL_REPLACEMENT_STATUSES = frozenset(
    {
        ReplacementStatus.COMPLETED,
        ReplacementStatus.PAYMENT_FAILED,
        ReplacementStatus.REFUNDED,
        ReplacementStatus.CANCELLED,
    }
)

# Cancel is possible until the parcel leaves (api.md: "before shipping").
CANCELLABLE = frozenset({ReplacementStatus.REQUESTED, ReplacementStatus.BACKORDERED})

# The built-in gateway's card authorisations lapse after 7 days, as real ones do; a hold is
# renewed this long before it would lapse.
HOLD_LIFETIME = timedelta(days=7)
HOLD_RENEW_BEFORE = timedelta(days=1)


@dataclass
class ReplacementStart:
    replacement_id: str
    org_id: str
    org_name: str
    tracking_token: str
    mode: ReplacementMode
    sku: str  # the defective unit's
    serial: str
    replacement_sku: str
    replacement_name: str
    unit_price: Decimal
    customer: Customer
    payment_method: str
    policy: Policy
    public_base_url: str
    rma_id: str | None = None
    repair_id: str | None = None
    # Where the parcel leaves from: the retailer's warehouse (its return address).
    ship_from: Address | None = None
    # What pays for it, when not the usual (a campaign's offer: `campaign`).
    coverage: str | None = None

    def parent_links(self) -> dict[str, str]:
        """The cases this replacement was started from, as the read model links them."""
        parents = (("rma_id", self.rma_id), ("repair_id", self.repair_id))
        return {name: value for name, value in parents if value}


@dataclass
class ReplacementView:
    replacement_id: str
    status: ReplacementStatus
    reason: str | None = None
    core_charged: bool = False


@dataclass
class CoreReceived:
    actor: Actor
    note: str = ""


@dataclass
class ReplacementCancel:
    actor: Actor
    reason: str = ""


@dataclass
class StockReserved:
    """The API reserved a unit for this backordered case (in request order) and says so."""

    reservation_key: str


@dataclass
class ReplacementResult:
    replacement_id: str
    status: ReplacementStatus
    core_charged: bool = False
    documents: list[DocumentRef] = field(default_factory=list)
    shipments: list[ShipmentRef] = field(default_factory=list)


@dataclass
class HoldState:
    """The deposit hold currently standing for an advance replacement."""

    key: str
    placed_at: datetime
    amount: Decimal

    @property
    def renew_at(self) -> datetime:
        return self.placed_at + HOLD_LIFETIME - HOLD_RENEW_BEFORE


# What a key holder may do in each state: the body of a 409 `invalid_transition`.
ALLOWED_ACTIONS: dict[ReplacementStatus, tuple[str, ...]] = {
    ReplacementStatus.REQUESTED: ("cancel",),
    ReplacementStatus.BACKORDERED: ("cancel",),
    ReplacementStatus.SHIPPED: (),
    ReplacementStatus.DELIVERED: ("core_received",),
    ReplacementStatus.AWAITING_CORE: ("core_received",),
    ReplacementStatus.COMPLETED: (),
    ReplacementStatus.PAYMENT_FAILED: (),
    ReplacementStatus.REFUNDED: (),
    ReplacementStatus.CANCELLED: (),
}

REPLACEMENT_WORKFLOW = "Replacement"
REPLACEMENT_ACCEPT_UPDATE = "accept"
CORE_RECEIVED_UPDATE = "core_received"
REPLACEMENT_CANCEL_UPDATE = "cancel"
STOCK_RESERVED_SIGNAL = "stock_reserved"


def reservation_key(workflow_id: str) -> str:
    """The one reservation a replacement ever holds: the API reserves on its behalf with the
    same key when it wakes a backorder, so the workflow's own attempt finds it done."""
    return f"{workflow_id}/reservation"
