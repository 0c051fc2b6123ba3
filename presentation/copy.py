"""The words customers read for a case: its noun, each status's headline and explanation,
each timeline entry's title and note, documents' names and refused actions' reasons.

Every lifecycle status and every `CaseEvent` has words here (tests/presentation prove it):
a new status or event without them fails the tests rather than showing a code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from domain.common import CaseKind
from domain.contracts.events import CaseEvent
from domain.contracts.facts import parse_moment
from domain.installation import InstallationStatus as In
from domain.relocation import RelocationStatus as Rl
from domain.repair import RepairStatus as Rp
from domain.replacement import ReplacementStatus as Rc
from domain.rma import RmaStatus as Rm
from domain.service_plan import PlanStatus as Pl
from presentation.formatting import human_date, human_datetime, humanise, money_words
from presentation.i18n import N_

CASE_NOUNS: Final[Mapping[CaseKind, str]] = {
    CaseKind.RMA: "return",
    CaseKind.REPAIR: "repair",
    CaseKind.REPLACEMENT: "replacement",
    CaseKind.RELOCATION: "relocation",
    CaseKind.SERVICE_PLAN: "protection plan",
    CaseKind.INSTALLATION: N_("installation"),
}


@dataclass(frozen=True)
class StatusWords:
    headline: str
    explanation: str = ""


W = StatusWords

STATUS_WORDS: Final[Mapping[CaseKind, Mapping[str, StatusWords]]] = {
    CaseKind.RMA: {
        Rm.PENDING_REVIEW: W(
            "We're reviewing your return request",
            "The shop is checking your request. This page changes once it is approved.",
        ),
        Rm.AWAITING_RETURN: W(
            "We're waiting for your parcel",
            "Print the return label, stick it on the parcel and hand it to the carrier.",
        ),
        Rm.IN_TRANSIT: W(
            "Your parcel is on its way to us", "The carrier has it. Nothing to do for now."
        ),
        Rm.RECEIVED: W("We've received your parcel", "We'll inspect your item shortly."),
        Rm.RESOLVING: W(
            "We're sorting out your return", "We've inspected your item and are arranging the rest."
        ),
        Rm.COMPLETED: W("Your return is complete"),
        Rm.REJECTED: W(
            "We couldn't accept this return", "Please contact the shop if you have questions."
        ),
        Rm.CANCELLED: W("This return was cancelled"),
        Rm.EXPIRED: W(
            "This return has expired",
            "The parcel wasn't sent in time, so the label no longer works. "
            "Please contact the shop if you still need help.",
        ),
    },
    CaseKind.REPAIR: {
        Rp.AWAITING_UNIT: W(
            "We're waiting for your unit",
            "Send your unit to the repair centre with the label below.",
        ),
        Rp.RECEIVED: W("The repair centre has your unit", "A technician will look at it soon."),
        Rp.DIAGNOSING: W("A technician is finding the fault"),
        Rp.AWAITING_APPROVAL: W(
            "Your repair quote is ready",
            "Approve it to go ahead with the repair, or decline it to get your unit back "
            "unrepaired.",
        ),
        Rp.AWAITING_PARTS: W("We're waiting for parts", "The parts for your repair are on order."),
        Rp.REPAIRING: W("Your unit is being repaired"),
        Rp.QUALITY_CHECK: W(
            "Your repair is being checked", "Every repaired unit is tested before it comes back."
        ),
        Rp.READY_TO_SHIP: W(
            "Your unit is ready to come back", "It will be handed to the carrier shortly."
        ),
        Rp.SHIPPED: W("Your unit is on its way back to you"),
        Rp.COMPLETED: W("Your repaired unit has been delivered"),
        Rp.RETURNED_UNREPAIRED: W("Your unit was returned unrepaired"),
        Rp.BEYOND_REPAIR: W(
            "Your unit can't be repaired", "We're arranging a replacement for you instead."
        ),
        Rp.CANCELLED: W("This repair was cancelled"),
        Rp.UNROUTABLE: W(
            "We're looking for a repair centre",
            "No repair centre could take your unit straight away. The shop will be in touch.",
        ),
    },
    CaseKind.REPLACEMENT: {
        Rc.REQUESTED: W("We're preparing your replacement"),
        Rc.BACKORDERED: W(
            "Your replacement is on back order",
            "It's out of stock right now. We'll send it as soon as new stock arrives.",
        ),
        Rc.SHIPPED: W("Your replacement is on its way"),
        Rc.DELIVERED: W("Your replacement has been delivered"),
        Rc.AWAITING_CORE: W(
            "Please send back your old unit",
            "Use the return label below so we can release your deposit.",
        ),
        Rc.COMPLETED: W("Your replacement is complete"),
        Rc.PAYMENT_FAILED: W(
            "We couldn't place the deposit",
            "Your payment method was declined, so nothing was sent. "
            "Please contact the shop to try again.",
        ),
        Rc.REFUNDED: W(
            "We've refunded you instead", "No stock arrived in time, so we refunded the price."
        ),
        Rc.CANCELLED: W("This replacement was cancelled"),
    },
    CaseKind.RELOCATION: {
        Rl.SCHEDULING_UNINSTALL: W(
            "We're booking the uninstall visit", "The date and time will show here once booked."
        ),
        Rl.UNINSTALL_SCHEDULED: W("Your uninstall visit is booked"),
        Rl.UNINSTALLED: W(
            "Your equipment has been uninstalled", "It will be collected for transport soon."
        ),
        Rl.IN_TRANSIT: W("Your equipment is on its way to the new site"),
        Rl.DELIVERED: W(
            "Your equipment has arrived at the new site", "We're booking the reinstall visit."
        ),
        Rl.REINSTALL_SCHEDULED: W("Your reinstall visit is booked"),
        Rl.REINSTALLED: W("Your equipment has been reinstalled", "We're running the final checks."),
        Rl.COMPLETED: W("Your relocation is complete"),
        Rl.CANCELLED: W("This relocation was cancelled"),
    },
    CaseKind.INSTALLATION: {
        In.SCHEDULING: W(
            N_("We're booking your installation visit"),
            N_("The date and time will show here once booked."),
        ),
        In.SCHEDULED: W(
            N_("Your installation visit is booked"),
            N_("Please make sure someone is on site to let the technician in."),
        ),
        In.INSTALLED: W(
            N_("Your equipment has been installed"), N_("We're running the final checks.")
        ),
        In.COMPLETED: W(
            N_("Your installation is complete"),
            N_("Your Installation Certificate is below."),
        ),
        In.CANCELLED: W(N_("This installation was cancelled")),
    },
    CaseKind.SERVICE_PLAN: {
        Pl.WAITING_PERIOD: W("Your plan starts soon", "Cover begins when the waiting period ends."),
        Pl.ACTIVE: W("Your plan is active"),
        Pl.PAST_DUE: W(
            "Your last payment didn't go through",
            "We'll try again. Please contact the shop to update your payment method.",
        ),
        Pl.SUSPENDED: W(
            "Your plan is on hold", "Claims are paused until the overdue payment is made."
        ),
        Pl.CANCELLED: W("Your plan was cancelled"),
        Pl.EXPIRED: W("Your plan has ended"),
        Pl.REJECTED: W("We couldn't start your plan", "The first payment was declined."),
    },
}

# A return's middle and end read differently by what it resolves into.
_RMA_RESOLVING: Final[Mapping[str, StatusWords]] = {
    "refund": W("We're preparing your refund"),
    "repair": W("Your item is with our repair team"),
    "replacement": W("We're sending you a replacement"),
}
_RMA_OUTCOMES: Final[Mapping[str, StatusWords]] = {
    "refunded": W("Your refund has been paid"),
    "repaired": W("Your item has been repaired and sent back"),
    "replaced": W("Your replacement has been sent"),
    "returned_unrepaired": W("Your item was sent back unrepaired"),
    "returned_to_customer": W("Your item was sent back to you"),
}


def kind_of(case_type: str) -> CaseKind | None:
    try:
        return CaseKind(case_type)
    except ValueError:
        return None


def case_noun(case_type: str) -> str:
    kind = kind_of(case_type)
    return CASE_NOUNS[kind] if kind else "case"


def status_words(
    case_type: str, status: str, *, resolution: str | None = None, outcome: str | None = None
) -> StatusWords:
    kind = kind_of(case_type)
    if kind is CaseKind.RMA:
        if status == Rm.RESOLVING and resolution and resolution in _RMA_RESOLVING:
            return _RMA_RESOLVING[resolution]
        if status == Rm.COMPLETED and outcome and outcome in _RMA_OUTCOMES:
            return _RMA_OUTCOMES[outcome]
    words = STATUS_WORDS.get(kind, {}) if kind else {}
    return words.get(status) or W(humanise(status))


# ------------------------------------------------------------------ timeline entries

CARRIER_EVENT_TITLES: Final[Mapping[CaseEvent, str]] = {
    CaseEvent.CARRIER_PICKED_UP: "Picked up by the carrier",
    CaseEvent.CARRIER_IN_TRANSIT: "On its way with the carrier",
    CaseEvent.CARRIER_OUT_FOR_DELIVERY: "Out for delivery",
    CaseEvent.CARRIER_DELIVERED: "Delivered by the carrier",
    CaseEvent.CARRIER_EXCEPTION: "The carrier reported a delay",
}

# A payment the customer authenticates with their bank (3-D Secure), in each lifecycle that
# charges or holds money on their card.
_PAYMENT_AUTHENTICATION_TITLES: Final[Mapping[CaseEvent, str]] = {
    CaseEvent.PAYMENT_AUTHENTICATION_REQUIRED: "Your bank asks you to confirm a payment",
    CaseEvent.PAYMENT_AUTHENTICATED: "You confirmed the payment",
    CaseEvent.PAYMENT_AUTHENTICATION_FAILED: "The payment wasn't confirmed",
}

EVENT_TITLES: Final[Mapping[CaseKind, Mapping[CaseEvent, str]]] = {
    CaseKind.RMA: {
        CaseEvent.CREATED: "Return requested",
        CaseEvent.AUTHORIZED: "Return approved",
        CaseEvent.PENDING_REVIEW: "Sent to the shop for review",
        CaseEvent.APPROVED: "Return approved by the shop",
        CaseEvent.REJECTED: "Return not accepted",
        CaseEvent.REVIEW_TIMEOUT: "The review ran out of time",
        CaseEvent.LABEL_CREATED: "Return label ready",
        CaseEvent.RETURN_REMINDER: "Reminder to send your parcel",
        CaseEvent.RECEIVED: "Parcel received",
        CaseEvent.INSPECTED: "Item inspected",
        CaseEvent.AWAITING_REPAIR: "Repair being arranged",
        CaseEvent.AWAITING_REPLACEMENT: "Replacement being arranged",
        CaseEvent.REFUNDED: "Refund paid",
        CaseEvent.REPAIR_STARTED: "Sent for repair",
        CaseEvent.REPAIRED: "Repair complete",
        CaseEvent.RETURNED_UNREPAIRED: "Sent back unrepaired",
        CaseEvent.REPAIR_CANCELLED: "Repair cancelled",
        CaseEvent.REPAIR_UNROUTABLE: "No repair centre could take it",
        CaseEvent.REPAIR_BEYOND_REPAIR: "Found beyond repair",
        CaseEvent.REPLACEMENT_STARTED: "Replacement ordered",
        CaseEvent.REPLACED: "Replacement complete",
        CaseEvent.REPLACEMENT_ENDED: "Replacement stopped",
        # As the page showed it before it had words of its own.
        CaseEvent.REPAIR_ENDED: "Repair ended",
        CaseEvent.SHIPPING_BACK: "On its way back to you",
        CaseEvent.RETURNED_TO_CUSTOMER: "Returned to you",
        CaseEvent.CANCELLED: "Return cancelled",
        CaseEvent.EXPIRED: "Return label expired",
    },
    CaseKind.REPAIR: {
        CaseEvent.CREATED: "Repair requested",
        CaseEvent.UNROUTABLE: "No repair centre could take it",
        CaseEvent.LABEL_CREATED: "Label ready to send your unit",
        CaseEvent.RECEIVED: "Unit received at the repair centre",
        CaseEvent.DIAGNOSING: "Diagnosis started",
        CaseEvent.DIAGNOSED: "Diagnosis complete",
        CaseEvent.QUOTED: "Repair quote ready",
        CaseEvent.COVERED: "Covered: the repair costs you nothing",
        CaseEvent.QUOTE_APPROVED: "You approved the quote",
        CaseEvent.QUOTE_DECLINED: "You declined the quote",
        CaseEvent.QUOTE_EXPIRED: "The quote expired",
        CaseEvent.PARTS_RECEIVED: "Parts arrived: repair started",
        CaseEvent.QUALITY_CHECK: "Quality check started",
        CaseEvent.QA_PASSED: "Quality check passed",
        CaseEvent.QA_FAILED: "Quality check failed: back to the bench",
        CaseEvent.READY_TO_SHIP: "Ready to come back to you",
        CaseEvent.COMPLETED: "Delivered to you",
        CaseEvent.RETURNED_UNREPAIRED: "Delivered to you unrepaired",
        CaseEvent.BEYOND_REPAIR: "Found beyond repair",
        CaseEvent.CANCELLED: "Repair cancelled",
    },
    CaseKind.REPLACEMENT: {
        CaseEvent.CREATED: "Replacement requested",
        CaseEvent.STOCK_RESERVED: "A unit was set aside for you",
        CaseEvent.BACKORDERED: "Out of stock: on back order",
        CaseEvent.DEPOSIT_HELD: "Deposit hold placed",
        CaseEvent.DEPOSIT_HOLD_RENEWED: "Deposit hold renewed",
        CaseEvent.DEPOSIT_RELEASED: "Deposit released",
        CaseEvent.PAYMENT_FAILED: "Deposit hold declined",
        CaseEvent.FULFILMENT_FAILED: "The replacement couldn't be sent",
        CaseEvent.SHIPPED: "Replacement sent",
        CaseEvent.DELIVERED: "Replacement delivered",
        CaseEvent.CORE_LABEL_CREATED: "Return label for your old unit ready",
        CaseEvent.CORE_REMINDER: "Reminder to send back your old unit",
        CaseEvent.CORE_RECEIVED: "Old unit received",
        CaseEvent.CORE_CHARGED: "Old unit not returned: deposit charged",
        CaseEvent.CORE_CHARGE_DECLINED: "Old unit not returned: the deposit charge was declined",
        CaseEvent.COMPLETED: "Replacement complete",
        CaseEvent.REFUNDED: "Refunded",
        CaseEvent.CANCELLED: "Replacement cancelled",
        **_PAYMENT_AUTHENTICATION_TITLES,
    },
    CaseKind.RELOCATION: {
        CaseEvent.CREATED: "Relocation ordered",
        CaseEvent.APPOINTMENT_BOOKED: "{stage} visit booked",
        CaseEvent.RESCHEDULE_REQUESTED: "You asked for another {stage_lower} date",
        CaseEvent.APPOINTMENT_MISSED: "{stage} visit missed",
        CaseEvent.APPOINTMENT_REMINDER: "Reminder of the {stage_lower} visit",
        CaseEvent.UNINSTALLED: "Equipment uninstalled",
        CaseEvent.TRANSPORT_BOOKED: "Transport booked",
        CaseEvent.DELIVERED: "Arrived at the new site",
        CaseEvent.REINSTALLED: "Equipment reinstalled",
        CaseEvent.COMMISSIONING_FAILED: "Final checks need another try",
        CaseEvent.COMMISSIONED: "Final checks passed",
        CaseEvent.CANCELLED: "Relocation cancelled",
    },
    CaseKind.INSTALLATION: {
        CaseEvent.CREATED: N_("Installation ordered"),
        CaseEvent.APPOINTMENT_BOOKED: N_("Installation visit booked"),
        CaseEvent.RESCHEDULE_REQUESTED: N_("You asked for another installation date"),
        CaseEvent.APPOINTMENT_MISSED: N_("Installation visit missed"),
        CaseEvent.APPOINTMENT_REMINDER: N_("Reminder of the installation visit"),
        CaseEvent.INSTALLED: N_("Equipment installed"),
        CaseEvent.COMMISSIONING_FAILED: N_("Final checks need another try"),
        CaseEvent.COMMISSIONED: N_("Final checks passed"),
        CaseEvent.CANCELLED: N_("Installation cancelled"),
    },
    CaseKind.SERVICE_PLAN: {
        CaseEvent.ENROLLED: "Plan purchased",
        CaseEvent.REJECTED: "First payment declined",
        CaseEvent.ACTIVATED: "Cover started",
        CaseEvent.CHARGED: "Payment received",
        CaseEvent.CHARGE_FAILED: "Payment failed",
        CaseEvent.DUNNING_RETRY_FAILED: "Payment retry failed",
        CaseEvent.NEW_PAYMENT_METHOD_FAILED: "New payment method declined",
        CaseEvent.REACTIVATED: "Payment received: plan active again",
        CaseEvent.SUSPENDED: "Plan put on hold",
        CaseEvent.RENEWAL_UPCOMING: "Renewal coming up",
        CaseEvent.RENEWED: "Plan renewed",
        CaseEvent.EXPIRED: "Plan ended",
        CaseEvent.PAYMENT_METHOD_CHANGED: "Payment method updated",
        CaseEvent.TRANSFERRED: "Plan transferred",
        # As the page showed it before it had words of its own.
        CaseEvent.ASSET_RELOCATED: "Asset relocated",
        CaseEvent.CLAIM_REFUSED: "Claim not accepted",
        CaseEvent.CLAIM_APPROVED: "Claim approved",
        CaseEvent.CANCELLED: "Plan cancelled",
        **_PAYMENT_AUTHENTICATION_TITLES,
    },
}

# Bookkeeping that means nothing to the customer (which center, an internal deadline, a
# booking the retailer has to put right with the carrier).
HIDDEN_EVENTS: Final[frozenset[CaseEvent]] = frozenset(
    {
        CaseEvent.ROUTED,
        CaseEvent.SLA_BREACHED,
        CaseEvent.DEPOSIT_HOLD_RENEWAL_FAILED,
        CaseEvent.CARRIER_ERROR,
        CaseEvent.SHIPPING_RETRIED,
        CaseEvent.SHIPPING_ABANDONED,
    }
)


def event_title(case_type: str, event: str, detail: Mapping[str, str]) -> str | None:
    """A timeline entry's title, or None for entries the customer need not see. An event
    this lifecycle has no title for (stored before its copy was written) reads as its code
    in words."""
    known = _case_event(event)
    if known is None:
        return humanise(event)
    if known in HIDDEN_EVENTS:
        return None
    if known in CARRIER_EVENT_TITLES:
        return CARRIER_EVENT_TITLES[known]
    kind = kind_of(case_type)
    title = EVENT_TITLES.get(kind, {}).get(known) if kind else None
    if title is None:
        return humanise(event)
    stage = str(detail.get("stage", "")) or "the"
    return title.format(stage=stage.capitalize(), stage_lower=stage)


def _case_event(event: str) -> CaseEvent | None:
    try:
        return CaseEvent(event)
    except ValueError:
        return None


_REASONS: Final[Mapping[str, str]] = {
    "outside_return_window": "the return window has passed",
    "not_covered": "not covered",
    "duplicate_open_case": "this item already has an open case",
    "rejected_by_retailer": "declined by the shop",
    "not_repairable": "it can't be repaired",
    "backorder_expired": "no stock arrived in time",
    "first_charge_declined": "the first payment was declined",
    "payment_overdue": "a payment is overdue",
    "plan_not_active": "the plan isn't active",
    "waiting_period": "still in the waiting period",
    "claim_limit_reached": "the claim limit for the year is reached",
    "deductible_payment_failed": "the excess payment was declined",
    "core_charge_declined": "the deposit charge for the old unit was declined",
    "authentication_failed": "your bank didn't confirm the payment",
    "authentication_expired": "the payment wasn't confirmed in time",
    "payment_withdrawn": "the payment was no longer needed",
}


def event_note(detail: Mapping[str, str], currency: str, today: date) -> str:
    """A short line of facts for a timeline entry, from its (already public) details."""
    notes: list[str] = []
    if "amount" in detail:
        notes.append(money_words(detail["amount"], detail.get("currency") or currency))
    for key, template in (
        ("ship_by", "Ship by {}"),
        ("expires_at", "Answer by {}"),
        ("core_due", "Send it back by {}"),
        ("preferred_after", "After {}"),
        ("term_ends_at", "Term ends {}"),
    ):
        moment = parse_moment(detail.get(key))
        if moment is not None:
            notes.append(template.format(human_date(moment, today)))
    starts = parse_moment(detail.get("starts_at"))
    if starts is not None:
        notes.append(human_datetime(starts, today))
    if detail.get("findings"):
        notes.append(detail["findings"])
    if detail.get("checklist"):
        notes.append(f"Checklist: {detail['checklist']}")
    if detail.get("reason") in _REASONS:
        notes.append(_REASONS[detail["reason"]].capitalize())
    if detail.get("tracking_number"):
        notes.append(f"Tracking number {detail['tracking_number']}")
    return " · ".join(notes)


_DOCUMENTS: Final[Mapping[str, str]] = {
    "return_label": "Return label",
    "shipping_label": "Shipping label",
    "packing_slip": "Packing slip",
    "repair_certificate": "Certificate of Repair",
    "coverage_certificate": "Certificate of Coverage",
    "relocation_certificate": "Relocation & Installation Certificate",
    "installation_certificate": N_("Installation Certificate"),
}


def document_words(kind: str) -> str:
    return _DOCUMENTS.get(kind) or humanise(kind)


# What a refused action from the page means, by the API's problem code.
REFUSALS: Final[Mapping[str, str]] = {
    "invalid_transition": "That can't be done any more: the case has moved on. "
    "The page below shows where it stands now.",
    "reschedule_limit_reached": "This visit has already been moved as many times as allowed. "
    "Please contact the shop if you need another change.",
    "decision_pending": "We've passed your answer on, but it isn't confirmed yet. "
    "Please reload this page in a moment.",
    "temporal_unavailable": "We can't take your answer right now. "
    "Please try again in a few minutes.",
    "case_not_finished": "You can rate us once your case is closed. We'll ask you then.",
    "feedback_already_given": "Thank you: you have already rated this case.",
}
_QUOTE_GONE: Final = (
    "This quote can't be answered any more: it has expired or was already answered. "
    "The page below shows where your repair stands now."
)


def refusal_words(code: str, action: str) -> str:
    if action == "quote" and code == "invalid_transition":
        return _QUOTE_GONE
    return REFUSALS.get(code, "We couldn't do that just now. Please try again later.")
