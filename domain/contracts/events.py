"""What a case's timeline entries are called: every event a workflow records, one enum, so a
name is never matched only by spelling and a test can prove each one has customer copy.

The values are the strings stored in `case_events.event` and sent in webhooks: never rename
a member's value (recorded histories and stored rows carry it)."""

from __future__ import annotations

from enum import StrEnum

from domain.common import CarrierStatus


class CaseEvent(StrEnum):
    # Shared by several lifecycles.
    CREATED = "created"
    RECEIVED = "received"
    LABEL_CREATED = "label_created"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    REFUNDED = "refunded"
    RETURNED_UNREPAIRED = "returned_unrepaired"

    # A return (RMA).
    AUTHORIZED = "authorized"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REVIEW_TIMEOUT = "review_timeout"
    RETURN_REMINDER = "return_reminder"
    INSPECTED = "inspected"
    RESTOCKING_FEE_WAIVED = "restocking_fee_waived"
    AWAITING_REPAIR = "awaiting_repair"
    AWAITING_REPLACEMENT = "awaiting_replacement"
    REPAIR_STARTED = "repair_started"
    REPAIRED = "repaired"
    REPAIR_CANCELLED = "repair_cancelled"
    REPAIR_UNROUTABLE = "repair_unroutable"
    REPAIR_BEYOND_REPAIR = "repair_beyond_repair"
    REPAIR_ENDED = "repair_ended"
    REPLACEMENT_STARTED = "replacement_started"
    REPLACED = "replaced"
    REPLACEMENT_ENDED = "replacement_ended"
    SHIPPING_BACK = "shipping_back"
    RETURNED_TO_CUSTOMER = "returned_to_customer"

    # A repair.
    UNROUTABLE = "unroutable"
    ROUTED = "routed"
    DIAGNOSING = "diagnosing"
    DIAGNOSED = "diagnosed"
    QUOTED = "quoted"
    COVERED = "covered"
    QUOTE_APPROVED = "quote_approved"
    QUOTE_DECLINED = "quote_declined"
    QUOTE_EXPIRED = "quote_expired"
    PARTS_RECEIVED = "parts_received"
    QUALITY_CHECK = "quality_check"
    QA_PASSED = "qa_passed"
    QA_FAILED = "qa_failed"
    READY_TO_SHIP = "ready_to_ship"
    BEYOND_REPAIR = "beyond_repair"
    SLA_BREACHED = "sla_breached"

    # A replacement.
    STOCK_RESERVED = "stock_reserved"
    BACKORDERED = "backordered"
    DEPOSIT_HELD = "deposit_held"
    DEPOSIT_HOLD_RENEWED = "deposit_hold_renewed"
    DEPOSIT_HOLD_RENEWAL_FAILED = "deposit_hold_renewal_failed"
    DEPOSIT_RELEASED = "deposit_released"
    PAYMENT_FAILED = "payment_failed"
    FULFILMENT_FAILED = "fulfilment_failed"
    SHIPPED = "shipped"
    CORE_LABEL_CREATED = "core_label_created"
    CORE_REMINDER = "core_reminder"
    CORE_RECEIVED = "core_received"
    CORE_CHARGED = "core_charged"
    CORE_CHARGE_DECLINED = "core_charge_declined"

    # A relocation.
    APPOINTMENT_BOOKED = "appointment_booked"
    RESCHEDULE_REQUESTED = "reschedule_requested"
    APPOINTMENT_MISSED = "appointment_missed"
    APPOINTMENT_REMINDER = "appointment_reminder"
    UNINSTALLED = "uninstalled"
    TRANSPORT_BOOKED = "transport_booked"
    REINSTALLED = "reinstalled"
    COMMISSIONING_FAILED = "commissioning_failed"
    COMMISSIONED = "commissioned"

    # An installation (its visits, commissioning and cancel are named as a relocation's).
    INSTALLED = "installed"

    # A service plan.
    ENROLLED = "enrolled"
    ACTIVATED = "activated"
    CHARGED = "charged"
    CHARGE_FAILED = "charge_failed"
    DUNNING_RETRY_FAILED = "dunning_retry_failed"
    NEW_PAYMENT_METHOD_FAILED = "new_payment_method_failed"
    REACTIVATED = "reactivated"
    SUSPENDED = "suspended"
    RENEWAL_UPCOMING = "renewal_upcoming"
    RENEWED = "renewed"
    PAYMENT_METHOD_CHANGED = "payment_method_changed"
    TRANSFERRED = "transferred"
    ASSET_RELOCATED = "asset_relocated"
    CLAIM_REFUSED = "claim_refused"
    CLAIM_APPROVED = "claim_approved"

    # A payment the customer must authenticate (3-D Secure), in any lifecycle that charges
    # or holds money on the customer's card.
    PAYMENT_AUTHENTICATION_REQUIRED = "payment_authentication_required"
    PAYMENT_AUTHENTICATED = "payment_authenticated"
    PAYMENT_AUTHENTICATION_FAILED = "payment_authentication_failed"

    # A booking the carrier refused (a bad address, no rate), in any lifecycle with
    # parcels, and the retailer's retry of it.
    CARRIER_ERROR = "carrier_error"
    SHIPPING_RETRIED = "shipping_retried"
    SHIPPING_ABANDONED = "shipping_abandoned"

    # A carrier's scan of a case's parcel: `carrier_<status>`.
    CARRIER_PICKED_UP = "carrier_picked_up"
    CARRIER_IN_TRANSIT = "carrier_in_transit"
    CARRIER_OUT_FOR_DELIVERY = "carrier_out_for_delivery"
    CARRIER_DELIVERED = "carrier_delivered"
    CARRIER_EXCEPTION = "carrier_exception"

    @classmethod
    def carrier(cls, status: CarrierStatus) -> CaseEvent:
        """The entry a carrier scan of `status` records."""
        return cls(f"carrier_{status.value}")
