"""Types every lifecycle shares: addresses, customers, the retailer policy, timeline entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


@dataclass
class Address:
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""
    name: str = ""

    def to_json(self) -> dict[str, str]:
        """As the read model stores addresses (sites, shipments, customers)."""
        return {
            "name": self.name,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "region": self.region,
            "postal_code": self.postal_code,
            "country": self.country,
        }


@dataclass
class Customer:
    name: str
    email: str = ""
    phone: str = ""
    address: Address | None = None
    # BCP 47 (`de-DE`): the language of the customer's pages, emails and documents; empty
    # for the retailer's default. Histories recorded before it decode with the default.
    locale: str = ""
    # IANA (`Europe/Berlin`): the clock the customer's times are shown on; empty for the
    # retailer's default.
    time_zone: str = ""

    @property
    def first_name(self) -> str:
        parts = self.name.split()
        return parts[0] if parts else ""


class CasePolicy(Protocol):
    @property
    def currency(self) -> str: ...


class CaseStart(Protocol):
    """What every lifecycle's start input carries: whose case it is, its customer, the
    currency its policy counts in, and where its tracking page lives."""

    @property
    def org_id(self) -> str: ...

    @property
    def tracking_token(self) -> str: ...

    @property
    def public_base_url(self) -> str: ...

    @property
    def customer(self) -> Customer: ...

    @property
    def policy(self) -> CasePolicy: ...


DEFAULT_RETURN_ADDRESS = Address(
    name="Returns Department",
    line1="1 Returns Way",
    city="Springfield",
    postal_code="00000",
    country="US",
)


@dataclass
class Policy:
    """A retailer's policy. A case keeps the copy it started with."""

    return_window: timedelta = timedelta(days=30)
    review_threshold: Decimal = Decimal("1000.00")
    review_timeout: timedelta = timedelta(days=7)
    return_ship_by: timedelta = timedelta(days=14)
    restocking_fee_percent: Decimal = Decimal("15")
    quote_valid_for: timedelta = timedelta(days=14)
    repair_turnaround: timedelta = timedelta(days=5)
    backorder_max: timedelta = timedelta(days=14)
    core_return_within: timedelta = timedelta(days=30)
    max_reschedules: int = 2
    dunning: list[timedelta] = field(
        default_factory=lambda: [timedelta(days=1), timedelta(days=3), timedelta(days=7)]
    )
    grace_period: timedelta = timedelta(days=14)
    currency: str = "USD"
    return_address: Address = field(default_factory=lambda: DEFAULT_RETURN_ADDRESS)
    # How long a repair is guaranteed after it passes quality check (printed on the certificate).
    repair_warranty: timedelta = timedelta(days=90)


class CaseKind(StrEnum):
    """The lifecycles: a case row's `type`, the first part of its webhook events' names."""

    RMA = "rma"
    REPAIR = "repair"
    REPLACEMENT = "replacement"
    RELOCATION = "relocation"
    SERVICE_PLAN = "service_plan"
    INSTALLATION = "installation"


# The timeline's `actor` column (db.models.TimelineEvent.actor) holds this many characters.
ACTOR_LABEL_MAX = 80


@dataclass
class Actor:
    """Who did it, for the timeline: `retailer:<org>`, `repair_center:<org>`, `carrier`...;
    a console user acting for their organisation adds their name: `retailer:<org>:<name>`."""

    kind: str
    org_id: str = ""
    # The console user's name; empty for an API key (and in every history recorded before).
    user: str = ""

    def label(self) -> str:
        if not self.org_id:
            return self.kind
        label = f"{self.kind}:{self.org_id}"
        if not self.user:
            return label
        # The timeline's actor column holds ACTOR_LABEL_MAX characters; a longer name is cut.
        room = ACTOR_LABEL_MAX - len(label) - 1
        name = self.user if len(self.user) <= room else self.user[: room - 1] + "…"
        return f"{label}:{name}"

    # The actors no key holder is: named here once, for every lifecycle's timeline.
    @classmethod
    def system(cls) -> Actor:
        return cls("system")

    @classmethod
    def carrier(cls) -> Actor:
        return cls("carrier")

    @classmethod
    def customer(cls) -> Actor:
        return cls("customer")

    @classmethod
    def retailer(cls, org_id: str) -> Actor:
        return cls("retailer", org_id)


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CarrierStatus(StrEnum):
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"


# The signal every case with a parcel takes its carrier scans by.
CARRIER_EVENT_SIGNAL = "carrier_event"
# The query every case workflow answers with its current view.
CURRENT_QUERY = "current"


@dataclass
class CarrierEvent:
    """A carrier scan, delivered to the workflow that owns the shipment (at least once)."""

    event_id: str
    tracking_number: str
    status: CarrierStatus
    occurred_at: datetime
    location: str = ""


@dataclass
class ShipmentRef:
    id: str
    direction: Direction
    carrier: str
    tracking_number: str
    service: str = "Ground"
    # The carrier's own label in the document store, stored as the parcel's label instead
    # of one we draw; empty: we draw it.
    label_sha256: str = ""


@dataclass
class DocumentRef:
    id: str
    kind: str
    sha256: str
    verification_code: str | None = None


# Statuses that end a case, across lifecycles: a serial in any other status has an open case.
CLOSED_STATUSES = frozenset(
    {
        "completed",
        "rejected",
        "cancelled",
        "expired",
        "returned_unrepaired",
        "beyond_repair",
        "unroutable",
        "refunded",
        "payment_failed",
    }
)


# The error type of a step whose data the read model cannot store (too long, a NUL, a date
# out of range): retrying cannot help, so it is never retried and the step ends.
INVALID_DATA = "invalid_data"


# How long Temporal waits for a worker to finish a workflow task before handing it to another.
# A task in flight on a worker that was killed waits this out, so it bounds how long a case
# stands still after a crash (the server's default is 10 s). A task is milliseconds of work;
# a long local activity keeps its task alive by heartbeating it, whatever this is.
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)

# The memo each case, campaign and delivery queue starts with: the generation of workflow
# code it was started on. A case started on a generation takes the changes that generation
# settled (the patch ids in `workflows.patches.SETTLED`) without asking `workflow.patched`,
# so its history records no marker for them; cases started before carry no memo and ask, as
# they always did. Raise it only together with the patches it settles, and deploy workers
# before the API. The warranty schedule's runs start without it: a schedule outlives a
# deploy, and a memo written into it would not follow a raised generation.
CODE_GENERATION_MEMO = "code_generation"
CODE_GENERATION = 1


def start_memo() -> dict[str, int]:
    """The memo a new workflow is started with (`CODE_GENERATION_MEMO`)."""
    return {CODE_GENERATION_MEMO: CODE_GENERATION}
