"""Each lifecycle's facts in the read model (`cases.data`): one dataclass per lifecycle, whose
`to_data()` is the only writer of that JSON and whose `from_data()` is the only parser.

The workflow builds its facts and hands `to_data()` to the store; the store merges it into
the row (`{**row.data, **written}`), so a key a step leaves out keeps the value the row has.
Readers (case views, the tracking page, emails) parse the row once with `from_data()`.

Parsing is tolerant: rows written before a key existed parse to that field's default, and a
nested object that cannot be read (a missing or malformed timestamp) parses as absent, so an
old row still renders. Amounts whose facts know their currency (a repair's quote and parts,
a replacement's deposit hold, a payment action's) are written with its minor units
(`money_text`: JPY 2468, USD 12.50, KWD 0.831); the others with two decimals. Moments are
written as ISO 8601.

`customer_first_name` is written when a case is recorded and by a customer change, never by
a projection: a projection's facts leave it empty, and empty is not written, so a projection
never overwrites the name the row has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

from domain.appointments import ChecklistItem, Visit
from domain.common import Address, CaseKind
from domain.money import money_text
from domain.relocation import Appointment, Stage
from domain.repair import AssignedCenter, Diagnosis, Part, PendingQuote, RepairStart, SlaClock
from domain.replacement import ReplacementMode
from domain.service_plan import ClaimRecord, ClaimType, PlanState, PlanView, ServicePlanStart

CUSTOMER_FIRST_NAME = "customer_first_name"

# What amounts were written in before a row said its currency: two decimals, as USD's.
_HUNDREDTHS = "USD"

_E = TypeVar("_E", bound=StrEnum)


# ------------------------------------------------------------------ RMA


@dataclass(frozen=True)
class RmaFacts:
    """A return keeps its decisions in typed columns (coverage, reason, outcome, refund); its
    `data` holds only what the page needs beside them."""

    purchased_at: datetime | None = None
    customer_first_name: str = ""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.purchased_at is not None:
            data["purchased_at"] = self.purchased_at.isoformat()
        return _with_name(data, self.customer_first_name, first=False)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RmaFacts:
        return cls(
            purchased_at=parse_moment(data.get("purchased_at")),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
        )


# ------------------------------------------------------------------ repair


@dataclass(frozen=True)
class RepairUnit:
    sku: str = ""
    serial: str = ""
    product_name: str = ""
    category: str = ""

    def to_data(self) -> dict[str, str]:
        return {
            "sku": self.sku,
            "serial": self.serial,
            "product_name": self.product_name,
            "category": self.category,
        }


@dataclass(frozen=True)
class QuoteFacts:
    parts_total: Decimal
    labor_total: Decimal
    total: Decimal
    expires_at: datetime
    # "approved", "declined" or "expired" once answered.
    outcome: str | None = None

    def to_data(self, currency: str) -> dict[str, Any]:
        """Written in `currency`'s minor units (the repair's: `RepairFacts.currency`)."""
        return {
            "parts_total": money_text(self.parts_total, currency),
            "labor_total": money_text(self.labor_total, currency),
            "total": money_text(self.total, currency),
            "expires_at": self.expires_at.isoformat(),
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class DiagnosisFacts:
    fault_code: str
    findings: str
    labor_minutes: int
    repairable: bool
    parts: tuple[Part, ...] = ()

    def to_data(self, currency: str) -> dict[str, Any]:
        """Written with part prices in `currency`'s minor units (the repair's; the API
        writes a case's diagnosis in the case's currency)."""
        return {
            "fault_code": self.fault_code,
            "findings": self.findings,
            "labor_minutes": self.labor_minutes,
            "repairable": self.repairable,
            "parts": [
                {
                    "part_no": p.part_no,
                    "description": p.description,
                    "quantity": p.quantity,
                    "unit_price": money_text(p.unit_price, currency),
                }
                for p in self.parts
            ],
        }


@dataclass(frozen=True)
class SlaFacts:
    """The turnaround clock's inputs: the API computes `sla_due_at` from these."""

    received_at: datetime | None = None
    turnaround_seconds: float = 0.0
    # Periods the clock stood still (waiting on the customer): start, end (None while open).
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    ready_at: datetime | None = None
    breached: bool = False

    def to_data(self) -> dict[str, Any]:
        return {
            "received_at": _iso(self.received_at),
            "turnaround_seconds": self.turnaround_seconds,
            "pauses": [[start.isoformat(), _iso(end)] for start, end in self.pauses],
            "ready_at": _iso(self.ready_at),
            "breached": self.breached,
        }


@dataclass(frozen=True)
class RepairFacts:
    unit: RepairUnit = field(default_factory=RepairUnit)
    fault: str = ""
    assigned_center: str | None = None
    quote: QuoteFacts | None = None
    diagnosis: DiagnosisFacts | None = None
    qa_failures: int = 0
    sla: SlaFacts = field(default_factory=SlaFacts)
    customer_first_name: str = ""
    # The currency of the quote and the part prices (the case's, its retailer's policy's);
    # None on a row written before it was, whose amounts have two decimals whatever the
    # currency: read and written again so (`money_currency`), the row stays as it was.
    currency: str | None = None

    @property
    def money_currency(self) -> str:
        """The currency whose minor units the amounts are written in."""
        return self.currency or _HUNDREDTHS

    def to_data(self) -> dict[str, Any]:
        money = self.money_currency
        data: dict[str, Any] = {
            "unit": self.unit.to_data(),
            "fault": self.fault,
            "assigned_center": self.assigned_center,
            "quote": None if self.quote is None else self.quote.to_data(money),
            "diagnosis": None if self.diagnosis is None else self.diagnosis.to_data(money),
            "qa_failures": self.qa_failures,
            "sla": self.sla.to_data(),
        }
        if self.currency is not None:
            data["currency"] = self.currency
        return _with_name(data, self.customer_first_name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RepairFacts:
        unit = _mapping(data.get("unit"))
        sla = _mapping(data.get("sla"))
        return cls(
            unit=RepairUnit(
                sku=_str(unit.get("sku")),
                serial=_str(unit.get("serial")),
                product_name=_str(unit.get("product_name")),
                category=_str(unit.get("category")),
            ),
            fault=_str(data.get("fault")),
            assigned_center=_optional_str(data.get("assigned_center")),
            quote=_quote(data.get("quote")),
            diagnosis=_diagnosis(data.get("diagnosis")),
            qa_failures=_int(data.get("qa_failures")),
            sla=SlaFacts(
                received_at=parse_moment(sla.get("received_at")),
                turnaround_seconds=_float(sla.get("turnaround_seconds")),
                pauses=_pauses(sla.get("pauses")),
                ready_at=parse_moment(sla.get("ready_at")),
                breached=bool(sla.get("breached", False)),
            ),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
            currency=_optional_str(data.get("currency")) or None,
        )


def _quote(value: object) -> QuoteFacts | None:
    quote = _mapping(value)
    expires_at = parse_moment(quote.get("expires_at"))
    if expires_at is None:
        return None
    return QuoteFacts(
        parts_total=_decimal(quote.get("parts_total")),
        labor_total=_decimal(quote.get("labor_total")),
        total=_decimal(quote.get("total")),
        expires_at=expires_at,
        outcome=_optional_str(quote.get("outcome")),
    )


def _diagnosis(value: object) -> DiagnosisFacts | None:
    diagnosis = _mapping(value)
    if not diagnosis:
        return None
    return DiagnosisFacts(
        fault_code=_str(diagnosis.get("fault_code")),
        findings=_str(diagnosis.get("findings")),
        labor_minutes=_int(diagnosis.get("labor_minutes")),
        repairable=bool(diagnosis.get("repairable", True)),
        parts=tuple(
            Part(
                part_no=_str(p.get("part_no")),
                description=_str(p.get("description")),
                quantity=_int(p.get("quantity")),
                unit_price=_decimal(p.get("unit_price")),
            )
            for p in map(_mapping, _list(diagnosis.get("parts")))
        ),
    )


def _pauses(value: object) -> tuple[tuple[datetime, datetime | None], ...]:
    pauses: list[tuple[datetime, datetime | None]] = []
    for pause in _list(value):
        if not isinstance(pause, Sequence) or isinstance(pause, str) or len(pause) != 2:
            continue
        start = parse_moment(pause[0])
        if start is not None:
            pauses.append((start, parse_moment(pause[1])))
    return tuple(pauses)


def repair_facts(
    start: RepairStart,
    *,
    center: AssignedCenter | None,
    diagnosis: Diagnosis | None,
    quote: PendingQuote | None,
    qa_failures: int,
    sla: SlaClock,
    customer_first_name: str = "",
) -> RepairFacts:
    """A repair job's facts as its workflow holds them (the one writer's builder), in the
    currency of its retailer's policy."""
    unit, d = start.unit, diagnosis
    return RepairFacts(
        unit=RepairUnit(unit.sku, unit.serial, unit.product_name, unit.category),
        fault=start.fault,
        assigned_center=center.org_id if center else None,
        quote=None
        if quote is None
        else QuoteFacts(
            quote.quote.parts_total,
            quote.quote.labor_total,
            quote.quote.total,
            quote.expires_at,
            quote.outcome,
        ),
        diagnosis=None
        if d is None
        else DiagnosisFacts(
            d.fault_code, d.findings, d.labor_minutes, d.repairable, tuple(d.parts)
        ),
        qa_failures=qa_failures,
        sla=SlaFacts(
            received_at=sla.received_at,
            turnaround_seconds=sla.turnaround.total_seconds(),
            pauses=tuple(sla.pauses),
            ready_at=sla.ready_at,
            breached=sla.breached,
        ),
        customer_first_name=customer_first_name,
        currency=start.policy.currency,
    )


# ------------------------------------------------------------------ replacement


@dataclass(frozen=True)
class HoldFacts:
    """The deposit hold of an advance exchange."""

    amount: Decimal
    # "held", then "released" or "captured".
    status: str
    placed_at: datetime
    renewals: int = 0

    def to_data(self, currency: str) -> dict[str, Any]:
        """Written in `currency`'s minor units (the replacement's, `ReplacementFacts`)."""
        return {
            "amount": money_text(self.amount, currency),
            "status": self.status,
            "placed_at": self.placed_at.isoformat(),
            "renewals": self.renewals,
        }


@dataclass(frozen=True)
class ReplacementFacts:
    # None on a row written before the mode was (the case's `resolution` column has it).
    mode: ReplacementMode | None = None
    replacement_sku: str = ""
    core_charged: bool = False
    hold: HoldFacts | None = None
    customer_first_name: str = ""
    # The currency of the hold (the case's, its retailer's policy's); None on a row written
    # before it was, whose hold has two decimals whatever the currency: read and written
    # again so (`money_currency`), the row stays as it was.
    currency: str | None = None

    @property
    def money_currency(self) -> str:
        """The currency whose minor units the hold's amount is written in."""
        return self.currency or _HUNDREDTHS

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": None if self.mode is None else self.mode.value,
            "replacement_sku": self.replacement_sku,
            "core_charged": self.core_charged,
            "hold": None if self.hold is None else self.hold.to_data(self.money_currency),
        }
        if self.currency is not None:
            data["currency"] = self.currency
        return _with_name(data, self.customer_first_name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ReplacementFacts:
        return cls(
            mode=_enum(ReplacementMode, data.get("mode")),
            replacement_sku=_str(data.get("replacement_sku")),
            core_charged=bool(data.get("core_charged", False)),
            hold=_hold(data.get("hold")),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
            currency=_optional_str(data.get("currency")) or None,
        )


def _hold(value: object) -> HoldFacts | None:
    hold = _mapping(value)
    placed_at = parse_moment(hold.get("placed_at"))
    if placed_at is None:
        return None
    return HoldFacts(
        amount=_decimal(hold.get("amount")),
        status=_str(hold.get("status")),
        placed_at=placed_at,
        renewals=_int(hold.get("renewals")),
    )


# ------------------------------------------------------------------ relocation


@dataclass(frozen=True)
class RelocatedAsset:
    sku: str = ""
    serial: str = ""
    product_name: str = ""

    def to_data(self) -> dict[str, str]:
        return {"sku": self.sku, "serial": self.serial, "product_name": self.product_name}


@dataclass(frozen=True)
class RelocationFacts:
    asset_id: str = ""
    asset: RelocatedAsset = field(default_factory=RelocatedAsset)
    provider_org_id: str = ""
    from_site: Address | None = None
    to_site: Address | None = None
    appointment: Appointment | None = None
    reschedules_used: int = 0
    max_reschedules: int = 0
    # By stage ("uninstall", "reinstall", "commissioning"), in the order they were reported.
    checklists: Mapping[str, tuple[ChecklistItem, ...]] = field(default_factory=dict)
    customer_first_name: str = ""

    @property
    def reschedules_left(self) -> int:
        return self.max_reschedules - self.reschedules_used

    def to_data(self) -> dict[str, Any]:
        appointment = self.appointment
        data: dict[str, Any] = {
            "asset_id": self.asset_id,
            "asset": self.asset.to_data(),
            "provider_org_id": self.provider_org_id,
            "from_site": site_data(self.from_site),
            "to_site": site_data(self.to_site),
            "appointment": None if appointment is None else appointment_data(appointment),
            "reschedules_used": self.reschedules_used,
            "max_reschedules": self.max_reschedules,
            "checklists": checklists_data(self.checklists),
        }
        return _with_name(data, self.customer_first_name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RelocationFacts:
        asset = _mapping(data.get("asset"))
        return cls(
            asset_id=_str(data.get("asset_id")),
            asset=RelocatedAsset(
                sku=_str(asset.get("sku")),
                serial=_str(asset.get("serial")),
                product_name=_str(asset.get("product_name")),
            ),
            provider_org_id=_str(data.get("provider_org_id")),
            from_site=parse_address(data.get("from_site")),
            to_site=parse_address(data.get("to_site")),
            appointment=_appointment(data.get("appointment")),
            reschedules_used=_int(data.get("reschedules_used")),
            max_reschedules=_int(data.get("max_reschedules")),
            checklists=parse_checklists(data.get("checklists")),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
        )


def _appointment(value: object) -> Appointment | None:
    appointment = _mapping(value)
    stage = _enum(Stage, appointment.get("stage"))
    starts_at = parse_moment(appointment.get("starts_at"))
    if stage is None or starts_at is None:
        return None
    return Appointment(
        stage=stage, starts_at=starts_at, technician=_str(appointment.get("technician"))
    )


def appointment_data(appointment: Appointment) -> dict[str, str]:
    return {
        "stage": appointment.stage.value,
        "starts_at": appointment.starts_at.isoformat(),
        "technician": appointment.technician,
    }


def checklists_data(
    checklists: Mapping[str, Sequence[ChecklistItem]],
) -> dict[str, list[dict[str, Any]]]:
    return {
        stage: [{"item": c.item, "passed": c.passed, "note": c.note} for c in items]
        for stage, items in checklists.items()
    }


def site_data(address: Address | None) -> dict[str, str]:
    return {} if address is None else address.to_json()


def parse_checklists(value: object) -> dict[str, tuple[ChecklistItem, ...]]:
    """Checklists by step as `checklists_data` writes them."""
    return {
        str(step): tuple(
            ChecklistItem(
                item=_str(c.get("item")),
                passed=bool(c.get("passed", False)),
                note=_str(c.get("note")),
            )
            for c in map(_mapping, _list(items))
        )
        for step, items in _mapping(value).items()
    }


# ------------------------------------------------------------------ installation


@dataclass(frozen=True)
class InstallationFacts:
    asset: RelocatedAsset = field(default_factory=RelocatedAsset)
    provider_org_id: str = ""
    site: Address | None = None
    # Whether the retailer asked for a training session, and (once commissioned) whether it
    # was given; None: not said yet.
    training: bool = False
    training_given: bool | None = None
    appointment: Visit | None = None
    reschedules_used: int = 0
    max_reschedules: int = 0
    # By step ("installation", "commissioning").
    checklists: Mapping[str, tuple[ChecklistItem, ...]] = field(default_factory=dict)
    # The asset made (or found) at the site once commissioned; empty until then.
    asset_id: str = ""
    customer_first_name: str = ""

    @property
    def reschedules_left(self) -> int:
        return self.max_reschedules - self.reschedules_used

    def to_data(self) -> dict[str, Any]:
        appointment = self.appointment
        data: dict[str, Any] = {
            "asset": self.asset.to_data(),
            "provider_org_id": self.provider_org_id,
            "site": site_data(self.site),
            "training": self.training,
            "training_given": self.training_given,
            "appointment": None if appointment is None else visit_data(appointment),
            "reschedules_used": self.reschedules_used,
            "max_reschedules": self.max_reschedules,
            "checklists": checklists_data(self.checklists),
            "asset_id": self.asset_id,
        }
        return _with_name(data, self.customer_first_name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> InstallationFacts:
        asset = _mapping(data.get("asset"))
        given = data.get("training_given")
        return cls(
            asset=RelocatedAsset(
                sku=_str(asset.get("sku")),
                serial=_str(asset.get("serial")),
                product_name=_str(asset.get("product_name")),
            ),
            provider_org_id=_str(data.get("provider_org_id")),
            site=parse_address(data.get("site")),
            training=bool(data.get("training", False)),
            training_given=given if isinstance(given, bool) else None,
            appointment=_visit(data.get("appointment")),
            reschedules_used=_int(data.get("reschedules_used")),
            max_reschedules=_int(data.get("max_reschedules")),
            checklists=parse_checklists(data.get("checklists")),
            asset_id=_str(data.get("asset_id")),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
        )


def visit_data(visit: Visit) -> dict[str, str]:
    return {"starts_at": visit.starts_at.isoformat(), "technician": visit.technician}


def _visit(value: object) -> Visit | None:
    visit = _mapping(value)
    starts_at = parse_moment(visit.get("starts_at"))
    if starts_at is None:
        return None
    return Visit(starts_at=starts_at, technician=_str(visit.get("technician")))


# ------------------------------------------------------------------ service plan


@dataclass(frozen=True)
class ServicePlanFacts:
    plan_code: str = ""
    plan_name: str = ""
    serial: str = ""
    sku: str = ""
    term_number: int = 1
    term_starts_at: datetime | None = None
    term_ends_at: datetime | None = None
    next_charge_at: datetime | None = None
    claims_used: int = 0
    claims: tuple[ClaimRecord, ...] = ()
    owner: str = ""
    # Where the covered unit is installed; written once known (a relocation moves it).
    unit_site: Address | None = None
    customer_first_name: str = ""

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "plan_code": self.plan_code,
            "plan_name": self.plan_name,
            "serial": self.serial,
            "sku": self.sku,
            "term_number": self.term_number,
            "term_starts_at": _iso(self.term_starts_at),
            "term_ends_at": _iso(self.term_ends_at),
            "next_charge_at": _iso(self.next_charge_at),
            "claims_used": self.claims_used,
            "claims": [claim_data(c) for c in self.claims],
            "owner": self.owner,
        }
        if self.unit_site is not None:
            data["unit_site"] = self.unit_site.to_json()
        return _with_name(data, self.customer_first_name)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ServicePlanFacts:
        return cls(
            plan_code=_str(data.get("plan_code")),
            plan_name=_str(data.get("plan_name")),
            serial=_str(data.get("serial")),
            sku=_str(data.get("sku")),
            term_number=_int(data.get("term_number"), default=1),
            term_starts_at=parse_moment(data.get("term_starts_at")),
            term_ends_at=parse_moment(data.get("term_ends_at")),
            next_charge_at=parse_moment(data.get("next_charge_at")),
            claims_used=_int(data.get("claims_used")),
            claims=tuple(
                claim for claim in map(_claim, _list(data.get("claims"))) if claim is not None
            ),
            owner=_str(data.get("owner")),
            unit_site=parse_address(data.get("unit_site")),
            customer_first_name=_str(data.get(CUSTOMER_FIRST_NAME)),
        )


def service_plan_facts(
    start: ServicePlanStart, state: PlanState, view: PlanView
) -> ServicePlanFacts:
    """A plan's facts as its workflow holds them (the one writer's builder)."""
    return ServicePlanFacts(
        plan_code=state.terms.code,
        plan_name=state.terms.name,
        serial=start.serial,
        sku=start.sku,
        term_number=state.term_number,
        term_starts_at=state.term_start,
        term_ends_at=view.term_ends_at,
        next_charge_at=view.next_charge_at,
        claims_used=view.claims_used,
        claims=tuple(state.claims),
        owner=state.customer.name,
        unit_site=state.unit_site,
    )


def claim_data(claim: ClaimRecord) -> dict[str, Any]:
    return {
        "number": claim.number,
        "at": claim.at.isoformat(),
        "type": claim.type.value,
        "incident": claim.incident,
        "decision": claim.decision,
        "reason": claim.reason,
        "case_id": claim.case_id,
    }


def _claim(value: object) -> ClaimRecord | None:
    claim = _mapping(value)
    at = parse_moment(claim.get("at"))
    type_ = _enum(ClaimType, claim.get("type"))
    if at is None or type_ is None:
        return None
    return ClaimRecord(
        number=_int(claim.get("number")),
        at=at,
        type=type_,
        incident=_str(claim.get("incident")),
        decision=_str(claim.get("decision")),
        reason=_optional_str(claim.get("reason")),
        case_id=_optional_str(claim.get("case_id")),
    )


# ------------------------------------------------------------------ any lifecycle

CaseFacts = (
    RmaFacts
    | RepairFacts
    | ReplacementFacts
    | RelocationFacts
    | ServicePlanFacts
    | InstallationFacts
)

FACTS_OF_KIND: Mapping[CaseKind, type[CaseFacts]] = {
    CaseKind.RMA: RmaFacts,
    CaseKind.REPAIR: RepairFacts,
    CaseKind.REPLACEMENT: ReplacementFacts,
    CaseKind.RELOCATION: RelocationFacts,
    CaseKind.SERVICE_PLAN: ServicePlanFacts,
    CaseKind.INSTALLATION: InstallationFacts,
}


def facts_of(case_type: str, data: Mapping[str, Any]) -> CaseFacts | None:
    """A case row's facts, parsed by its lifecycle's class; None for a type none knows."""
    try:
        kind = CaseKind(case_type)
    except ValueError:
        return None
    return FACTS_OF_KIND[kind].from_data(data)


# A booking the carrier refused, in any lifecycle's row: written by the shipping kit
# (workflows/carrier_errors.py) beside the lifecycle's own facts, None once retried.
CARRIER_ERROR = "carrier_error"


@dataclass(frozen=True)
class CarrierErrorFacts:
    """What the carrier said no to: its code and message, the fields it named, and which
    parcel (`inbound`, `outbound`)."""

    code: str
    message: str
    direction: str
    errors: list[dict[str, str]] = field(default_factory=list)


def carrier_error_of(data: Mapping[str, Any]) -> CarrierErrorFacts | None:
    """The refused booking a case waits to have retried, if any."""
    error = _mapping(data.get(CARRIER_ERROR))
    if not error:
        return None
    errors = error.get("errors")
    return CarrierErrorFacts(
        code=_str(error.get("code")),
        message=_str(error.get("message")),
        direction=_str(error.get("direction")),
        errors=[
            {str(k): str(v) for k, v in _mapping(e).items()}
            for e in (errors if isinstance(errors, list) else [])
        ],
    )


# A payment waiting for its customer's authentication, in any lifecycle's row: written by the
# payment kit (workflows/payments.py) beside the lifecycle's own facts, None once settled.
PAYMENT_ACTION = "payment_action"


@dataclass(frozen=True)
class PaymentActionFacts:
    """A payment the customer must authenticate (3-D Secure) before the case goes on: where
    (the gateway's page), since when, until when it waits, and what it is for."""

    url: str
    since: datetime
    expires_at: datetime
    amount: Decimal
    currency: str
    kind: str

    def to_data(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "since": self.since.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "amount": money_text(self.amount, self.currency),
            "currency": self.currency,
            "kind": self.kind,
        }


def payment_action_of(data: Mapping[str, Any]) -> PaymentActionFacts | None:
    """The payment a case waits for its customer to authenticate, if any."""
    action = _mapping(data.get(PAYMENT_ACTION))
    since = parse_moment(action.get("since"))
    expires_at = parse_moment(action.get("expires_at"))
    url = _str(action.get("url"))
    # Only a web page: the link is put in front of the customer as it is.
    if since is None or expires_at is None or not url.startswith(("https://", "http://")):
        return None
    return PaymentActionFacts(
        url=url,
        since=since,
        expires_at=expires_at,
        amount=_decimal(action.get("amount")),
        currency=_str(action.get("currency")),
        kind=_str(action.get("kind")),
    )


def first_name_of(data: Mapping[str, Any]) -> str:
    """The customer's first name, which every lifecycle's row carries under the same key (for
    a reader that needs nothing else of the row)."""
    return _str(data.get(CUSTOMER_FIRST_NAME))


# ------------------------------------------------------------------ parsing plain JSON


def parse_moment(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (naive ones are UTC); None if absent or bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_address(value: object) -> Address | None:
    """An address as `Address.to_json()` wrote it; None when absent or without its lines."""
    site = _mapping(value)
    if not site:
        return None
    return Address(
        line1=_str(site.get("line1")),
        city=_str(site.get("city")),
        postal_code=_str(site.get("postal_code")),
        country=_str(site.get("country")),
        line2=_str(site.get("line2")),
        region=_str(site.get("region")),
        name=_str(site.get("name")),
    )


def _with_name(data: dict[str, Any], first_name: str, *, first: bool = True) -> dict[str, Any]:
    # The key's place follows what the workflows wrote before the facts existed: the name
    # first, except on a return, whose purchase date came first.
    if not first_name:
        return data
    if first:
        return {CUSTOMER_FIRST_NAME: first_name, **data}
    return {**data, CUSTOMER_FIRST_NAME: first_name}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _int(value: object, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _float(value: object) -> float:
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _enum(kind: type[_E], value: object) -> _E | None:
    try:
        return kind(value) if isinstance(value, str) else None
    except ValueError:
        return None
