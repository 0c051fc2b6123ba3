"""The read model's facts: each lifecycle's `to_data()` writes the JSON its workflow wrote
before the facts existed (rows already stored keep reading the same), and `from_data()`
reads it back to the same facts, old rows included."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.common import Address, CaseKind
from domain.contracts.facts import (
    FACTS_OF_KIND,
    DiagnosisFacts,
    HoldFacts,
    PaymentActionFacts,
    QuoteFacts,
    RelocatedAsset,
    RelocationFacts,
    RepairFacts,
    RepairUnit,
    ReplacementFacts,
    RmaFacts,
    ServicePlanFacts,
    SlaFacts,
    facts_of,
    first_name_of,
    payment_action_of,
)
from domain.relocation import Appointment, ChecklistItem, Stage
from domain.repair import Part
from domain.replacement import ReplacementMode
from domain.service_plan import ClaimRecord, ClaimType

T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 3, 4, 12, 0, 0, 123456, tzinfo=UTC)
SITE = Address(line1="1 Main St", city="Springfield", postal_code="12345", country="US")

# The JSON each workflow's `_data()` wrote (and `NewCase` with the first name), verbatim.
REPAIR_DATA: dict[str, Any] = {
    "customer_first_name": "Ada",
    "unit": {"sku": "SKU-1", "serial": "SN1", "product_name": "Kettle", "category": "kitchen"},
    "fault": "no heat",
    "assigned_center": "org_center",
    "quote": {
        "parts_total": "12.50",
        "labor_total": "40.00",
        "total": "52.50",
        "expires_at": T1.isoformat(),
        "outcome": None,
    },
    "diagnosis": {
        "fault_code": "E1",
        "findings": "burnt element",
        "labor_minutes": 30,
        "repairable": True,
        "parts": [
            {"part_no": "P1", "description": "element", "quantity": 1, "unit_price": "12.50"}
        ],
    },
    "qa_failures": 1,
    "sla": {
        "received_at": T0.isoformat(),
        "turnaround_seconds": 432000.0,
        "pauses": [[T0.isoformat(), T1.isoformat()], [T1.isoformat(), None]],
        "ready_at": None,
        "breached": False,
    },
}
REPLACEMENT_DATA: dict[str, Any] = {
    "customer_first_name": "Ada",
    "mode": "advance",
    "replacement_sku": "SKU-2",
    "core_charged": False,
    "hold": {"amount": "199.00", "status": "held", "placed_at": T0.isoformat(), "renewals": 2},
}
RELOCATION_DATA: dict[str, Any] = {
    "customer_first_name": "Ada",
    "asset_id": "ast_1",
    "asset": {"sku": "SKU-3", "serial": "SN3", "product_name": "Chiller"},
    "provider_org_id": "org_provider",
    "from_site": SITE.to_json(),
    "to_site": {**SITE.to_json(), "line1": "2 New Rd", "name": "Plant B"},
    "appointment": {"stage": "reinstall", "starts_at": T1.isoformat(), "technician": "Bo"},
    "reschedules_used": 1,
    "max_reschedules": 2,
    "checklists": {
        "uninstall": [
            {"item": "drained", "passed": True, "note": ""},
            {"item": "sealed", "passed": False, "note": "cap missing"},
        ]
    },
}
PLAN_DATA: dict[str, Any] = {
    "customer_first_name": "Ada",
    "plan_code": "CARE-2Y",
    "plan_name": "Care 2 years",
    "serial": "SN4",
    "sku": "SKU-4",
    "term_number": 2,
    "term_starts_at": T0.isoformat(),
    "term_ends_at": T1.isoformat(),
    "next_charge_at": None,
    "claims_used": 1,
    "claims": [
        {
            "number": 1,
            "at": T0.isoformat(),
            "type": "repair",
            "incident": "dropped",
            "decision": "approved",
            "reason": None,
            "case_id": "REP-1",
        }
    ],
    "owner": "Ada Lovelace",
    "unit_site": SITE.to_json(),
}
RMA_DATA: dict[str, Any] = {"purchased_at": T0.isoformat(), "customer_first_name": "Ada"}

STORED = [
    (RmaFacts, RMA_DATA),
    (RepairFacts, REPAIR_DATA),
    (ReplacementFacts, REPLACEMENT_DATA),
    (RelocationFacts, RELOCATION_DATA),
    (ServicePlanFacts, PLAN_DATA),
]


@pytest.mark.parametrize(("facts", "data"), STORED, ids=lambda v: getattr(v, "__name__", ""))
def test_stored_json_reads_back_to_the_same_json(facts: Any, data: dict[str, Any]) -> None:
    written = facts.from_data(data).to_data()
    assert written == data
    assert list(written) == list(data)  # and in the order the workflows wrote it


def test_the_workflows_values_write_the_stored_json() -> None:
    repair = RepairFacts(
        unit=RepairUnit("SKU-1", "SN1", "Kettle", "kitchen"),
        fault="no heat",
        assigned_center="org_center",
        quote=QuoteFacts(Decimal("12.5"), Decimal("40"), Decimal("52.5"), T1),
        diagnosis=DiagnosisFacts(
            "E1", "burnt element", 30, True, (Part("P1", "element", 1, Decimal("12.5")),)
        ),
        qa_failures=1,
        sla=SlaFacts(T0, 432000.0, ((T0, T1), (T1, None)), None, False),
        customer_first_name="Ada",
    )
    assert repair.to_data() == REPAIR_DATA
    replacement = ReplacementFacts(
        ReplacementMode.ADVANCE,
        "SKU-2",
        False,
        HoldFacts(Decimal("199"), "held", T0, 2),
        customer_first_name="Ada",
    )
    assert replacement.to_data() == REPLACEMENT_DATA
    relocation = RelocationFacts(
        asset_id="ast_1",
        asset=RelocatedAsset("SKU-3", "SN3", "Chiller"),
        provider_org_id="org_provider",
        from_site=SITE,
        to_site=Address("2 New Rd", "Springfield", "12345", "US", name="Plant B"),
        appointment=Appointment(Stage.REINSTALL, T1, "Bo"),
        reschedules_used=1,
        max_reschedules=2,
        checklists={
            "uninstall": (
                ChecklistItem("drained", True),
                ChecklistItem("sealed", False, "cap missing"),
            )
        },
        customer_first_name="Ada",
    )
    assert relocation.to_data() == RELOCATION_DATA
    assert relocation.reschedules_left == 1
    plan = ServicePlanFacts(
        plan_code="CARE-2Y",
        plan_name="Care 2 years",
        serial="SN4",
        sku="SKU-4",
        term_number=2,
        term_starts_at=T0,
        term_ends_at=T1,
        claims_used=1,
        claims=(ClaimRecord(1, T0, ClaimType.REPAIR, "dropped", "approved", case_id="REP-1"),),
        owner="Ada Lovelace",
        unit_site=SITE,
        customer_first_name="Ada",
    )
    assert plan.to_data() == PLAN_DATA
    assert RmaFacts(T0, "Ada").to_data() == RMA_DATA


def _repair_in(currency: str, unit_price: str, figures: tuple[str, str, str]) -> RepairFacts:
    parts_total, labor_total, total = map(Decimal, figures)
    return RepairFacts(
        quote=QuoteFacts(parts_total, labor_total, total, T1, "approved"),
        diagnosis=DiagnosisFacts("E1", "", 7, True, (Part("P1", "hinge", 1, Decimal(unit_price)),)),
        currency=currency,
    )


@pytest.mark.parametrize(
    ("currency", "unit_price", "figures"),
    [
        ("USD", "12.5", ("12.50", "40.00", "52.50")),
        ("JPY", "2468", ("2468", "117", "2585")),
        ("KWD", "1.125", ("1.125", "0.831", "1.956")),
    ],
)
def test_a_repair_writes_its_quote_and_parts_in_its_currencys_minor_units(
    currency: str, unit_price: str, figures: tuple[str, str, str]
) -> None:
    repair = _repair_in(currency, unit_price, figures)
    data = repair.to_data()
    quote, diagnosis = data["quote"], data["diagnosis"]
    assert (quote["parts_total"], quote["labor_total"], quote["total"]) == figures
    (part,) = diagnosis["parts"]
    assert part["unit_price"] == figures[0]
    assert data["currency"] == currency
    # Read back to the same facts, and written again the same.
    assert RepairFacts.from_data(data) == repair
    assert RepairFacts.from_data(data).to_data() == data
    assert facts_of("repair", data) == repair


def test_a_repair_row_without_a_currency_reads_and_writes_as_before() -> None:
    # Rows written before the facts said their currency have two decimals, whatever it was.
    old = RepairFacts.from_data(REPAIR_DATA)
    assert old.currency is None and old.money_currency == "USD"
    assert old.to_data() == REPAIR_DATA
    assert "currency" not in old.to_data()
    assert RepairFacts().to_data().get("currency") is None
    # A reader that knows the case's currency writes the stored amounts in it.
    part = {"part_no": "P1", "description": "", "quantity": 1, "unit_price": "2468.00"}
    stored = {**REPAIR_DATA["diagnosis"], "parts": [part]}
    diagnosis = RepairFacts.from_data({**REPAIR_DATA, "diagnosis": stored}).diagnosis
    assert diagnosis is not None
    assert diagnosis.to_data("JPY")["parts"][0]["unit_price"] == "2468"
    assert diagnosis.to_data("KWD")["parts"][0]["unit_price"] == "2468.000"


@pytest.mark.parametrize(
    ("currency", "amount", "text"),
    [("USD", "199", "199.00"), ("JPY", "12000", "12000"), ("KWD", "1.125", "1.125")],
)
def test_a_replacement_writes_its_hold_in_its_currencys_minor_units(
    currency: str, amount: str, text: str
) -> None:
    # A dinar hold of 1.125 was once stored as "1.12", a yen one of 12000 as "12000.00".
    replacement = ReplacementFacts(
        ReplacementMode.ADVANCE,
        "SKU-2",
        hold=HoldFacts(Decimal(amount), "held", T0, 1),
        customer_first_name="Ada",
        currency=currency,
    )
    data = replacement.to_data()
    assert (data["hold"]["amount"], data["currency"]) == (text, currency)
    # Read back to the same facts, and written again the same.
    assert ReplacementFacts.from_data(data) == replacement
    assert ReplacementFacts.from_data(data).to_data() == data
    assert facts_of("replacement", data) == replacement


def test_a_replacement_row_without_a_currency_reads_and_writes_as_before() -> None:
    # Rows written before the facts said their currency have two decimals, whatever it was.
    old = ReplacementFacts.from_data(REPLACEMENT_DATA)
    assert old.currency is None and old.money_currency == "USD"
    assert old.to_data() == REPLACEMENT_DATA
    assert "currency" not in old.to_data()
    assert ReplacementFacts().to_data().get("currency") is None
    yen = {**REPLACEMENT_DATA, "hold": {**REPLACEMENT_DATA["hold"], "amount": "12000.00"}}
    assert ReplacementFacts.from_data(yen).to_data() == yen


def test_a_projection_without_the_name_leaves_the_rows_name_alone() -> None:
    # The store merges a projection into the row: a key not written keeps its value.
    projected = RepairFacts.from_data(REPAIR_DATA)
    without_name = RepairFacts(**{**projected.__dict__, "customer_first_name": ""})
    assert "customer_first_name" not in without_name.to_data()
    assert "unit_site" not in ServicePlanFacts().to_data()


@pytest.mark.parametrize("kind", list(CaseKind))
def test_a_row_written_before_any_fact_reads_as_the_defaults(kind: CaseKind) -> None:
    facts = facts_of(kind, {})
    assert facts == FACTS_OF_KIND[kind]()


def test_unreadable_nested_facts_read_as_absent() -> None:
    repair = RepairFacts.from_data(
        {"quote": {"total": "5.00"}, "sla": {"pauses": [["nope", None], "x"]}, "qa_failures": "x"}
    )
    assert repair.quote is None
    assert repair.sla.pauses == ()
    assert repair.qa_failures == 0
    relocation = RelocationFacts.from_data({"appointment": {"stage": "moon", "starts_at": "x"}})
    assert relocation.appointment is None
    plan = ServicePlanFacts.from_data({"claims": [{"number": 1}], "term_number": None})
    assert plan.claims == ()
    assert plan.term_number == 1
    assert ReplacementFacts.from_data({"mode": "sideways", "hold": {}}).mode is None


def test_facts_of_an_unknown_type_and_the_first_name() -> None:
    assert facts_of("moving_day", {}) is None
    assert isinstance(facts_of("repair", REPAIR_DATA), RepairFacts)
    assert first_name_of(PLAN_DATA) == "Ada"
    assert first_name_of({}) == ""


@pytest.mark.parametrize(
    ("currency", "amount", "text"),
    [("USD", "12.5", "12.50"), ("JPY", "12000", "12000"), ("KWD", "1.5", "1.500")],
)
def test_a_payment_action_writes_its_currencys_minor_units(
    currency: str, amount: str, text: str
) -> None:
    action = PaymentActionFacts(
        "https://pay.example/3ds", T0, T1, Decimal(amount), currency, "charge"
    )
    data = action.to_data()
    assert (data["amount"], data["currency"]) == (text, currency)
    assert payment_action_of({"payment_action": data}) == action
