"""The RMA lifecycle's vocabulary (states, reason codes, grades) and its workflow messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from domain.common import Actor, Customer, DocumentRef, Policy, ShipmentRef
from domain.contracts.events import CaseEvent
from domain.contracts.store import CaseItemRecord
from domain.documents import PackingSlipData, SlipItem, long_date
from domain.repair import RepairStatus
from domain.replacement import ReplacementStatus


class RmaStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    AWAITING_RETURN = "awaiting_return"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    RESOLVING = "resolving"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL_STATUSES = frozenset(
    {RmaStatus.COMPLETED, RmaStatus.REJECTED, RmaStatus.CANCELLED, RmaStatus.EXPIRED}
)


class Resolution(StrEnum):
    REFUND = "refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"


class ReturnReason(StrEnum):
    DEFECTIVE = "defective"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    WRONG_ITEM = "wrong_item"
    NOT_AS_DESCRIBED = "not_as_described"
    NO_LONGER_NEEDED = "no_longer_needed"
    OTHER = "other"


class RejectReason(StrEnum):
    INVALID_PURCHASE_DATE = "invalid_purchase_date"
    DUPLICATE_OPEN_CASE = "duplicate_open_case"
    OUTSIDE_RETURN_WINDOW = "outside_return_window"
    NOT_COVERED = "not_covered"
    REJECTED_BY_RETAILER = "rejected_by_retailer"


class Coverage(StrEnum):
    RETURN_WINDOW = "return_window"
    WARRANTY = "warranty"
    SERVICE_PLAN = "service_plan"
    PAID = "paid"
    # Accepted by the retailer's staff outside the window and coverage (`RmaStart.goodwill`).
    GOODWILL = "goodwill"


class Grade(StrEnum):
    A = "A"  # like new
    B = "B"  # opened / used
    C = "C"  # damaged by the customer
    D = "D"  # defective as reported


class Outcome(StrEnum):
    REFUNDED = "refunded"
    REPLACED = "replaced"
    REPAIRED = "repaired"
    RETURNED_UNREPAIRED = "returned_unrepaired"
    RETURNED_TO_CUSTOMER = "returned_to_customer"


@dataclass
class RmaItem:
    sku: str
    serial: str
    quantity: int
    reason: ReturnReason
    unit_price: Decimal
    product_name: str = ""
    category: str = ""
    warranty_months: int = 0
    notes: str = ""

    @property
    def value(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass
class RmaStart:
    """Everything the workflow needs, gathered by the API when the case is created."""

    rma_id: str
    org_id: str
    org_name: str
    tracking_token: str
    order_ref: str
    purchased_at: datetime
    customer: Customer
    items: list[RmaItem]
    resolution: Resolution
    policy: Policy
    public_base_url: str
    # Facts looked up in the read model at creation; the decision itself is the workflow's.
    serials_with_open_cases: list[str] = field(default_factory=list)
    serials_with_active_plans: list[str] = field(default_factory=list)
    # The token of the repair this RMA may start: drawn by the API, as workflows draw none.
    repair_tracking_token: str = ""
    replacement_tracking_token: str = ""
    # The payment gateway's id of the order's payment (a Stripe PaymentIntent), when the
    # retailer gave it: a refund goes back to it. Otherwise to `order_payment_method`.
    payment_reference: str = ""
    # Who asked for it, for the timeline's first entry: the customer in the return portal,
    # the retailer's console user; None (and every run started before this field) is the
    # retailer's key.
    created_by: Actor | None = None
    # Why the retailer accepts it as goodwill: the return window and coverage checks are
    # skipped and the coverage is `goodwill`. Empty (every run before it): the rules apply.
    goodwill_reason: str = ""

    def created_detail(self) -> dict[str, str]:
        """The first timeline entry's detail: the resolution asked for, and why the retailer
        accepted it as goodwill if it did."""
        created = {"resolution": self.resolution.value}
        if self.goodwill_reason:
            created["goodwill_reason"] = self.goodwill_reason
        return created

    @property
    def creator(self) -> Actor:
        """Who started the return: the retailer, or the customer in the return portal (the
        timeline's entry only; no command differs, so earlier histories replay alike)."""
        return self.created_by or Actor.retailer(self.org_id)


@dataclass
class RmaView:
    """What an update answers: the case's state once the command has taken effect."""

    rma_id: str
    status: RmaStatus
    reason: str | None = None
    coverage: Coverage | None = None
    outcome: Outcome | None = None
    refund_amount: Decimal | None = None


@dataclass
class ReviewDecision:
    actor: Actor
    approve: bool
    reason: str = ""

    @property
    def rejection_reason(self) -> str:
        """Why a rejected return was rejected: the retailer's reason, else theirs by default."""
        return self.reason or RejectReason.REJECTED_BY_RETAILER.value


@dataclass
class CancelRequest:
    actor: Actor
    reason: str = ""


@dataclass
class ReceiveRequest:
    actor: Actor
    note: str = ""


@dataclass
class InspectionRequest:
    actor: Actor
    grade: Grade
    serial_matches: bool
    notes: str = ""


@dataclass
class FeeWaiver:
    """The retailer waives the restocking fee before inspection decides the refund."""

    actor: Actor
    reason: str


@dataclass
class RmaResult:
    rma_id: str
    status: RmaStatus
    outcome: Outcome | None = None
    refund_amount: Decimal | None = None
    documents: list[DocumentRef] = field(default_factory=list)
    shipments: list[ShipmentRef] = field(default_factory=list)


# What a key holder may do in each state: the body of a 409 `invalid_transition`.
ALLOWED_ACTIONS: dict[RmaStatus, tuple[str, ...]] = {
    RmaStatus.PENDING_REVIEW: ("approve", "reject", "cancel"),
    RmaStatus.AWAITING_RETURN: ("cancel", "receive"),
    RmaStatus.IN_TRANSIT: ("receive",),
    RmaStatus.RECEIVED: ("inspection",),
    RmaStatus.RESOLVING: (),
    RmaStatus.COMPLETED: (),
    RmaStatus.REJECTED: (),
    RmaStatus.CANCELLED: (),
    RmaStatus.EXPIRED: (),
}

INVALID_TRANSITION = "invalid_transition"

# The restocking fee may be waived until inspection decides the refund; after, it is 409
# ALREADY_INSPECTED (the refund is settled), and waived once, FEE_ALREADY_WAIVED.
FEE_WAIVABLE = frozenset(
    {RmaStatus.PENDING_REVIEW, RmaStatus.AWAITING_RETURN, RmaStatus.IN_TRANSIT, RmaStatus.RECEIVED}
)
ALREADY_INSPECTED = "already_inspected"
FEE_ALREADY_WAIVED = "fee_already_waived"


def packing_slip(start: RmaStart, inbound: ShipmentRef, ship_by: datetime) -> PackingSlipData:
    """What goes in the returned parcel: the items and how to send them back."""
    return PackingSlipData(
        case_number=start.rma_id,
        order_ref=start.order_ref,
        retailer_name=start.org_name,
        customer_first_name=start.customer.first_name,
        items=[
            SlipItem(
                sku=i.sku,
                description=i.product_name or i.sku,
                serial=i.serial,
                quantity=i.quantity,
                reason=i.reason.value,
            )
            for i in start.items
        ],
        tracking_number=inbound.tracking_number,
        ship_by=long_date(ship_by),
        instructions=[
            "Put this slip inside the parcel with the items listed.",
            "Stick the return label on the outside, covering any old labels.",
            f"Hand the parcel to {inbound.carrier} by {long_date(ship_by)}.",
        ],
    )


def case_items(start: RmaStart) -> list[CaseItemRecord]:
    """The returned items as the read model lists them."""
    return [
        CaseItemRecord(
            sku=i.sku,
            serial=i.serial,
            quantity=i.quantity,
            unit_price=i.unit_price,
            reason=i.reason.value,
            notes=i.notes,
        )
        for i in start.items
    ]


@dataclass
class RmaState:
    """What the RMA has decided so far: its status (None until authorization decides), the
    coverage and reason it records, and how it ended. The view an update answers, the read
    model's columns and the run's result are all read from it."""

    status: RmaStatus | None = None
    coverage: Coverage | None = None
    reason: str | None = None
    outcome: Outcome | None = None
    refund_amount: Decimal | None = None

    @property
    def current(self) -> RmaStatus:
        """The status, once authorization has decided one (nothing asks before)."""
        assert self.status is not None, "the RMA is not authorized yet"
        return self.status

    def view(self, rma_id: str) -> RmaView:
        return RmaView(
            rma_id, self.current, self.reason, self.coverage, self.outcome, self.refund_amount
        )

    def fields(self, receiving_org_id: str | None) -> dict[str, Any]:
        """The decisions as the read model's columns, with the repair center receiving the
        unit once one is routed."""
        fields: dict[str, Any] = {
            "coverage": self.coverage.value if self.coverage else None,
            "reason": self.reason,
            "outcome": self.outcome.value if self.outcome else None,
            "refund_amount": self.refund_amount,
        }
        if receiving_org_id is not None:
            fields["receiving_org_id"] = receiving_org_id
        return fields

    def result(
        self, rma_id: str, documents: list[DocumentRef], shipments: list[ShipmentRef]
    ) -> RmaResult:
        """The run's result, with the documents and the parcels of the case."""
        return RmaResult(
            rma_id, self.current, self.outcome, self.refund_amount, documents, shipments
        )

    def refunded(self, amount: Decimal) -> None:
        self.outcome = Outcome.REFUNDED
        self.refund_amount = amount

    def child_ended(self, ending: ChildEnding, unit_value: Decimal) -> None:
        """Record what a child case's end means for the RMA. A replacement that could not
        ship refunded the unit it was for (worth `unit_value`)."""
        self.outcome = ending.outcome or self.outcome
        self.reason = ending.reason or self.reason
        if ending.outcome is Outcome.REFUNDED:
            self.refund_amount = unit_value


def inspection_detail(inspection: InspectionRequest, disposition: str) -> dict[str, str]:
    """The timeline detail of an inspection and the disposition it led to."""
    return {
        "grade": inspection.grade.value,
        "serial_matches": str(inspection.serial_matches).lower(),
        "disposition": disposition,
        "notes": inspection.notes,
    }


# ------------------------------------------------------------ a child case's end


class NextStep(StrEnum):
    """What the RMA does after a child case ended without resolving it."""

    # No repair center takes the unit, which is with us: it goes back to the customer, and
    # the RMA completes `returned_unrepaired` once it is delivered.
    SHIP_BACK = "ship_back"
    # Beyond repair: the customer gets a new unit as a replacement child.
    REPLACE = "replace"


@dataclass(frozen=True)
class ChildEnding:
    """What a child case's end means for its RMA: the status and timeline event it moves
    to, the outcome or reason it records, and what it does next, if anything."""

    status: RmaStatus
    event: CaseEvent
    outcome: Outcome | None = None
    reason: str | None = None
    next_step: NextStep | None = None


_AFTER_REPAIR: dict[RepairStatus, ChildEnding] = {
    RepairStatus.COMPLETED: ChildEnding(RmaStatus.COMPLETED, CaseEvent.REPAIRED, Outcome.REPAIRED),
    RepairStatus.RETURNED_UNREPAIRED: ChildEnding(
        RmaStatus.COMPLETED, CaseEvent.RETURNED_UNREPAIRED, Outcome.RETURNED_UNREPAIRED
    ),
    RepairStatus.CANCELLED: ChildEnding(
        RmaStatus.CANCELLED, CaseEvent.REPAIR_CANCELLED, reason="repair_cancelled"
    ),
    RepairStatus.UNROUTABLE: ChildEnding(
        RmaStatus.RESOLVING, CaseEvent.REPAIR_UNROUTABLE, next_step=NextStep.SHIP_BACK
    ),
}
_BEYOND_REPAIR = ChildEnding(
    RmaStatus.RESOLVING, CaseEvent.REPAIR_BEYOND_REPAIR, next_step=NextStep.REPLACE
)


def after_repair(status: RepairStatus) -> ChildEnding:
    """What the end of the repair child means for the RMA (beyond repair: a replacement)."""
    return _AFTER_REPAIR.get(status, _BEYOND_REPAIR)


def after_replacement(status: ReplacementStatus) -> ChildEnding:
    """What the end of the replacement child means for the RMA. `refunded`: the backorder
    gave up and refunded the unit's price."""
    if status is ReplacementStatus.COMPLETED:
        return ChildEnding(RmaStatus.COMPLETED, CaseEvent.REPLACED, Outcome.REPLACED)
    if status is ReplacementStatus.REFUNDED:
        return ChildEnding(RmaStatus.COMPLETED, CaseEvent.REFUNDED, Outcome.REFUNDED)
    return ChildEnding(
        RmaStatus.CANCELLED, CaseEvent.REPLACEMENT_ENDED, reason=f"replacement_{status.value}"
    )


def order_payment_method(order_ref: str) -> str:
    """The payment a refund goes back to: the one the order was paid with. The API bounds
    `order_ref` so that this fits the payments ledger's column."""
    return f"order:{order_ref}"


# Names the API uses to reach the workflow without importing workflow code.
RMA_WORKFLOW = "Rma"
AUTHORIZE_UPDATE = "authorize"
REVIEW_UPDATE = "decide_review"
CANCEL_UPDATE = "cancel"
RECEIVE_UPDATE = "receive"
INSPECT_UPDATE = "inspect"
WAIVE_FEE_UPDATE = "waive_restocking_fee"
