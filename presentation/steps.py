"""Where a case stands for its customer: the steps still to come on its lifecycle's usual
path, and the next step with its deadline, derived from the case's typed facts and its
timeline. Pure: values in, words and moments out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from domain.common import CaseKind
from domain.contracts.facts import (
    CaseFacts,
    InstallationFacts,
    PaymentActionFacts,
    RelocationFacts,
    RepairFacts,
    ReplacementFacts,
    ServicePlanFacts,
    parse_moment,
)
from domain.installation import TERMINAL_INSTALLATION_STATUSES
from domain.installation import InstallationStatus as In
from domain.relocation import TERMINAL_RELOCATION_STATUSES
from domain.relocation import RelocationStatus as Rl
from domain.repair import TERMINAL_REPAIR_STATUSES
from domain.repair import RepairStatus as Rp
from domain.replacement import TERMINAL_REPLACEMENT_STATUSES, ReplacementMode
from domain.replacement import ReplacementStatus as Rc
from domain.rma import TERMINAL_STATUSES as TERMINAL_RMA_STATUSES
from domain.rma import RmaStatus as Rm
from domain.service_plan import TERMINAL_PLAN_STATUSES
from domain.service_plan import PlanStatus as Pl
from presentation.copy import kind_of
from presentation.formatting import human_date, human_datetime, money_words
from presentation.i18n import ENGLISH, N_, Translator

# Every lifecycle's states, so a test can prove each one has words and steps.
LIFECYCLE_STATUSES: Final[Mapping[CaseKind, type[StrEnum]]] = {
    CaseKind.RMA: Rm,
    CaseKind.REPAIR: Rp,
    CaseKind.REPLACEMENT: Rc,
    CaseKind.RELOCATION: Rl,
    CaseKind.SERVICE_PLAN: Pl,
    CaseKind.INSTALLATION: In,
}

# ------------------------------------------------------------------ steps to come


@dataclass(frozen=True)
class _Step:
    status: str
    label: str
    # Taken only when the case has this trait (a paid repair, an advance exchange).
    only_if: str | None = None


_PATHS: Final[Mapping[CaseKind, tuple[_Step, ...]]] = {
    CaseKind.RMA: (
        _Step(Rm.PENDING_REVIEW, N_("The shop reviews your request")),
        _Step(Rm.AWAITING_RETURN, N_("You send your parcel with the prepaid label")),
        _Step(Rm.IN_TRANSIT, N_("Your parcel travels to us")),
        _Step(Rm.RECEIVED, N_("We receive your parcel")),
        _Step(Rm.RESOLVING, N_("We inspect your item")),
        _Step(Rm.COMPLETED, N_("We settle your return")),
    ),
    CaseKind.REPAIR: (
        _Step(Rp.AWAITING_UNIT, N_("You send your unit to the repair centre")),
        _Step(Rp.RECEIVED, N_("The repair centre receives your unit")),
        _Step(Rp.DIAGNOSING, N_("A technician finds the fault")),
        _Step(Rp.AWAITING_APPROVAL, N_("You approve the repair quote"), only_if="paid"),
        _Step(Rp.AWAITING_PARTS, N_("The parts arrive"), only_if="parts"),
        _Step(Rp.REPAIRING, N_("Your unit is repaired")),
        _Step(Rp.QUALITY_CHECK, N_("The repair is tested")),
        _Step(Rp.READY_TO_SHIP, N_("Your unit is packed to come back")),
        _Step(Rp.SHIPPED, N_("The carrier brings it back to you")),
        _Step(Rp.COMPLETED, N_("Your repaired unit is delivered")),
    ),
    CaseKind.REPLACEMENT: (
        _Step(Rc.REQUESTED, N_("We prepare your replacement")),
        _Step(Rc.SHIPPED, N_("We send your replacement")),
        _Step(Rc.DELIVERED, N_("Your replacement is delivered")),
        _Step(Rc.AWAITING_CORE, N_("You send back your old unit"), only_if="advance"),
        _Step(Rc.COMPLETED, N_("Your replacement is complete")),
    ),
    CaseKind.RELOCATION: (
        _Step(Rl.SCHEDULING_UNINSTALL, N_("We book the uninstall visit")),
        _Step(Rl.UNINSTALL_SCHEDULED, N_("The technician uninstalls your equipment")),
        _Step(Rl.UNINSTALLED, N_("The equipment is collected")),
        _Step(Rl.IN_TRANSIT, N_("It travels to the new site")),
        _Step(Rl.DELIVERED, N_("We book the reinstall visit")),
        _Step(Rl.REINSTALL_SCHEDULED, N_("The technician reinstalls your equipment")),
        _Step(Rl.REINSTALLED, N_("Final checks at the new site")),
        _Step(Rl.COMPLETED, N_("Your relocation is complete")),
    ),
    CaseKind.INSTALLATION: (
        _Step(In.SCHEDULING, N_("We book the installation visit")),
        _Step(In.SCHEDULED, N_("The technician installs your equipment")),
        _Step(In.INSTALLED, N_("Final checks at your site")),
        _Step(In.COMPLETED, N_("Your installation is complete")),
    ),
    CaseKind.SERVICE_PLAN: (
        _Step(Pl.WAITING_PERIOD, N_("Your waiting period runs")),
        _Step(Pl.ACTIVE, N_("Your cover is active")),
        _Step("term_end", N_("Your term renews or ends")),
    ),
}

# States off the straight path, and the step of it they rejoin after.
_REJOINS_AFTER: Final[Mapping[CaseKind, Mapping[str, str]]] = {
    CaseKind.REPLACEMENT: {Rc.BACKORDERED: Rc.REQUESTED},
    CaseKind.SERVICE_PLAN: {Pl.PAST_DUE: Pl.WAITING_PERIOD, Pl.SUSPENDED: Pl.WAITING_PERIOD},
}

_RMA_ENDINGS: Final[Mapping[str, str]] = {
    "refund": N_("We pay your refund"),
    "repair": N_("Your item is repaired and sent back"),
    "replacement": N_("We send you a replacement"),
}

_TERMINAL: Final[Mapping[CaseKind, frozenset[str]]] = {
    CaseKind.RMA: frozenset(TERMINAL_RMA_STATUSES),
    CaseKind.REPAIR: frozenset(TERMINAL_REPAIR_STATUSES),
    CaseKind.REPLACEMENT: frozenset(TERMINAL_REPLACEMENT_STATUSES),
    CaseKind.RELOCATION: frozenset(TERMINAL_RELOCATION_STATUSES),
    CaseKind.SERVICE_PLAN: frozenset(TERMINAL_PLAN_STATUSES),
    CaseKind.INSTALLATION: frozenset(TERMINAL_INSTALLATION_STATUSES),
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
    t: Translator = ENGLISH,
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
    return [t.gettext(label) for label in labels]


# ------------------------------------------------------------------ next step

# A site visit's step, by its stage.
_VISIT_TITLES: Final[Mapping[str, str]] = {
    "uninstall": N_("Be on site for the uninstall visit"),
    "reinstall": N_("Be on site for the reinstall visit"),
}
_VISIT_DEADLINES: Final[Mapping[str, str]] = {
    "uninstall": N_("Uninstall visit on {when}"),
    "reinstall": N_("Reinstall visit on {when}"),
}
_ASKED_AFTER: Final = N_("You asked for a date after {date}.")


@dataclass(frozen=True)
class TimelineFact:
    """A timeline entry as the page may use it: its details already cut to public ones."""

    at: datetime
    event: str
    detail: Mapping[str, str]


@dataclass(frozen=True)
class TrackedCase:
    """What the page knows of a case: its row's plain values, its lifecycle's facts (None
    for a type no lifecycle knows) and its timeline."""

    case_type: str
    status: str
    facts: CaseFacts | None
    events: Sequence[TimelineFact] = ()
    resolution: str | None = None
    coverage: str | None = None
    currency: str = "USD"
    # A payment waiting for the customer to confirm it with their bank, in any lifecycle.
    payment_action: PaymentActionFacts | None = None


@dataclass(frozen=True)
class NextStep:
    title: str
    deadline: str | None = None  # "Ship by 7 December"
    due: datetime | None = None
    note: str | None = None
    # True when the customer is the one who must act.
    yours: bool = False


def next_step(
    case: TrackedCase,
    now: datetime,
    linked: TrackedCase | None = None,
    t: Translator = ENGLISH,
) -> NextStep | None:
    """What happens next and by when; None once the case is over. A return resolving through
    a repair or replacement (`linked`) takes that case's next step."""
    if is_finished(case.case_type, case.status):
        return None
    if case.case_type == CaseKind.RMA and case.status == Rm.RESOLVING and linked is not None:
        return next_step(linked, now, t=t)
    today = t.local(now).date()
    if case.payment_action is not None:
        return _confirm_payment(case.payment_action, today, t)
    kind = kind_of(case.case_type)
    step = _NEXT_STEPS[kind](case, _Words(today, t)) if kind else None
    if step is None:
        return None
    # The tables' words are marked with N_ and translated here, once.
    return replace(
        step,
        title=t.gettext(step.title),
        note=t.gettext(step.note) if step.note else step.note,
    )


@dataclass(frozen=True)
class _Words:
    """The reader's today, language and clock, for the next steps' words."""

    today: date
    t: Translator

    def date(self, moment: datetime | date) -> str:
        return human_date(moment, self.today, self.t)

    def datetime(self, moment: datetime) -> str:
        return human_datetime(moment, self.today, self.t)

    def __call__(self, message: str, **values: str) -> str:
        """`message` translated, then its `{placeholders}` filled in."""
        return self.t.gettext(message).format(**values)


def _confirm_payment(action: PaymentActionFacts, today: date, t: Translator) -> NextStep:
    """Whatever the case was doing, it waits for this payment: the customer's step first."""
    _ = _Words(today, t)
    return NextStep(
        _(
            N_("Confirm the payment of {amount} with your bank"),
            amount=money_words(action.amount, action.currency, t),
        ),
        deadline=_(N_("Confirm it by {date}"), date=_.date(action.expires_at)),
        due=action.expires_at,
        note=_(
            N_(
                "Your bank asks you to confirm this payment. Until you do, nothing else can "
                "happen; without it the payment counts as declined."
            )
        ),
        yours=True,
    )


def _rma_next(case: TrackedCase, _: _Words) -> NextStep | None:
    if case.status == Rm.AWAITING_RETURN:
        ship_by = _last_moment(case.events, "ship_by")
        if ship_by is None:
            return NextStep(N_("Your return label is being prepared"))
        return NextStep(
            N_("Print the return label and hand your parcel to the carrier"),
            deadline=_(N_("Ship by {date}"), date=_.date(ship_by)),
            due=ship_by,
            yours=True,
        )
    titles = {
        Rm.PENDING_REVIEW: N_("The shop reviews your request"),
        Rm.IN_TRANSIT: N_("The carrier brings your parcel to us"),
        Rm.RECEIVED: N_("We inspect your item"),
        Rm.RESOLVING: _RMA_ENDINGS.get(case.resolution or "", N_("We settle your return")),
    }
    return NextStep(titles[Rm(case.status)]) if case.status in titles else None


def _repair_next(case: TrackedCase, _: _Words) -> NextStep | None:
    if case.status == Rp.AWAITING_APPROVAL:
        quote = case.facts.quote if isinstance(case.facts, RepairFacts) else None
        amount = money_words(quote.total if quote else "", case.currency, _.t)
        expires = quote.expires_at if quote else None
        return NextStep(
            _(N_("Approve or decline the repair quote of {amount}"), amount=amount),
            deadline=_(N_("Approve the quote by {date}"), date=_.date(expires))
            if expires
            else None,
            due=expires,
            note=N_(
                "With no answer by then, the quote is declined and your unit comes back unrepaired."
            ),
            yours=True,
        )
    if case.status == Rp.AWAITING_UNIT:
        return NextStep(N_("Send your unit to the repair centre with the label below"), yours=True)
    titles = {
        Rp.RECEIVED: N_("A technician finds the fault"),
        Rp.DIAGNOSING: N_("You get a quote to approve")
        if case.coverage == "paid"
        else N_("The repair starts"),
        Rp.AWAITING_PARTS: N_("The parts arrive and the repair starts"),
        Rp.REPAIRING: N_("The repair is tested"),
        Rp.QUALITY_CHECK: N_("Your unit is packed to come back"),
        Rp.READY_TO_SHIP: N_("The carrier collects your unit"),
        Rp.SHIPPED: N_("Your unit is delivered to you"),
    }
    return NextStep(titles[Rp(case.status)]) if case.status in titles else None


def _replacement_next(case: TrackedCase, _: _Words) -> NextStep | None:
    if case.status == Rc.AWAITING_CORE:
        due = _last_moment(case.events, "core_due")
        return NextStep(
            N_("Send your old unit back with the return label"),
            deadline=_(N_("Send it back by {date}"), date=_.date(due)) if due else None,
            due=due,
            note=N_("If it doesn't reach us by then, the deposit is charged."),
            yours=True,
        )
    advance = (
        isinstance(case.facts, ReplacementFacts) and case.facts.mode is ReplacementMode.ADVANCE
    )
    titles = {
        Rc.REQUESTED: N_("We send your replacement"),
        Rc.BACKORDERED: N_("We send your replacement as soon as stock arrives"),
        Rc.SHIPPED: N_("Your replacement is delivered"),
        Rc.DELIVERED: N_("We send you a label to return your old unit")
        if advance
        else N_("We close your case"),
    }
    return NextStep(titles[Rc(case.status)]) if case.status in titles else None


def _relocation_next(case: TrackedCase, _: _Words) -> NextStep | None:
    appointment = case.facts.appointment if isinstance(case.facts, RelocationFacts) else None
    if case.status in (Rl.UNINSTALL_SCHEDULED, Rl.REINSTALL_SCHEDULED) and appointment:
        stage, starts = appointment.stage.value, appointment.starts_at
        return NextStep(
            _(_VISIT_TITLES[stage]),
            deadline=_(_VISIT_DEADLINES[stage], when=_.datetime(starts)),
            due=starts,
            yours=True,
        )
    if case.status in (Rl.SCHEDULING_UNINSTALL, Rl.DELIVERED):
        asked = _last_moment(case.events, "preferred_after")
        return NextStep(
            N_("We book the uninstall visit and show the date here")
            if case.status == Rl.SCHEDULING_UNINSTALL
            else N_("We book the reinstall visit and show the date here"),
            note=_(_ASKED_AFTER, date=_.date(asked)) if asked else None,
        )
    titles = {
        Rl.UNINSTALLED: N_("The equipment is collected for transport"),
        Rl.IN_TRANSIT: N_("The equipment arrives at the new site"),
        Rl.REINSTALLED: N_("The final checks are completed"),
    }
    return NextStep(titles[Rl(case.status)]) if case.status in titles else None


def _installation_next(case: TrackedCase, _: _Words) -> NextStep | None:
    facts = case.facts if isinstance(case.facts, InstallationFacts) else InstallationFacts()
    appointment = facts.appointment
    if case.status == In.SCHEDULED and appointment:
        starts = appointment.starts_at
        return NextStep(
            N_("Be on site for the installation visit"),
            deadline=_(N_("Installation visit on {when}"), when=_.datetime(starts)),
            due=starts,
            yours=True,
            note=N_("A training session is part of the visit.") if facts.training else None,
        )
    if case.status == In.SCHEDULING:
        asked = _last_moment(case.events, "preferred_after")
        return NextStep(
            N_("We book the installation visit and show the date here"),
            note=_(_ASKED_AFTER, date=_.date(asked)) if asked else None,
        )
    if case.status == In.INSTALLED:
        return NextStep(N_("The final checks are completed"))
    return None


def _plan_next(case: TrackedCase, _: _Words) -> NextStep | None:
    if case.status in (Pl.PAST_DUE, Pl.SUSPENDED):
        return NextStep(
            N_("Your overdue payment is taken"),
            note=N_("Please contact the shop if your payment method has changed."),
        )
    plan = case.facts if isinstance(case.facts, ServicePlanFacts) else ServicePlanFacts()
    term_ends = plan.term_ends_at
    # Only the renewal notice says whether the term renews; before it, say when it runs to.
    renews = _last_detail(case.events, "auto_renew") or ""
    when = _.date(term_ends) if term_ends else ""
    charge = plan.next_charge_at
    if charge is not None:
        term_line = {
            "true": N_("Your plan renews on {date}."),
            "false": N_("Your plan ends on {date}."),
        }.get(renews, N_("Your current term runs until {date}."))
        return NextStep(
            N_("Your next payment"),
            deadline=_(N_("Next payment on {date}"), date=_.date(charge)),
            due=charge,
            note=_(term_line, date=when) if term_ends else None,
        )
    if term_ends is not None:
        ends = {"true": N_("Renews on {date}"), "false": N_("Ends on {date}")}
        return NextStep(
            N_("The end of your current term"),
            deadline=_(ends.get(renews, N_("Term ends on {date}")), date=when),
            due=term_ends,
        )
    return None


_NEXT_STEPS: Final[Mapping[CaseKind, Callable[[TrackedCase, _Words], NextStep | None]]] = {
    CaseKind.RMA: _rma_next,
    CaseKind.REPAIR: _repair_next,
    CaseKind.REPLACEMENT: _replacement_next,
    CaseKind.RELOCATION: _relocation_next,
    CaseKind.SERVICE_PLAN: _plan_next,
    CaseKind.INSTALLATION: _installation_next,
}


def _last_detail(events: Sequence[TimelineFact], key: str) -> str | None:
    return next((e.detail[key] for e in reversed(events) if e.detail.get(key)), None)


def _last_moment(events: Sequence[TimelineFact], key: str) -> datetime | None:
    return parse_moment(_last_detail(events, key))
