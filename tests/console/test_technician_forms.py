"""The technician console's pure parts: a submitted form read into the JSON API's body (as
a browser sends it: CRLF line breaks, blank part rows, strings), the QA checklist's rule,
the SLA clock in words, and the field list by day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from starlette.datastructures import FormData, UploadFile

from api.console.field_work import FieldVisit, checklist_data, checklist_draft, field_list
from api.console.technician_board import duration_words, sla_view
from api.console.technician_forms import (
    QA_CHECKLIST,
    Refusal,
    diagnosis_body,
    diagnosis_draft,
    nonce,
    qa_body,
    qa_draft,
)
from api.console.technician_steps import job_steps
from api.schemas.repair import DiagnosisBody, QaBody
from domain.contracts.facts import SlaFacts

# The clock's open pause runs until the real now, as on a page.
NOW = datetime.now(UTC)


def diagnosis_form(**changes: str | list[str]) -> FormData:
    fields: dict[str, str | list[str]] = {
        "fault_code": "E-PUMP",
        "findings": "Pump seized.\r\nGasket worn.",
        "repairable": "yes",
        "labor_minutes": "45",
        "part_no": ["P-1", "", "G-2", ""],
        "part_description": ["Pump", "", "Gasket", ""],
        "part_quantity": ["1", "1", "2", "1"],
        "part_unit_price": ["40.00", "", "2.50", ""],
    }
    fields.update(changes)
    items: list[tuple[str, str | UploadFile]] = [
        (name, value)
        for name, values in fields.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    return FormData(items)


def test_a_diagnosis_form_is_the_apis_body_with_blank_rows_dropped_and_crlf_as_newlines() -> None:
    body = diagnosis_body(diagnosis_draft(diagnosis_form()))
    assert isinstance(body, DiagnosisBody)
    # A browser's CRLF would be a control character to the API's free text.
    assert body.findings == "Pump seized.\nGasket worn."
    assert [(p.part_no, p.quantity, p.unit_price) for p in body.parts] == [
        ("P-1", 1, Decimal("40.00")),
        ("G-2", 2, Decimal("2.50")),
    ]
    assert body.labor_minutes == 45 and body.repairable is True


def test_a_bad_diagnosis_is_refused_in_the_forms_words_and_keeps_what_was_typed() -> None:
    draft = diagnosis_draft(diagnosis_form(part_quantity=["0", "1", "2", "1"], fault_code=""))
    refused = diagnosis_body(draft)
    assert isinstance(refused, Refusal)
    assert any(m.startswith("Part 1 quantity:") for m in refused.messages), refused
    assert any(m.startswith("Fault code:") for m in refused.messages), refused
    # What was typed comes back: the two filled rows, then blank ones up to the table's size.
    assert [p.part_no for p in draft.rows()] == ["P-1", "G-2", "", ""]
    unanswered = diagnosis_body(diagnosis_draft(diagnosis_form(repairable="")))
    assert unanswered == Refusal(["Repairable: choose Yes or No"])
    control = diagnosis_body(diagnosis_draft(diagnosis_form(fault_code="E\x00")))
    assert isinstance(control, Refusal)


def test_a_pass_needs_every_checklist_item_and_the_checklist_goes_in_the_notes() -> None:
    some = FormData([("check", QA_CHECKLIST[0]), ("check", "not on the list"), ("notes", "ok")])
    refused = qa_body(qa_draft(some), "pass")
    assert isinstance(refused, Refusal) and len(refused.messages) == len(QA_CHECKLIST) - 1
    failed = qa_body(qa_draft(some), "fail")
    assert isinstance(failed, QaBody) and failed.passed is False
    assert failed.notes.startswith(f"Checklist 1/{len(QA_CHECKLIST)} passed (not met: ")
    assert failed.notes.endswith(". ok")
    every = FormData([("check", item) for item in QA_CHECKLIST])
    passed = qa_body(qa_draft(every), "pass")
    assert passed == QaBody(passed=True, notes=f"Checklist 4/{len(QA_CHECKLIST)} passed")
    assert isinstance(qa_body(qa_draft(every), "maybe"), Refusal)


def test_only_a_nonce_the_page_could_have_made_is_an_idempotency_key() -> None:
    assert nonce(FormData([("form_key", "AbC_-123456789")])) == "AbC_-123456789"
    for bad in ("", "short", "has space in it", "x" * 65, "tab\there-123"):
        assert nonce(FormData([("form_key", bad)])) is None


def test_the_sla_clock_in_words() -> None:
    received = NOW - timedelta(days=1)
    running = SlaFacts(received_at=received, turnaround_seconds=timedelta(days=5).total_seconds())
    view = sla_view("repairing", running, NOW)
    assert (view.words, view.breached, view.state) == ("Due in 4 d 0 h", False, "running")
    late = sla_view("repairing", running, NOW + timedelta(days=4, hours=3, minutes=10))
    assert (late.words, late.breached) == ("Overdue by 3 h 10 min", True)
    # A quote with the customer stops the clock: the due time moves on while it waits.
    paused = SlaFacts(
        received_at=received,
        turnaround_seconds=timedelta(days=5).total_seconds(),
        pauses=((NOW - timedelta(hours=2), None),),
    )
    waiting = sla_view("awaiting_approval", paused, NOW + timedelta(days=10))
    assert waiting.state == "paused" and not waiting.breached
    ready = SlaFacts(
        received_at=received,
        turnaround_seconds=timedelta(days=5).total_seconds(),
        ready_at=NOW,
    )
    assert sla_view("shipped", ready, NOW + timedelta(days=30)).words == "Ready on time"
    assert sla_view("awaiting_unit", SlaFacts(), NOW).words == "Clock not started"
    assert duration_words(timedelta(seconds=30)) == "less than a minute"
    assert duration_words(timedelta(minutes=25)) == "25 min"


def test_the_steps_offered_are_those_the_workflow_accepts_from_each_state() -> None:
    assert [b.status for b in job_steps("awaiting_unit").buttons] == ["received"]
    assert [b.status for b in job_steps("received").buttons] == ["diagnosing"]
    assert job_steps("diagnosing").diagnose and not job_steps("diagnosing").buttons
    assert [b.status for b in job_steps("awaiting_parts").buttons] == ["repairing"]
    assert [b.status for b in job_steps("repairing").buttons] == ["quality_check"]
    assert job_steps("quality_check").quality_check
    for waiting in ("awaiting_approval", "ready_to_ship", "shipped", "completed"):
        steps = job_steps(waiting)
        assert not (steps.buttons or steps.diagnose or steps.quality_check), waiting


def visit(case_id: str, starts_at: datetime | None) -> FieldVisit:
    return FieldVisit(
        case_id, f"/x/{case_id}", "Relocation", "Uninstall", starts_at, "", {}, "", "", ""
    )


def test_the_field_list_by_day_earliest_first_then_what_to_book() -> None:
    today = date(2026, 12, 1)
    visits = [
        visit("late", datetime(2026, 12, 2, 15, 0, tzinfo=UTC)),
        visit("early", datetime(2026, 12, 2, 9, 0, tzinfo=UTC)),
        visit("next-week", datetime(2026, 12, 8, 9, 0, tzinfo=UTC)),
        visit("unbooked", None),
        visit("on-the-road", None),
    ]
    listed = field_list(visits, {"unbooked"}, today)
    assert [(d.title, [v.case_id for v in d.visits]) for d in listed.days] == [
        ("Tomorrow, Wednesday 2 December", ["early", "late"]),
        ("Tuesday 8 December", ["next-week"]),
    ]
    assert [v.case_id for v in listed.to_book] == ["unbooked"]
    assert [v.case_id for v in listed.other] == ["on-the-road"]


def test_a_checklist_form_with_an_extra_item() -> None:
    form = FormData(
        [
            ("item", "Placed"),
            ("item", "Powered"),
            ("passed", "0"),
            ("passed", "2"),
            ("note", "level"),
            ("note", "fuse\r\nchanged"),
            ("extra_item", " Site cleaned "),
            ("note", ""),
        ]
    )
    assert checklist_data(checklist_draft(form, ())) == [
        {"item": "Placed", "passed": True, "note": "level"},
        {"item": "Powered", "passed": False, "note": "fuse\nchanged"},
        {"item": "Site cleaned", "passed": True, "note": ""},
    ]
