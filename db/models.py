"""The read model: SQLAlchemy 2.0 typed models. Alembic migrations mirror this file."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Three decimals: the most minor units a currency has (KWD, BHD …; JPY has none). An amount
# is written with exactly its currency's (domain.money.money_text), never this scale.
MONEY = Numeric(15, 3)
# Centimetres to a millimetre: 99 999.9 cm at most, the API allows far less.
DIMENSION = Numeric(6, 1)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (CheckConstraint("paper_size IN ('A4', 'Letter')", name="paper_size"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # Names the retailer's return portal (`/returns/{slug}`): made from the name at creation
    # (`domain.portal.slug_of`), changed with PATCH /v1/orgs/{id}. An organisation made
    # without one (tests, scripts) gets a random one rather than none.
    slug: Mapped[str] = mapped_column(String(64), unique=True, default=new_id)
    # What a customer who named none reads in (BCP 47), the clock their times are shown on
    # (IANA) and the paper of packing slips and certificates (labels stay 4x6 in).
    default_locale: Mapped[str] = mapped_column(String(35), default="en", server_default="en")
    default_time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    paper_size: Mapped[str] = mapped_column(String(6), default="Letter", server_default="Letter")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    # SHA-256 of a 256-bit random key: a slow hash adds nothing against brute force here.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # Coarse on purpose (written at most once a minute per key): enough to tell a key in use
    # from a forgotten one, without a write per request.
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class RetailerPolicy(Base):
    __tablename__ = "retailer_policies"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    # The policy as the API accepts it (ISO 8601 durations, decimal strings).
    document: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("org_id", "sku"),
        CheckConstraint(
            "(length_cm IS NULL) = (width_cm IS NULL) AND (width_cm IS NULL) = (height_cm IS NULL)",
            name="dimensions_all_or_none",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    warranty_months: Mapped[int] = mapped_column(Integer)
    # What a carrier rates a parcel by; unknown until the retailer says (PUT /v1/products).
    weight_grams: Mapped[int | None] = mapped_column(Integer, default=None)
    # The parcel's dimensions_cm, all three or none (a carrier needs every side).
    length_cm: Mapped[Decimal | None] = mapped_column(DIMENSION, default=None)
    width_cm: Mapped[Decimal | None] = mapped_column(DIMENSION, default=None)
    height_cm: Mapped[Decimal | None] = mapped_column(DIMENSION, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerRecord(Base):
    __tablename__ = "customers"
    # The console's search by email, whatever its case (migration 0022).
    __table_args__ = (Index("ix_customers_org_email", "org_id", text("lower(email)")),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # BCP 47 and IANA names, or "" for the retailer's defaults (Organisation).
    locale: Mapped[str] = mapped_column(String(35), default="", server_default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TroubleshootingStep(Base):
    """One of a product's troubleshooting steps, shown in the return portal before a
    `defective` return (PUT /v1/products/{sku}/troubleshooting replaces them all)."""

    __tablename__ = "troubleshooting_steps"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), primary_key=True)
    # 1, 2, 3 … in the order the retailer gave them: what a deflection's `step` names.
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(String(2000))


class Order(Base):
    """An order as the retailer's shop sent it (POST /v1/orders): what the return portal
    looks a customer up by, and what units were sold (campaigns, insight). The same
    `order_ref` again replaces the order and its lines."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("org_id", "order_ref"),
        Index("ix_orders_org_placed", "org_id", "placed_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    order_ref: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime]
    customer_name: Mapped[str] = mapped_column(String(200))
    # Lower-cased, as the portal compares it.
    customer_email: Mapped[str] = mapped_column(String(320))
    customer_phone: Mapped[str] = mapped_column(String(64), default="")
    customer_address: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    # As `customers.locale` and `time_zone`: empty when the shop named none.
    customer_locale: Mapped[str] = mapped_column(String(35), default="")
    customer_time_zone: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrderLine(Base):
    """One line of an order. `org_id` is the order's, kept here so units sold per sku and the
    owners of a serial are read without the join."""

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        Index("ix_order_lines_org_sku", "org_id", "sku"),
        Index("ix_order_lines_org_serial", "org_id", "serial"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(100), default=None)
    quantity: Mapped[int] = mapped_column(Integer)


class PortalLookup(Base):
    """A customer's successful order lookup in the return portal: the lookup token's
    SHA-256 (never the token) and when it stops working."""

    __tablename__ = "portal_lookups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PortalRateWindow(Base):
    """Portal lookups per client (the SHA-256 of its address) per minute, counted by one
    upsert so every API process limits alike."""

    __tablename__ = "portal_rate_windows"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Deflection(Base):
    """A return that did not happen: the customer said a troubleshooting step fixed it.
    One per lookup and sku (a second "this fixed it" is the first)."""

    __tablename__ = "deflections"
    __table_args__ = (
        UniqueConstraint("lookup_id", "sku"),
        Index("ix_deflections_org_sku_created", "org_id", "sku", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    # No foreign keys to the order or the lookup: a replaced or expired one keeps its count.
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    lookup_id: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str | None] = mapped_column(String(100), default=None)
    # The step's position (1-based) and its title as the customer saw it.
    step: Mapped[int] = mapped_column(Integer)
    step_title: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    """One after-sales case of any lifecycle, as lists and tracking read it."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_org_type_status", "org_id", "case_type", "status"),
        Index("ix_cases_org_type_created", "org_id", "case_type", "created_at", "id"),
        Index("ix_cases_org_created", "org_id", "created_at"),
        # The console's lists (migration 0022): a status filter pages in date order, and a
        # search finds a case by its order reference or its customer.
        Index(
            "ix_cases_org_type_status_created", "org_id", "case_type", "status", "created_at", "id"
        ),
        Index("ix_cases_org_order_ref", "org_id", "order_ref"),
        Index("ix_cases_customer_id", "customer_id"),
        # Insight (migration 0020): a retailer's cases of a type over a period, and the
        # repair centers' share of them.
        Index(
            "ix_cases_org_type_created_center",
            "org_id",
            "case_type",
            "created_at",
            "receiving_org_id",
        ),
        # A repair center's open jobs (routing, its profile) and what it is sent.
        Index("ix_cases_receiving_type_status", "receiving_org_id", "case_type", "status"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    case_type: Mapped[str] = mapped_column(String(20))
    workflow_id: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(32))
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    # The organisation the unit is shipped to, when not the owner (a repair center).
    # Indexed with the type and status (migration 0024): a center's open jobs are counted
    # on every repair's routing.
    receiving_org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    order_ref: Mapped[str] = mapped_column(String(100), default="")
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)
    coverage: Mapped[str | None] = mapped_column(String(20), default=None)
    reason: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str | None] = mapped_column(String(32), default=None)
    refund_amount: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    links: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # What insight aggregates, typed (domain.insights.insight_columns, from the repair's
    # facts and timeline): the unit in at the center, out again, the diagnosed fault, and
    # whether the turnaround SLA was breached.
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    shipped_at: Mapped[datetime | None] = mapped_column(default=None)
    fault_code: Mapped[str | None] = mapped_column(String(200), default=None)
    sla_breached: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseItem(Base):
    __tablename__ = "case_items"
    # Insight: an organisation's units by sku, and a unit's earlier and later repairs.
    __table_args__ = (Index("ix_case_items_sku_case", "sku", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(100), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32), default="")
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    notes: Mapped[str] = mapped_column(Text, default="")


class TimelineEvent(Base):
    __tablename__ = "timeline_events"
    # (case_id, seq) makes a retried projection append nothing twice.
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # The few jobs past their SLA, for the console's home and list (migration 0022).
        Index(
            "ix_timeline_events_sla_breached",
            "case_id",
            postgresql_where=text("event = 'sla_breached'"),
            sqlite_where=text("event = 'sla_breached'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    workflow_id: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(10))
    carrier: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(40))
    tracking_number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    from_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    to_address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Who booked it (the adapter: `aftersales-post`, `easypost`), its own id for the parcel
    # (what a refund names), what the label cost, and the carrier's own label PDF in the
    # document store (None: we drew the label).
    provider: Mapped[str | None] = mapped_column(String(32), default=None)
    provider_shipment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    cost: Mapped[Decimal | None] = mapped_column(MONEY, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    label_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CarrierBooking(Base):
    """A provider's shipment created for a booking and not yet known bought: a retried
    booking finds it here by our key and buys it (once) instead of creating another."""

    __tablename__ = "carrier_bookings"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    provider: Mapped[str] = mapped_column(String(32))
    provider_shipment_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CarrierEventRecord(Base):
    """Carrier events already accepted, so a repeated `event_id` is ignored."""

    __tablename__ = "carrier_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    location: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))
    verification_code: Mapped[str | None] = mapped_column(String(40), unique=True, default=None)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("org_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(40))
    resource_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A case command's first answer (JSON), once it has one: a retry with the key gets it
    # back without reaching the workflow again, which a continued-as-new run could not dedupe.
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class OpenSerial(Base):
    """A unit with an open RMA: the one-open-case-per-serial rule, enforced by the primary
    key. The RMA workflow claims its serials before it authorizes; the projection that
    closes the case releases them in the same transaction."""

    __tablename__ = "open_serials"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(100), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payment(Base):
    """The payments ledger: every charge, hold, capture, release and refund, once per key."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The gateway's id of what moved (a Stripe PaymentIntent or Refund): a gateway's event
    # finds its row by it.
    gateway_reference: Mapped[str] = mapped_column(String(64), default="", index=True)
    # The gateway that moved it, and what a capture, release or refund acted on (the hold's
    # or the payment's `gateway_reference`).
    provider: Mapped[str] = mapped_column(String(20), default="builtin")
    original_reference: Mapped[str] = mapped_column(String(64), default="")
    # Where the customer authenticates a payment in `requires_action`, and the gateway's
    # words on a decline.
    action_url: Mapped[str] = mapped_column(String(2048), default="")
    message: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentEventRecord(Base):
    """Payment gateway events already accepted: a repeated event id is a primary-key
    conflict, so an event redelivered (or delivered twice at once) acts once."""

    __tablename__ = "payment_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(64))
    gateway_reference: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RepairCenter(Base):
    """A repair center's profile: what it repairs, where, how much, and where parcels go."""

    __tablename__ = "repair_centers"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    regions: Mapped[list[Any]] = mapped_column(default=list)
    daily_capacity: Mapped[int] = mapped_column(Integer)
    labor_rate: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RepairNetworkMember(Base):
    """A repair center a retailer contracts with. A retailer with none routes to every
    center; with some, only to those."""

    __tablename__ = "repair_network_members"

    retailer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    center_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    # The order the retailer listed them in, so GET answers what PUT was given.
    position: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class InventoryItem(Base):
    """Stock a retailer holds for replacements. `reserved` units are promised to cases that
    have not shipped yet; the check constraints make overselling impossible whatever the
    concurrency, on SQLite and PostgreSQL alike."""

    __tablename__ = "inventory"
    __table_args__ = (
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("reserved <= quantity", name="reserved_within_stock"),
    )

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class InventoryReservation(Base):
    """One reservation per idempotency key: a retried reserve, release or consume counts once."""

    __tablename__ = "inventory_reservations"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    sku: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    # reserved → consumed (shipped) or released (cancelled, failed, gave up)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Asset(Base):
    """Installed equipment a retailer looks after, and where it stands now."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("org_id", "sku", "serial"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    sku: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(100))
    site: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The relocation that last moved it, for the audit trail.
    moved_by_case_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanCatalogEntry(Base):
    """A service plan the retailer sells. Sold plans keep a copy of the terms; a change here
    reaches them at their next renewal."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("org_id", "code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    # The terms as the API accepts them (ISO 8601 durations, decimal strings).
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(Base):
    """Where an organisation wants case events sent, which ones, and the secret they are
    signed with (encrypted, not hashed: it signs every delivery)."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list)
    # Both encrypted with `db.secret_box` (a Fernet token of a secret of up to 100
    # characters fits in 500).
    secret: Mapped[str] = mapped_column(String(500))
    # After a rotation the old secret still signs deliveries until it expires, so receivers
    # can switch to the new one without dropping any.
    previous_secret: Mapped[str | None] = mapped_column(String(500), default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One event for one subscription: written with the timeline entry it reports, so no
    event is lost between the read model and the delivery queue."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_case_seq", "case_id", "seq"),
        Index("ix_webhook_deliveries_subscription_created", "subscription_id", "created_at", "id"),
        # Only the pending rows, oldest first: the backlog gauge's "oldest pending" reads one
        # entry of it instead of scanning every delivery ever written.
        Index(
            "ix_webhook_deliveries_pending_created",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    case_id: Mapped[str] = mapped_column(String(40))
    seq: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending → delivered (a 2xx) or failed (no 2xx within the retry window)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Asked for again by the subscriber after it ended (delivered or failed).
    redeliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set once its queue has it (`activities.handover`): a pending row left unset is due to
    # any worker's sweep.
    handed_over_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class Email(Base):
    """Every email to a customer: the outbox in development (`aftersales outbox` lists it),
    the send log when an SMTP server is configured."""

    __tablename__ = "emails"
    __table_args__ = (Index("ix_emails_created", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    # One email per timeline entry at most: a retried projection writes none twice.
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    notice: Mapped[str] = mapped_column(String(30))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tracking_url: Mapped[str] = mapped_column(String(500))
    # outbox (no SMTP configured) | pending → sent | failed
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # As for webhook deliveries: set once its queue has it.
    handed_over_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class Integration(Base):
    """An organisation's carrier or payment provider and its credentials, encrypted with
    `db.secret_box` (never stored, returned nor logged in clear). No row means the
    built-in provider."""

    __tablename__ = "integrations"
    __table_args__ = (CheckConstraint("kind IN ('carrier', 'payments')", name="kind"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    # The carrier's API key or the gateway's secret key, and the secret its events are
    # signed with: Fernet tokens, empty for the built-in provider.
    api_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    # Enough to tell which key is configured without showing it.
    key_last4: Mapped[str | None] = mapped_column(String(4), default=None)
    # The carrier services the retailer allows (None: the provider's own choice).
    services: Mapped[list[Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person who signs in to the console, in one organisation with one role. Their email
    is their login, so it is unique across every organisation (stored lower-cased)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('owner', 'staff', 'technician')", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # argon2id (argon2-cffi's PHC string): never the password.
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A disabled user signs in no more and their sessions end at once.
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsoleSession(Base):
    """A console sign-in. Its id is the SHA-256 of the cookie's random value, so the table
    alone lets no one in."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The absolute end; an idle session ends earlier (`last_seen` + the idle timeout).
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """A failed console sign-in, counted per email and per client address (both as SHA-256)
    so every API process throttles alike."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "email:<sha256>" or "ip:<sha256>"
    subject: Mapped[str] = mapped_column(String(70))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """A customer's rating of a case that has ended: once per case (the unique case_id), a
    low one flagged until staff follow it up."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        Index("ix_feedback_org_created", "org_id", "created_at", "id"),
        Index("ix_feedback_receiving_created", "receiving_org_id", "created_at", "id"),
        # What waits on staff: the low ratings nobody has followed up yet.
        Index(
            "ix_feedback_follow_up",
            "org_id",
            postgresql_where=text("needs_follow_up AND followed_up_at IS NULL"),
            sqlite_where=text("needs_follow_up AND followed_up_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), unique=True)
    case_type: Mapped[str] = mapped_column(String(20))
    # The repair center that worked the case (a repair job), which lists its feedback too.
    receiving_org_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id"), default=None
    )
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(2000), default="")
    needs_follow_up: Mapped[bool] = mapped_column(default=False)
    followed_up_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    """A message to every known owner of matching units (a recall, a service offer), sent by
    its workflow (`workflows.campaign`)."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_org_created", "org_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(64))
    serial_prefix: Mapped[str | None] = mapped_column(String(100), default=None)
    purchased_from: Mapped[datetime | None] = mapped_column(default=None)
    purchased_to: Mapped[datetime | None] = mapped_column(default=None)
    subject: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(String(5000))
    # none | repair | replacement
    offer: Mapped[str] = mapped_column(String(20))
    # running → completed | cancelled
    status: Mapped[str] = mapped_column(String(20), default="running")
    # Known owners of matching units (customer and serial pairs): counted when created,
    # then the number the workflow found.
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class CampaignRecipient(Base):
    """One customer and serial of a campaign: the unique pair makes each email once, and its
    token opens the offer."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "email", "serial"),
        Index("ix_campaign_recipients_campaign_status", "campaign_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    email: Mapped[str] = mapped_column(String(320))
    serial: Mapped[str] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(64))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_phone: Mapped[str] = mapped_column(String(64), default="")
    customer_address: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    purchased_at: Mapped[datetime | None] = mapped_column(default=None)
    # SHA-256 of the offer link's token, made with its email (the token is only there).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # pending → sent | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # The case the customer started from the offer.
    responded_at: Mapped[datetime | None] = mapped_column(default=None)
    response_case_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WarrantyNotice(Base):
    """A unit told its warranty ends soon: the primary key sends each unit's notice once."""

    __tablename__ = "warranty_notices"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    serial: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))
    warranty_ends_at: Mapped[datetime]
    email_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InsightStaleDay(Base):
    """A day of an organisation whose insight rollups no longer match the read model:
    written by database triggers on every table insight reads (migration 0023), so no
    writer can forget one; the next insight read recomputes those days (db.insights)."""

    __tablename__ = "insight_stale_days"

    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)


class InsightDay(Base):
    """Insight's counters of one UTC day, per key (a sku, a category or a repair center):
    cases by when they were opened, units sold by when they were ordered, deflections by
    when they happened."""

    __tablename__ = "insight_days"

    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_by: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    rmas: Mapped[int] = mapped_column(Integer, default=0)
    repairs: Mapped[int] = mapped_column(Integer, default=0)
    replacements: Mapped[int] = mapped_column(Integer, default=0)
    plan_claims: Mapped[int] = mapped_column(Integer, default=0)
    goodwill: Mapped[int] = mapped_column(Integer, default=0)
    sla_breaches: Mapped[int] = mapped_column(Integer, default=0)
    feedback_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)
    comebacks: Mapped[int] = mapped_column(Integer, default=0)
    sold: Mapped[int] = mapped_column(Integer, default=0)
    deflected: Mapped[int] = mapped_column(Integer, default=0)


class InsightReason(Base):
    """RMAs opened on one UTC day per key and reason."""

    __tablename__ = "insight_reasons"

    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_by: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    rmas: Mapped[int] = mapped_column(Integer, default=0)


class InsightTurnaround(Base):
    """Repairs opened on one UTC day per key that took exactly `hours` from received to
    shipped: exact percentiles over any run of days, from counts."""

    __tablename__ = "insight_turnarounds"

    org_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    group_by: Mapped[str] = mapped_column(String(8), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hours: Mapped[float] = mapped_column(Float, primary_key=True)
    repairs: Mapped[int] = mapped_column(Integer, default=0)
