"""The customer's tracking page in plain words: what each status means to a person, the steps
still to come, the next step with its deadline, and dates as people write them.

Pure: plain values in (statuses, the read model's `data` and timeline details as dicts),
strings out. The API renders them; nothing here knows about HTML or the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final

from domain.relocation import TERMINAL_RELOCATION_STATUSES
from domain.relocation import RelocationStatus as Rl
from domain.repair import TERMINAL_REPAIR_STATUSES
from domain.repair import RepairStatus as Rp
from domain.replacement import TERMINAL_REPLACEMENT_STATUSES
from domain.replacement import ReplacementStatus as Rc
from domain.rma import TERMINAL_STATUSES as TERMINAL_RMA_STATUSES
from domain.rma import RmaStatus as Rm
from domain.service_plan import TERMINAL_PLAN_STATUSES
from domain.service_plan import PlanStatus as Pl


class CaseKind(StrEnum):
    RMA = "rma"
    REPAIR = "repair"
    REPLACEMENT = "replacement"
    RELOCATION = "relocation"
    SERVICE_PLAN = "service_plan"


# Every lifecycle's states, so a test can prove each one has words.
LIFECYCLE_STATUSES: Final[Mapping[CaseKind, type[StrEnum]]] = {
    CaseKind.RMA: Rm,
    CaseKind.REPAIR: Rp,
    CaseKind.REPLACEMENT: Rc,
    CaseKind.RELOCATION: Rl,
    CaseKind.SERVICE_PLAN: Pl,
}

CASE_NOUNS: Final[Mapping[CaseKind, str]] = {
    CaseKind.RMA: "return",
    CaseKind.REPAIR: "repair",
    CaseKind.REPLACEMENT: "replacement",
    CaseKind.RELOCATION: "relocation",
    CaseKind.SERVICE_PLAN: "protection plan",
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
    return words.get(status) or W(_humanise(status))


# ------------------------------------------------------------------ steps to come


@dataclass(frozen=True)
class _Step:
    status: str
    label: str
    # Taken only when the case has this trait (a paid repair, an advance exchange).
    only_if: str | None = None


_PATHS: Final[Mapping[CaseKind, tuple[_Step, ...]]] = {
    CaseKind.RMA: (
        _Step(Rm.PENDING_REVIEW, "The shop reviews your request"),
        _Step(Rm.AWAITING_RETURN, "You send your parcel with the prepaid label"),
        _Step(Rm.IN_TRANSIT, "Your parcel travels to us"),
        _Step(Rm.RECEIVED, "We receive your parcel"),
        _Step(Rm.RESOLVING, "We inspect your item"),
        _Step(Rm.COMPLETED, "We settle your return"),
    ),
    CaseKind.REPAIR: (
        _Step(Rp.AWAITING_UNIT, "You send your unit to the repair centre"),
        _Step(Rp.RECEIVED, "The repair centre receives your unit"),
        _Step(Rp.DIAGNOSING, "A technician finds the fault"),
        _Step(Rp.AWAITING_APPROVAL, "You approve the repair quote", only_if="paid"),
        _Step(Rp.AWAITING_PARTS, "The parts arrive", only_if="parts"),
        _Step(Rp.REPAIRING, "Your unit is repaired"),
        _Step(Rp.QUALITY_CHECK, "The repair is tested"),
        _Step(Rp.READY_TO_SHIP, "Your unit is packed to come back"),
        _Step(Rp.SHIPPED, "The carrier brings it back to you"),
        _Step(Rp.COMPLETED, "Your repaired unit is delivered"),
    ),
    CaseKind.REPLACEMENT: (
        _Step(Rc.REQUESTED, "We prepare your replacement"),
        _Step(Rc.SHIPPED, "We send your replacement"),
        _Step(Rc.DELIVERED, "Your replacement is delivered"),
        _Step(Rc.AWAITING_CORE, "You send back your old unit", only_if="advance"),
        _Step(Rc.COMPLETED, "Your replacement is complete"),
    ),
    CaseKind.RELOCATION: (
        _Step(Rl.SCHEDULING_UNINSTALL, "We book the uninstall visit"),
        _Step(Rl.UNINSTALL_SCHEDULED, "The technician uninstalls your equipment"),
        _Step(Rl.UNINSTALLED, "The equipment is collected"),
        _Step(Rl.IN_TRANSIT, "It travels to the new site"),
        _Step(Rl.DELIVERED, "We book the reinstall visit"),
        _Step(Rl.REINSTALL_SCHEDULED, "The technician reinstalls your equipment"),
        _Step(Rl.REINSTALLED, "Final checks at the new site"),
        _Step(Rl.COMPLETED, "Your relocation is complete"),
    ),
    CaseKind.SERVICE_PLAN: (
        _Step(Pl.WAITING_PERIOD, "Your waiting period runs"),
        _Step(Pl.ACTIVE, "Your cover is active"),
        _Step("term_end", "Your term renews or ends"),
    ),
}

# States off the straight path, and the step of it they rejoin after.
_REJOINS_AFTER: Final[Mapping[CaseKind, Mapping[str, str]]] = {
    CaseKind.REPLACEMENT: {Rc.BACKORDERED: Rc.REQUESTED},
    CaseKind.SERVICE_PLAN: {Pl.PAST_DUE: Pl.WAITING_PERIOD, Pl.SUSPENDED: Pl.WAITING_PERIOD},
}

_RMA_ENDINGS: Final[Mapping[str, str]] = {
    "refund": "We pay your refund",
    "repair": "Your item is repaired and sent back",
    "replacement": "We send you a replacement",
}

_TERMINAL: Final[Mapping[CaseKind, frozenset[str]]] = {
    CaseKind.RMA: frozenset(TERMINAL_RMA_STATUSES),
    CaseKind.REPAIR: frozenset(TERMINAL_REPAIR_STATUSES),
    CaseKind.REPLACEMENT: frozenset(TERMINAL_REPLACEMENT_STATUSES),
    CaseKind.RELOCATION: frozenset(TERMINAL_RELOCATION_STATUSES),
    CaseKind.SERVICE_PLAN: frozenset(TERMINAL_PLAN_STATUSES),
}


def is_finished(case_type: str, status: str) -> bool:
    kind = kind_of(case_type)
    return kind is not None and status in _TERMINAL[kind]


def remaining_steps(
    case_type: str,
    status: str,
    *,
    resolution: str | None = None,
    coverage: str | None = None,
    mode: str | None = None,
) -> list[str]:
    """The steps still ahead on the usual path from `status`; none once the case is over."""
    kind = kind_of(case_type)
    if kind is None or is_finished(case_type, status):
        return []
    path = _PATHS[kind]
    anchor = _REJOINS_AFTER.get(kind, {}).get(status, status)
    positions = [i for i, step in enumerate(path) if step.status == anchor]
    if not positions:
        return []
    traits = {t for t, on in (("paid", coverage == "paid"), ("advance", mode == "advance")) if on}
    labels = [
        step.label
        for step in path[positions[0] + 1 :]
        if step.only_if is None or step.only_if in traits
    ]
    if kind is CaseKind.RMA and labels and resolution and resolution in _RMA_ENDINGS:
        labels[-1] = _RMA_ENDINGS[resolution]
    return labels


# ------------------------------------------------------------------ timeline entries

_CARRIER_EVENTS: Final[Mapping[str, str]] = {
    "carrier_picked_up": "Picked up by the carrier",
    "carrier_in_transit": "On its way with the carrier",
    "carrier_out_for_delivery": "Out for delivery",
    "carrier_delivered": "Delivered by the carrier",
    "carrier_exception": "The carrier reported a delay",
}

_EVENTS: Final[Mapping[CaseKind, Mapping[str, str]]] = {
    CaseKind.RMA: {
        "created": "Return requested",
        "authorized": "Return approved",
        "pending_review": "Sent to the shop for review",
        "approved": "Return approved by the shop",
        "rejected": "Return not accepted",
        "review_timeout": "The review ran out of time",
        "label_created": "Return label ready",
        "return_reminder": "Reminder to send your parcel",
        "received": "Parcel received",
        "inspected": "Item inspected",
        "awaiting_repair": "Repair being arranged",
        "awaiting_replacement": "Replacement being arranged",
        "refunded": "Refund paid",
        "repair_started": "Sent for repair",
        "repaired": "Repair complete",
        "returned_unrepaired": "Sent back unrepaired",
        "repair_cancelled": "Repair cancelled",
        "repair_unroutable": "No repair centre could take it",
        "repair_beyond_repair": "Found beyond repair",
        "replacement_started": "Replacement ordered",
        "replaced": "Replacement complete",
        "replacement_ended": "Replacement stopped",
        "shipping_back": "On its way back to you",
        "returned_to_customer": "Returned to you",
        "cancelled": "Return cancelled",
        "expired": "Return label expired",
    },
    CaseKind.REPAIR: {
        "created": "Repair requested",
        "unroutable": "No repair centre could take it",
        "label_created": "Label ready to send your unit",
        "received": "Unit received at the repair centre",
        "diagnosing": "Diagnosis started",
        "diagnosed": "Diagnosis complete",
        "quoted": "Repair quote ready",
        "covered": "Covered: the repair costs you nothing",
        "quote_approved": "You approved the quote",
        "quote_declined": "You declined the quote",
        "quote_expired": "The quote expired",
        "parts_received": "Parts arrived: repair started",
        "quality_check": "Quality check started",
        "qa_passed": "Quality check passed",
        "qa_failed": "Quality check failed: back to the bench",
        "ready_to_ship": "Ready to come back to you",
        "completed": "Delivered to you",
        "returned_unrepaired": "Delivered to you unrepaired",
        "beyond_repair": "Found beyond repair",
        "cancelled": "Repair cancelled",
    },
    CaseKind.REPLACEMENT: {
        "created": "Replacement requested",
        "stock_reserved": "A unit was set aside for you",
        "backordered": "Out of stock: on back order",
        "deposit_held": "Deposit hold placed",
        "deposit_hold_renewed": "Deposit hold renewed",
        "deposit_released": "Deposit released",
        "payment_failed": "Deposit hold declined",
        "fulfilment_failed": "The replacement couldn't be sent",
        "shipped": "Replacement sent",
        "delivered": "Replacement delivered",
        "core_label_created": "Return label for your old unit ready",
        "core_reminder": "Reminder to send back your old unit",
        "core_received": "Old unit received",
        "core_charged": "Old unit not returned: deposit charged",
        "core_charge_declined": "Old unit not returned: the deposit charge was declined",
        "completed": "Replacement complete",
        "refunded": "Refunded",
        "cancelled": "Replacement cancelled",
    },
    CaseKind.RELOCATION: {
        "created": "Relocation ordered",
        "appointment_booked": "{stage} visit booked",
        "reschedule_requested": "You asked for another {stage_lower} date",
        "appointment_missed": "{stage} visit missed",
        "appointment_reminder": "Reminder of the {stage_lower} visit",
        "uninstalled": "Equipment uninstalled",
        "transport_booked": "Transport booked",
        "delivered": "Arrived at the new site",
        "reinstalled": "Equipment reinstalled",
        "commissioning_failed": "Final checks need another try",
        "commissioned": "Final checks passed",
        "cancelled": "Relocation cancelled",
    },
    CaseKind.SERVICE_PLAN: {
        "enrolled": "Plan purchased",
        "rejected": "First payment declined",
        "activated": "Cover started",
        "charged": "Payment received",
        "charge_failed": "Payment failed",
        "dunning_retry_failed": "Payment retry failed",
        "new_payment_method_failed": "New payment method declined",
        "reactivated": "Payment received: plan active again",
        "suspended": "Plan put on hold",
        "renewal_upcoming": "Renewal coming up",
        "renewed": "Plan renewed",
        "expired": "Plan ended",
        "payment_method_changed": "Payment method updated",
        "transferred": "Plan transferred",
        "claim_refused": "Claim not accepted",
        "claim_approved": "Claim approved",
        "cancelled": "Plan cancelled",
    },
}

# Bookkeeping that means nothing to the customer (which center, an internal deadline).
_HIDDEN_EVENTS: Final[frozenset[str]] = frozenset(
    {"routed", "sla_breached", "deposit_hold_renewal_failed"}
)


def event_title(case_type: str, event: str, detail: Mapping[str, str]) -> str | None:
    """A timeline entry's title, or None for entries the customer need not see."""
    if event in _HIDDEN_EVENTS:
        return None
    if event in _CARRIER_EVENTS:
        return _CARRIER_EVENTS[event]
    kind = kind_of(case_type)
    title = _EVENTS.get(kind, {}).get(event) if kind else None
    if title is None:
        return _humanise(event)
    stage = str(detail.get("stage", "")) or "the"
    return title.format(stage=stage.capitalize(), stage_lower=stage)


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


# ------------------------------------------------------------------ next step


@dataclass(frozen=True)
class EventFacts:
    at: datetime
    event: str
    detail: Mapping[str, str]


@dataclass(frozen=True)
class CaseFacts:
    """What the page knows of a case: its row's plain values and its timeline."""

    case_type: str
    status: str
    data: Mapping[str, Any]
    events: Sequence[EventFacts] = ()
    resolution: str | None = None
    coverage: str | None = None
    currency: str = "USD"


@dataclass(frozen=True)
class NextStep:
    title: str
    deadline: str | None = None  # "Ship by 7 December"
    due: datetime | None = None
    note: str | None = None
    # True when the customer is the one who must act.
    yours: bool = False


def next_step(facts: CaseFacts, now: datetime, linked: CaseFacts | None = None) -> NextStep | None:
    """What happens next and by when; None once the case is over. A return resolving through
    a repair or replacement (`linked`) takes that case's next step."""
    if is_finished(facts.case_type, facts.status):
        return None
    if facts.case_type == CaseKind.RMA and facts.status == Rm.RESOLVING and linked is not None:
        return next_step(linked, now)
    today = now.astimezone(UTC).date()
    derive = _NEXT_STEPS.get(facts.case_type)
    return derive(facts, today) if derive else None


def _rma_next(facts: CaseFacts, today: date) -> NextStep | None:
    if facts.status == Rm.AWAITING_RETURN:
        ship_by = _last_moment(facts.events, "ship_by")
        if ship_by is None:
            return NextStep("Your return label is being prepared")
        return NextStep(
            "Print the return label and hand your parcel to the carrier",
            deadline=f"Ship by {human_date(ship_by, today)}",
            due=ship_by,
            yours=True,
        )
    titles = {
        Rm.PENDING_REVIEW: "The shop reviews your request",
        Rm.IN_TRANSIT: "The carrier brings your parcel to us",
        Rm.RECEIVED: "We inspect your item",
        Rm.RESOLVING: _RMA_ENDINGS.get(facts.resolution or "", "We settle your return"),
    }
    return NextStep(titles[Rm(facts.status)]) if facts.status in titles else None


def _repair_next(facts: CaseFacts, today: date) -> NextStep | None:
    if facts.status == Rp.AWAITING_APPROVAL:
        quote = facts.data.get("quote") or {}
        amount = money_words(str(quote.get("total", "")), facts.currency)
        expires = parse_moment(quote.get("expires_at"))
        return NextStep(
            f"Approve or decline the repair quote of {amount}",
            deadline=f"Approve the quote by {human_date(expires, today)}" if expires else None,
            due=expires,
            note="With no answer by then, the quote is declined and your unit comes back "
            "unrepaired.",
            yours=True,
        )
    if facts.status == Rp.AWAITING_UNIT:
        return NextStep("Send your unit to the repair centre with the label below", yours=True)
    titles = {
        Rp.RECEIVED: "A technician finds the fault",
        Rp.DIAGNOSING: "You get a quote to approve"
        if facts.coverage == "paid"
        else "The repair starts",
        Rp.AWAITING_PARTS: "The parts arrive and the repair starts",
        Rp.REPAIRING: "The repair is tested",
        Rp.QUALITY_CHECK: "Your unit is packed to come back",
        Rp.READY_TO_SHIP: "The carrier collects your unit",
        Rp.SHIPPED: "Your unit is delivered to you",
    }
    return NextStep(titles[Rp(facts.status)]) if facts.status in titles else None


def _replacement_next(facts: CaseFacts, today: date) -> NextStep | None:
    if facts.status == Rc.AWAITING_CORE:
        due = _last_moment(facts.events, "core_due")
        return NextStep(
            "Send your old unit back with the return label",
            deadline=f"Send it back by {human_date(due, today)}" if due else None,
            due=due,
            note="If it doesn't reach us by then, the deposit is charged.",
            yours=True,
        )
    titles = {
        Rc.REQUESTED: "We send your replacement",
        Rc.BACKORDERED: "We send your replacement as soon as stock arrives",
        Rc.SHIPPED: "Your replacement is delivered",
        Rc.DELIVERED: "We send you a label to return your old unit"
        if facts.data.get("mode") == "advance"
        else "We close your case",
    }
    return NextStep(titles[Rc(facts.status)]) if facts.status in titles else None


def _relocation_next(facts: CaseFacts, today: date) -> NextStep | None:
    appointment = facts.data.get("appointment") or {}
    starts = parse_moment(appointment.get("starts_at"))
    stage = str(appointment.get("stage", ""))
    if facts.status in (Rl.UNINSTALL_SCHEDULED, Rl.REINSTALL_SCHEDULED) and starts:
        return NextStep(
            f"Be on site for the {stage} visit",
            deadline=f"{stage.capitalize()} visit on {human_datetime(starts, today)}",
            due=starts,
            yours=True,
        )
    if facts.status in (Rl.SCHEDULING_UNINSTALL, Rl.DELIVERED):
        stage = "uninstall" if facts.status == Rl.SCHEDULING_UNINSTALL else "reinstall"
        asked = _last_moment(facts.events, "preferred_after")
        return NextStep(
            f"We book the {stage} visit and show the date here",
            note=f"You asked for a date after {human_date(asked, today)}." if asked else None,
        )
    titles = {
        Rl.UNINSTALLED: "The equipment is collected for transport",
        Rl.IN_TRANSIT: "The equipment arrives at the new site",
        Rl.REINSTALLED: "The final checks are completed",
    }
    return NextStep(titles[Rl(facts.status)]) if facts.status in titles else None


def _plan_next(facts: CaseFacts, today: date) -> NextStep | None:
    if facts.status in (Pl.PAST_DUE, Pl.SUSPENDED):
        return NextStep(
            "Your overdue payment is taken",
            note="Please contact the shop if your payment method has changed.",
        )
    term_ends = parse_moment(facts.data.get("term_ends_at"))
    # Only the renewal notice says whether the term renews; before it, say when it runs to.
    renews = _last_detail(facts.events, "auto_renew") or ""
    when = human_date(term_ends, today) if term_ends else ""
    charge = parse_moment(facts.data.get("next_charge_at"))
    if charge is not None:
        term_line = {
            "true": f"Your plan renews on {when}.",
            "false": f"Your plan ends on {when}.",
        }.get(renews, f"Your current term runs until {when}.")
        return NextStep(
            "Your next payment",
            deadline=f"Next payment on {human_date(charge, today)}",
            due=charge,
            note=term_line if term_ends else None,
        )
    if term_ends is not None:
        return NextStep(
            "The end of your current term",
            deadline={"true": f"Renews on {when}", "false": f"Ends on {when}"}.get(
                renews, f"Term ends on {when}"
            ),
            due=term_ends,
        )
    return None


_NEXT_STEPS: Final = {
    CaseKind.RMA.value: _rma_next,
    CaseKind.REPAIR.value: _repair_next,
    CaseKind.REPLACEMENT.value: _replacement_next,
    CaseKind.RELOCATION.value: _relocation_next,
    CaseKind.SERVICE_PLAN.value: _plan_next,
}


def _last_detail(events: Sequence[EventFacts], key: str) -> str | None:
    return next((e.detail[key] for e in reversed(events) if e.detail.get(key)), None)


def _last_moment(events: Sequence[EventFacts], key: str) -> datetime | None:
    return parse_moment(_last_detail(events, key))


# ------------------------------------------------------------------ documents, refusals

_DOCUMENTS: Final[Mapping[str, str]] = {
    "return_label": "Return label",
    "shipping_label": "Shipping label",
    "packing_slip": "Packing slip",
    "repair_certificate": "Certificate of Repair",
    "coverage_certificate": "Certificate of Coverage",
    "relocation_certificate": "Relocation & Installation Certificate",
}


def document_words(kind: str) -> str:
    return _DOCUMENTS.get(kind) or _humanise(kind)


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
}
_QUOTE_GONE: Final = (
    "This quote can't be answered any more: it has expired or was already answered. "
    "The page below shows where your repair stands now."
)


def refusal_words(code: str, action: str) -> str:
    if action == "quote" and code == "invalid_transition":
        return _QUOTE_GONE
    return REFUSALS.get(code, "We couldn't do that just now. Please try again later.")


# ------------------------------------------------------------------ dates and money

_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def human_date(moment: datetime | date, today: date) -> str:
    """`7 December`, with the year when it is not this year's (dates are shown in UTC)."""
    day = moment.astimezone(UTC).date() if isinstance(moment, datetime) else moment
    text = f"{day.day} {_MONTHS[day.month - 1]}"
    return text if day.year == today.year else f"{text} {day.year}"


def human_datetime(moment: datetime, today: date) -> str:
    """`7 December at 09:30 UTC`: an appointment needs its time as well as its day."""
    utc = moment.astimezone(UTC)
    return f"{human_date(utc, today)} at {utc:%H:%M} UTC"


def parse_moment(value: object) -> datetime | None:
    """An ISO 8601 timestamp from the read model as an aware datetime; None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_SYMBOLS: Final[Mapping[str, str]] = {"USD": "$", "GBP": "£", "EUR": "€"}


def money_words(amount: str, currency: str) -> str:
    """`$90.00`, or `90.00 CHF` for a currency without a well-known symbol."""
    try:
        value = Decimal(amount).quantize(Decimal("0.01"))
    except InvalidOperation:
        return f"{amount} {currency}".strip()
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{value:,}" if symbol else f"{value:,} {currency}"


def _humanise(code: str) -> str:
    return code.replace("_", " ").capitalize()
