"""The technician's forms as the JSON API's bodies: a form is read into the same pydantic
schema (`DiagnosisBody`, `QaBody`, `StatusBody`) the API validates, so a value the API
refuses is refused here too, and what the technician typed comes back with the reason."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.schemas.repair import DiagnosisBody, QaBody, StatusBody

B = TypeVar("B", bound=BaseModel)

# Rows of the parts table a diagnosis form offers (blank rows are ignored).
PART_ROWS = 4
# A form's nonce: what `secrets.token_urlsafe` makes, within the idempotency key's length.
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

# The quality checklist a technician ticks before passing a job; a pass needs every item.
QA_CHECKLIST: tuple[str, ...] = (
    "Reported fault no longer occurs",
    "Powers on and runs a full cycle",
    "Safety and leak test passed",
    "Housing closed, no cosmetic damage",
)


def text(form: FormData, name: str) -> str:
    """A text field as the API would get it: browsers send a textarea's line breaks as
    CRLF, which the API's free-text fields (newlines only) would refuse."""
    value = form.get(name)
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else ""


def nonce(form: FormData) -> str | None:
    """The form's `form_key`, the command's Idempotency-Key, if it is one the page made."""
    value = text(form, "form_key").strip()
    return value if _NONCE.fullmatch(value) else None


@dataclass
class PartDraft:
    part_no: str = ""
    description: str = ""
    quantity: str = "1"
    unit_price: str = ""

    def blank(self) -> bool:
        return not (self.part_no.strip() or self.description.strip() or self.unit_price.strip())


@dataclass
class DiagnosisDraft:
    """What the diagnosis form holds: strings as typed, for showing again."""

    fault_code: str = ""
    findings: str = ""
    labor_minutes: str = ""
    repairable: str = ""
    parts: list[PartDraft] = field(default_factory=list)

    def rows(self) -> list[PartDraft]:
        """The parts typed, then blank rows up to the table's size (one blank at least)."""
        filled = [p for p in self.parts if not p.blank()]
        return filled + [PartDraft() for _ in range(max(1, PART_ROWS - len(filled)))]


@dataclass
class QaDraft:
    ticked: set[str] = field(default_factory=set)
    notes: str = ""


@dataclass(frozen=True)
class Refusal:
    """Why a form was not sent: one message per problem, in the form's words."""

    messages: list[str]


_FIELD_WORDS = {
    "fault_code": "Fault code",
    "findings": "Findings",
    "labor_minutes": "Labour minutes",
    "repairable": "Repairable",
    "part_no": "part number",
    "description": "description",
    "quantity": "quantity",
    "unit_price": "unit price",
    "notes": "Notes",
    "passed": "Result",
    "status": "Step",
    "note": "Note",
}


def _words(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if loc[:1] == ["parts"] and len(loc) >= 3:
        where = f"Part {int(loc[1]) + 1} {_FIELD_WORDS.get(loc[2], loc[2])}"
    elif loc:
        where = _FIELD_WORDS.get(loc[0], loc[0])
    else:
        where = "The form"
    return f"{where}: {error.get('msg', 'is not valid')}"


def refusal_of(error: ValidationError) -> Refusal:
    return Refusal([_words(e) for e in error.errors()])


def validated(schema: type[B], data: dict[str, Any]) -> B | Refusal:
    try:
        return schema.model_validate(data)
    except ValidationError as error:
        return refusal_of(error)


def diagnosis_draft(form: FormData) -> DiagnosisDraft:
    columns: Sequence[list[Any]] = [
        form.getlist(name)
        for name in ("part_no", "part_description", "part_quantity", "part_unit_price")
    ]
    count = max((len(c) for c in columns), default=0)

    def cell(column: list[Any], row: int) -> str:
        value = column[row] if row < len(column) else ""
        return value if isinstance(value, str) else ""

    parts = [PartDraft(*(cell(column, row) for column in columns)) for row in range(count)]
    return DiagnosisDraft(
        fault_code=text(form, "fault_code"),
        findings=text(form, "findings"),
        labor_minutes=text(form, "labor_minutes"),
        repairable=text(form, "repairable"),
        parts=parts,
    )


def _whole(value: str, default: int) -> int | str:
    """A number field as the API's JSON integer; what is not one is passed on as typed, for
    the schema to refuse in its words (the API takes no string for a number)."""
    value = value.strip()
    if not value:
        return default
    return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else value


def diagnosis_body(draft: DiagnosisDraft) -> DiagnosisBody | Refusal:
    if draft.repairable not in ("yes", "no"):
        return Refusal(["Repairable: choose Yes or No"])
    data: dict[str, Any] = {
        "fault_code": draft.fault_code,
        "findings": draft.findings,
        "labor_minutes": _whole(draft.labor_minutes, 0),
        "repairable": draft.repairable == "yes",
        "parts": [
            {
                "part_no": p.part_no,
                "description": p.description,
                "quantity": _whole(p.quantity, 1),
                "unit_price": p.unit_price.strip() or "0",
            }
            for p in draft.parts
            if not p.blank()
        ],
    }
    return validated(DiagnosisBody, data)


def qa_draft(form: FormData) -> QaDraft:
    ticked = {value for value in form.getlist("check") if value in QA_CHECKLIST}
    return QaDraft(ticked=ticked, notes=text(form, "notes"))


def qa_body(draft: QaDraft, result: str) -> QaBody | Refusal:
    """A pass needs every checklist item ticked; the checklist is kept in the notes (the
    job's QA notes are what its certificate and timeline carry)."""
    if result not in ("pass", "fail"):
        return Refusal(["Result: choose Pass or Fail"])
    passed = result == "pass"
    missing = [item for item in QA_CHECKLIST if item not in draft.ticked]
    if passed and missing:
        return Refusal(
            [f"Checklist: “{item}” is not ticked; a pass needs every item" for item in missing]
        )
    done = [item for item in QA_CHECKLIST if item in draft.ticked]
    checklist = f"Checklist {len(done)}/{len(QA_CHECKLIST)} passed" + (
        f" (not met: {'; '.join(missing)})" if missing else ""
    )
    notes = f"{checklist}. {draft.notes.strip()}".strip() if draft.notes.strip() else checklist
    return validated(QaBody, {"passed": passed, "notes": notes})


def status_body(form: FormData) -> StatusBody | Refusal:
    return validated(StatusBody, {"status": text(form, "status"), "note": text(form, "note")})
