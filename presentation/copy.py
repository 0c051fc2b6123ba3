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
from presentation.i18n import ENGLISH, N_, Translator

CASE_NOUNS: Final[Mapping[CaseKind, str]] = {
    CaseKind.RMA: N_("return"),
    CaseKind.REPAIR: N_("repair"),
    CaseKind.REPLACEMENT: N_("replacement"),
    CaseKind.RELOCATION: N_("relocation"),
    CaseKind.SERVICE_PLAN: N_("protection plan"),
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
            N_("We're reviewing your return request"),
            N_("The shop is checking your request. This page changes once it is approved."),
        ),
        Rm.AWAITING_RETURN: W(
            N_("We're waiting for your parcel"),
            N_("Print the return label, stick it on the parcel and hand it to the carrier."),
        ),
        Rm.IN_TRANSIT: W(
            N_("Your parcel is on its way to us"), N_("The carrier has it. Nothing to do for now.")
        ),
        Rm.RECEIVED: W(N_("We've received your parcel"), N_("We'll inspect your item shortly.")),
        Rm.RESOLVING: W(
            N_("We're sorting out your return"),
            N_("We've inspected your item and are arranging the rest."),
        ),
        Rm.COMPLETED: W(N_("Your return is complete")),
        Rm.REJECTED: W(
            N_("We couldn't accept this return"),
            N_("Please contact the shop if you have questions."),
        ),
        Rm.CANCELLED: W(N_("This return was cancelled")),
        Rm.EXPIRED: W(
            N_("This return has expired"),
            N_(
                "The parcel wasn't sent in time, so the label no longer works. "
                "Please contact the shop if you still need help."
            ),
        ),
    },
    CaseKind.REPAIR: {
        Rp.AWAITING_UNIT: W(
            N_("We're waiting for your unit"),
            N_("Send your unit to the repair centre with the label below."),
        ),
        Rp.RECEIVED: W(
            N_("The repair centre has your unit"), N_("A technician will look at it soon.")
        ),
        Rp.DIAGNOSING: W(N_("A technician is finding the fault")),
        Rp.AWAITING_APPROVAL: W(
            N_("Your repair quote is ready"),
            N_(
                "Approve it to go ahead with the repair, or decline it to get your unit back "
                "unrepaired."
            ),
        ),
        Rp.AWAITING_PARTS: W(
            N_("We're waiting for parts"), N_("The parts for your repair are on order.")
        ),
        Rp.REPAIRING: W(N_("Your unit is being repaired")),
        Rp.QUALITY_CHECK: W(
            N_("Your repair is being checked"),
            N_("Every repaired unit is tested before it comes back."),
        ),
        Rp.READY_TO_SHIP: W(
            N_("Your unit is ready to come back"), N_("It will be handed to the carrier shortly.")
        ),
        Rp.SHIPPED: W(N_("Your unit is on its way back to you")),
        Rp.COMPLETED: W(N_("Your repaired unit has been delivered")),
        Rp.RETURNED_UNREPAIRED: W(N_("Your unit was returned unrepaired")),
        Rp.BEYOND_REPAIR: W(
            N_("Your unit can't be repaired"), N_("We're arranging a replacement for you instead.")
        ),
        Rp.CANCELLED: W(N_("This repair was cancelled")),
        Rp.UNROUTABLE: W(
            N_("We're looking for a repair centre"),
            N_("No repair centre could take your unit straight away. The shop will be in touch."),
        ),
    },
    CaseKind.REPLACEMENT: {
        Rc.REQUESTED: W(N_("We're preparing your replacement")),
        Rc.BACKORDERED: W(
            N_("Your replacement is on back order"),
            N_("It's out of stock right now. We'll send it as soon as new stock arrives."),
        ),
        Rc.SHIPPED: W(N_("Your replacement is on its way")),
        Rc.DELIVERED: W(N_("Your replacement has been delivered")),
        Rc.AWAITING_CORE: W(
            N_("Please send back your old unit"),
            N_("Use the return label below so we can release your deposit."),
        ),
        Rc.COMPLETED: W(N_("Your replacement is complete")),
        Rc.PAYMENT_FAILED: W(
            N_("We couldn't place the deposit"),
            N_(
                "Your payment method was declined, so nothing was sent. "
                "Please contact the shop to try again."
            ),
        ),
        Rc.REFUNDED: W(
            N_("We've refunded you instead"),
            N_("No stock arrived in time, so we refunded the price."),
        ),
        Rc.CANCELLED: W(N_("This replacement was cancelled")),
    },
    CaseKind.RELOCATION: {
        Rl.SCHEDULING_UNINSTALL: W(
            N_("We're booking the uninstall visit"),
            N_("The date and time will show here once booked."),
        ),
        Rl.UNINSTALL_SCHEDULED: W(N_("Your uninstall visit is booked")),
        Rl.UNINSTALLED: W(
            N_("Your equipment has been uninstalled"),
            N_("It will be collected for transport soon."),
        ),
        Rl.IN_TRANSIT: W(N_("Your equipment is on its way to the new site")),
        Rl.DELIVERED: W(
            N_("Your equipment has arrived at the new site"),
            N_("We're booking the reinstall visit."),
        ),
        Rl.REINSTALL_SCHEDULED: W(N_("Your reinstall visit is booked")),
        Rl.REINSTALLED: W(
            N_("Your equipment has been reinstalled"), N_("We're running the final checks.")
        ),
        Rl.COMPLETED: W(N_("Your relocation is complete")),
        Rl.CANCELLED: W(N_("This relocation was cancelled")),
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
        Pl.WAITING_PERIOD: W(
            N_("Your plan starts soon"), N_("Cover begins when the waiting period ends.")
        ),
        Pl.ACTIVE: W(N_("Your plan is active")),
        Pl.PAST_DUE: W(
            N_("Your last payment didn't go through"),
            N_("We'll try again. Please contact the shop to update your payment method."),
        ),
        Pl.SUSPENDED: W(
            N_("Your plan is on hold"), N_("Claims are paused until the overdue payment is made.")
        ),
        Pl.CANCELLED: W(N_("Your plan was cancelled")),
        Pl.EXPIRED: W(N_("Your plan has ended")),
        Pl.REJECTED: W(N_("We couldn't start your plan"), N_("The first payment was declined.")),
    },
}

# A return's middle and end read differently by what it resolves into.
_RMA_RESOLVING: Final[Mapping[str, StatusWords]] = {
    "refund": W(N_("We're preparing your refund")),
    "repair": W(N_("Your item is with our repair team")),
    "replacement": W(N_("We're sending you a replacement")),
}
_RMA_OUTCOMES: Final[Mapping[str, StatusWords]] = {
    "refunded": W(N_("Your refund has been paid")),
    "repaired": W(N_("Your item has been repaired and sent back")),
    "replaced": W(N_("Your replacement has been sent")),
    "returned_unrepaired": W(N_("Your item was sent back unrepaired")),
    "returned_to_customer": W(N_("Your item was sent back to you")),
}


def kind_of(case_type: str) -> CaseKind | None:
    try:
        return CaseKind(case_type)
    except ValueError:
        return None


# "Your return", "Return": a case's noun in a phrase of its own, as languages whose
# possessives and capitals follow the noun (Ihre Rücksendung, Ihr Umzug) need it.
_YOUR_CASE: Final[Mapping[CaseKind, str]] = {
    CaseKind.RMA: N_("Your return"),
    CaseKind.REPAIR: N_("Your repair"),
    CaseKind.REPLACEMENT: N_("Your replacement"),
    CaseKind.RELOCATION: N_("Your relocation"),
    CaseKind.SERVICE_PLAN: N_("Your protection plan"),
    CaseKind.INSTALLATION: N_("Your installation"),
}
_CASE_TITLES: Final[Mapping[CaseKind, str]] = {
    CaseKind.RMA: N_("Return"),
    CaseKind.REPAIR: N_("Repair"),
    CaseKind.REPLACEMENT: N_("Replacement"),
    CaseKind.RELOCATION: N_("Relocation"),
    CaseKind.SERVICE_PLAN: N_("Protection plan"),
    CaseKind.INSTALLATION: N_("Installation"),
}


def case_noun(case_type: str, t: Translator = ENGLISH) -> str:
    kind = kind_of(case_type)
    return t.gettext(CASE_NOUNS[kind] if kind else N_("case"))


def your_case(case_type: str, t: Translator = ENGLISH) -> str:
    """`Your return`, `Ihre Rücksendung`."""
    kind = kind_of(case_type)
    return t.gettext(_YOUR_CASE[kind] if kind else N_("Your case"))


def case_title(case_type: str, t: Translator = ENGLISH) -> str:
    """`Return`, `Rücksendung`: the noun as a title starts."""
    kind = kind_of(case_type)
    return t.gettext(_CASE_TITLES[kind] if kind else N_("Case"))


def status_words(
    case_type: str,
    status: str,
    *,
    resolution: str | None = None,
    outcome: str | None = None,
    t: Translator = ENGLISH,
) -> StatusWords:
    words = _status_words(case_type, status, resolution, outcome)
    return StatusWords(t.gettext(words.headline), t.gettext(words.explanation))


def _status_words(
    case_type: str, status: str, resolution: str | None, outcome: str | None
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
    CaseEvent.CARRIER_PICKED_UP: N_("Picked up by the carrier"),
    CaseEvent.CARRIER_IN_TRANSIT: N_("On its way with the carrier"),
    CaseEvent.CARRIER_OUT_FOR_DELIVERY: N_("Out for delivery"),
    CaseEvent.CARRIER_DELIVERED: N_("Delivered by the carrier"),
    CaseEvent.CARRIER_EXCEPTION: N_("The carrier reported a delay"),
}

# A payment the customer authenticates with their bank (3-D Secure), in each lifecycle that
# charges or holds money on their card.
_PAYMENT_AUTHENTICATION_TITLES: Final[Mapping[CaseEvent, str]] = {
    CaseEvent.PAYMENT_AUTHENTICATION_REQUIRED: N_("Your bank asks you to confirm a payment"),
    CaseEvent.PAYMENT_AUTHENTICATED: N_("You confirmed the payment"),
    CaseEvent.PAYMENT_AUTHENTICATION_FAILED: N_("The payment wasn't confirmed"),
}

EVENT_TITLES: Final[Mapping[CaseKind, Mapping[CaseEvent, str]]] = {
    CaseKind.RMA: {
        CaseEvent.CREATED: N_("Return requested"),
        CaseEvent.AUTHORIZED: N_("Return approved"),
        CaseEvent.PENDING_REVIEW: N_("Sent to the shop for review"),
        CaseEvent.APPROVED: N_("Return approved by the shop"),
        CaseEvent.REJECTED: N_("Return not accepted"),
        CaseEvent.REVIEW_TIMEOUT: N_("The review ran out of time"),
        CaseEvent.LABEL_CREATED: N_("Return label ready"),
        CaseEvent.RETURN_REMINDER: N_("Reminder to send your parcel"),
        CaseEvent.RECEIVED: N_("Parcel received"),
        CaseEvent.INSPECTED: N_("Item inspected"),
        CaseEvent.AWAITING_REPAIR: N_("Repair being arranged"),
        CaseEvent.AWAITING_REPLACEMENT: N_("Replacement being arranged"),
        CaseEvent.REFUNDED: N_("Refund paid"),
        CaseEvent.REPAIR_STARTED: N_("Sent for repair"),
        CaseEvent.REPAIRED: N_("Repair complete"),
        CaseEvent.RETURNED_UNREPAIRED: N_("Sent back unrepaired"),
        CaseEvent.REPAIR_CANCELLED: N_("Repair cancelled"),
        CaseEvent.REPAIR_UNROUTABLE: N_("No repair centre could take it"),
        CaseEvent.REPAIR_BEYOND_REPAIR: N_("Found beyond repair"),
        CaseEvent.REPLACEMENT_STARTED: N_("Replacement ordered"),
        CaseEvent.REPLACED: N_("Replacement complete"),
        CaseEvent.REPLACEMENT_ENDED: N_("Replacement stopped"),
        # As the page showed it before it had words of its own.
        CaseEvent.REPAIR_ENDED: N_("Repair ended"),
        CaseEvent.SHIPPING_BACK: N_("On its way back to you"),
        CaseEvent.RETURNED_TO_CUSTOMER: N_("Returned to you"),
        CaseEvent.CANCELLED: N_("Return cancelled"),
        CaseEvent.EXPIRED: N_("Return label expired"),
    },
    CaseKind.REPAIR: {
        CaseEvent.CREATED: N_("Repair requested"),
        CaseEvent.UNROUTABLE: N_("No repair centre could take it"),
        CaseEvent.LABEL_CREATED: N_("Label ready to send your unit"),
        CaseEvent.RECEIVED: N_("Unit received at the repair centre"),
        CaseEvent.DIAGNOSING: N_("Diagnosis started"),
        CaseEvent.DIAGNOSED: N_("Diagnosis complete"),
        CaseEvent.QUOTED: N_("Repair quote ready"),
        CaseEvent.COVERED: N_("Covered: the repair costs you nothing"),
        CaseEvent.QUOTE_APPROVED: N_("You approved the quote"),
        CaseEvent.QUOTE_DECLINED: N_("You declined the quote"),
        CaseEvent.QUOTE_EXPIRED: N_("The quote expired"),
        CaseEvent.PARTS_RECEIVED: N_("Parts arrived: repair started"),
        CaseEvent.QUALITY_CHECK: N_("Quality check started"),
        CaseEvent.QA_PASSED: N_("Quality check passed"),
        CaseEvent.QA_FAILED: N_("Quality check failed: back to the bench"),
        CaseEvent.READY_TO_SHIP: N_("Ready to come back to you"),
        CaseEvent.COMPLETED: N_("Delivered to you"),
        CaseEvent.RETURNED_UNREPAIRED: N_("Delivered to you unrepaired"),
        CaseEvent.BEYOND_REPAIR: N_("Found beyond repair"),
        CaseEvent.CANCELLED: N_("Repair cancelled"),
    },
    CaseKind.REPLACEMENT: {
        CaseEvent.CREATED: N_("Replacement requested"),
        CaseEvent.STOCK_RESERVED: N_("A unit was set aside for you"),
        CaseEvent.BACKORDERED: N_("Out of stock: on back order"),
        CaseEvent.DEPOSIT_HELD: N_("Deposit hold placed"),
        CaseEvent.DEPOSIT_HOLD_RENEWED: N_("Deposit hold renewed"),
        CaseEvent.DEPOSIT_RELEASED: N_("Deposit released"),
        CaseEvent.PAYMENT_FAILED: N_("Deposit hold declined"),
        CaseEvent.FULFILMENT_FAILED: N_("The replacement couldn't be sent"),
        CaseEvent.SHIPPED: N_("Replacement sent"),
        CaseEvent.DELIVERED: N_("Replacement delivered"),
        CaseEvent.CORE_LABEL_CREATED: N_("Return label for your old unit ready"),
        CaseEvent.CORE_REMINDER: N_("Reminder to send back your old unit"),
        CaseEvent.CORE_RECEIVED: N_("Old unit received"),
        CaseEvent.CORE_CHARGED: N_("Old unit not returned: deposit charged"),
        CaseEvent.CORE_CHARGE_DECLINED: N_(
            "Old unit not returned: the deposit charge was declined"
        ),
        CaseEvent.COMPLETED: N_("Replacement complete"),
        CaseEvent.REFUNDED: N_("Refunded"),
        CaseEvent.CANCELLED: N_("Replacement cancelled"),
        **_PAYMENT_AUTHENTICATION_TITLES,
    },
    CaseKind.RELOCATION: {
        CaseEvent.CREATED: N_("Relocation ordered"),
        CaseEvent.APPOINTMENT_BOOKED: N_("{stage} visit booked"),
        CaseEvent.RESCHEDULE_REQUESTED: N_("You asked for another {stage_lower} date"),
        CaseEvent.APPOINTMENT_MISSED: N_("{stage} visit missed"),
        CaseEvent.APPOINTMENT_REMINDER: N_("Reminder of the {stage_lower} visit"),
        CaseEvent.UNINSTALLED: N_("Equipment uninstalled"),
        CaseEvent.TRANSPORT_BOOKED: N_("Transport booked"),
        CaseEvent.DELIVERED: N_("Arrived at the new site"),
        CaseEvent.REINSTALLED: N_("Equipment reinstalled"),
        CaseEvent.COMMISSIONING_FAILED: N_("Final checks need another try"),
        CaseEvent.COMMISSIONED: N_("Final checks passed"),
        CaseEvent.CANCELLED: N_("Relocation cancelled"),
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
        CaseEvent.ENROLLED: N_("Plan purchased"),
        CaseEvent.REJECTED: N_("First payment declined"),
        CaseEvent.ACTIVATED: N_("Cover started"),
        CaseEvent.CHARGED: N_("Payment received"),
        CaseEvent.CHARGE_FAILED: N_("Payment failed"),
        CaseEvent.DUNNING_RETRY_FAILED: N_("Payment retry failed"),
        CaseEvent.NEW_PAYMENT_METHOD_FAILED: N_("New payment method declined"),
        CaseEvent.REACTIVATED: N_("Payment received: plan active again"),
        CaseEvent.SUSPENDED: N_("Plan put on hold"),
        CaseEvent.RENEWAL_UPCOMING: N_("Renewal coming up"),
        CaseEvent.RENEWED: N_("Plan renewed"),
        CaseEvent.EXPIRED: N_("Plan ended"),
        CaseEvent.PAYMENT_METHOD_CHANGED: N_("Payment method updated"),
        CaseEvent.TRANSFERRED: N_("Plan transferred"),
        # As the page showed it before it had words of its own.
        CaseEvent.ASSET_RELOCATED: N_("Asset relocated"),
        CaseEvent.CLAIM_REFUSED: N_("Claim not accepted"),
        CaseEvent.CLAIM_APPROVED: N_("Claim approved"),
        CaseEvent.CANCELLED: N_("Plan cancelled"),
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
        # The staff's decision; the customer sees it in the refund, which takes no fee.
        CaseEvent.RESTOCKING_FEE_WAIVED,
    }
)


# A relocation's visits, as the titles name them (`{stage} visit booked`).
_STAGES: Final[Mapping[str, str]] = {
    "uninstall": N_("uninstall"),
    "reinstall": N_("reinstall"),
    "installation": N_("installation"),
}


def stage_words(stage: str, t: Translator = ENGLISH) -> str:
    """`uninstall`, `Abbau`: a visit's stage in the reader's words."""
    return t.gettext(_STAGES[stage]) if stage in _STAGES else stage


def event_title(
    case_type: str, event: str, detail: Mapping[str, str], t: Translator = ENGLISH
) -> str | None:
    """A timeline entry's title, or None for entries the customer need not see. An event
    this lifecycle has no title for (stored before its copy was written) reads as its code
    in words."""
    known = _case_event(event)
    if known is None:
        return humanise(event)
    if known in HIDDEN_EVENTS:
        return None
    if known in CARRIER_EVENT_TITLES:
        return t.gettext(CARRIER_EVENT_TITLES[known])
    kind = kind_of(case_type)
    title = EVENT_TITLES.get(kind, {}).get(known) if kind else None
    if title is None:
        return humanise(event)
    stage = stage_words(str(detail.get("stage", "")), t) or t.gettext(N_("the"))
    return t.gettext(title).format(stage=_capital(stage), stage_lower=stage)


def _capital(text: str) -> str:
    """The first letter up, the rest as written (`str.capitalize` would lower a German
    noun's)."""
    return text[:1].upper() + text[1:]


def _case_event(event: str) -> CaseEvent | None:
    try:
        return CaseEvent(event)
    except ValueError:
        return None


_REASONS: Final[Mapping[str, str]] = {
    "outside_return_window": N_("the return window has passed"),
    "not_covered": N_("not covered"),
    "duplicate_open_case": N_("this item already has an open case"),
    "rejected_by_retailer": N_("declined by the shop"),
    "not_repairable": N_("it can't be repaired"),
    "backorder_expired": N_("no stock arrived in time"),
    "first_charge_declined": N_("the first payment was declined"),
    "payment_overdue": N_("a payment is overdue"),
    "plan_not_active": N_("the plan isn't active"),
    "waiting_period": N_("still in the waiting period"),
    "claim_limit_reached": N_("the claim limit for the year is reached"),
    "deductible_payment_failed": N_("the excess payment was declined"),
    "core_charge_declined": N_("the deposit charge for the old unit was declined"),
    "authentication_failed": N_("your bank didn't confirm the payment"),
    "authentication_expired": N_("the payment wasn't confirmed in time"),
    "payment_withdrawn": N_("the payment was no longer needed"),
}


def event_note(
    detail: Mapping[str, str], currency: str, today: date, t: Translator = ENGLISH
) -> str:
    """A short line of facts for a timeline entry, from its (already public) details."""
    notes: list[str] = []
    if "amount" in detail:
        notes.append(money_words(detail["amount"], detail.get("currency") or currency, t))
    for key, template in (
        ("ship_by", N_("Ship by {date}")),
        ("expires_at", N_("Answer by {date}")),
        ("core_due", N_("Send it back by {date}")),
        ("preferred_after", N_("After {date}")),
        ("term_ends_at", N_("Term ends {date}")),
    ):
        moment = parse_moment(detail.get(key))
        if moment is not None:
            notes.append(t.gettext(template).format(date=human_date(moment, today, t)))
    starts = parse_moment(detail.get("starts_at"))
    if starts is not None:
        notes.append(human_datetime(starts, today, t))
    if detail.get("findings"):
        notes.append(detail["findings"])
    if detail.get("checklist"):
        notes.append(t.gettext(N_("Checklist: {checklist}")).format(checklist=detail["checklist"]))
    if detail.get("reason") in _REASONS:
        notes.append(_capital(t.gettext(_REASONS[detail["reason"]])))
    if detail.get("tracking_number"):
        number = detail["tracking_number"]
        notes.append(t.gettext(N_("Tracking number {number}")).format(number=number))
    return " · ".join(notes)


_DOCUMENTS: Final[Mapping[str, str]] = {
    "return_label": N_("Return label"),
    "shipping_label": N_("Shipping label"),
    "packing_slip": N_("Packing slip"),
    "repair_certificate": N_("Certificate of Repair"),
    "coverage_certificate": N_("Certificate of Coverage"),
    "relocation_certificate": N_("Relocation & Installation Certificate"),
    "installation_certificate": N_("Installation Certificate"),
}


def document_words(kind: str, t: Translator = ENGLISH) -> str:
    return t.gettext(_DOCUMENTS[kind]) if kind in _DOCUMENTS else humanise(kind)


# The button that downloads the label the customer must print now.
_DOWNLOADS: Final[Mapping[str, str]] = {
    "return_label": N_("Download the return label (PDF)"),
    "shipping_label": N_("Download the shipping label (PDF)"),
}


def download_words(kind: str, t: Translator = ENGLISH) -> str:
    if kind in _DOWNLOADS:
        return t.gettext(_DOWNLOADS[kind])
    return t.gettext(N_("Download: {document} (PDF)")).format(document=document_words(kind, t))


# What a refused action from the page means, by the API's problem code.
REFUSALS: Final[Mapping[str, str]] = {
    "invalid_transition": N_(
        "That can't be done any more: the case has moved on. "
        "The page below shows where it stands now."
    ),
    "reschedule_limit_reached": N_(
        "This visit has already been moved as many times as allowed. "
        "Please contact the shop if you need another change."
    ),
    "decision_pending": N_(
        "We've passed your answer on, but it isn't confirmed yet. "
        "Please reload this page in a moment."
    ),
    "temporal_unavailable": N_(
        "We can't take your answer right now. Please try again in a few minutes."
    ),
    "case_not_finished": N_("You can rate us once your case is closed. We'll ask you then."),
    "feedback_already_given": N_("Thank you: you have already rated this case."),
}
_QUOTE_GONE: Final = N_(
    "This quote can't be answered any more: it has expired or was already answered. "
    "The page below shows where your repair stands now."
)


def refusal_words(code: str, action: str, t: Translator = ENGLISH) -> str:
    if action == "quote" and code == "invalid_transition":
        return t.gettext(_QUOTE_GONE)
    return t.gettext(
        REFUSALS.get(code, N_("We couldn't do that just now. Please try again later."))
    )
