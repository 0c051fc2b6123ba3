"""Case events as integrations see them: one per timeline entry, named `<case>.<status>`
when the entry moves the case to a new status and `<case>.<event>` otherwise
(`repair.sla_breached`, `service_plan.renewal_upcoming`), with a stable `event_id`."""

from __future__ import annotations

import re
import uuid
from fnmatch import fnmatchcase

from domain.common import CaseKind

CASE_TYPES = tuple(kind.value for kind in CaseKind)
# Events about a case that are not a timeline entry of its lifecycle: the customer's
# rating of an ended case (`feedback.received`).
EVENT_FAMILIES = (*CASE_TYPES, "feedback")
# A fixed namespace, so the same timeline entry always gets the same event_id: a retried
# projection or a redelivery carries the id a receiver already saw and can drop.
_EVENT_NAMESPACE = uuid.UUID("7b0e0d1c-5a8e-4d53-9c57-2f6a0f1e9b41")
_PATTERN = re.compile(r"^(?:\*|(?P<case>\*|[a-z_]+)\.(?:\*|[a-z_]+))$")
MAX_PATTERNS = 50


def event_id(case_id: str, seq: int) -> str:
    return "evt_" + uuid.uuid5(_EVENT_NAMESPACE, f"{case_id}:{seq}").hex


def event_type(case_type: str, status: str, event: str, previous_status: str | None) -> str:
    if status != previous_status:
        return f"{case_type}.{status}"
    return f"{case_type}.{event}"


def pattern_problem(pattern: str) -> str | None:
    """Why an event pattern can never match, or None when it is well formed."""
    found = _PATTERN.match(pattern)
    if found is None:
        return f"{pattern!r} is not '*', '<case>.*' or '<case>.<event>'"
    case = found.group("case")
    if case not in (None, "*") and case not in EVENT_FAMILIES:
        return f"{pattern!r} names no case type (one of {', '.join(EVENT_FAMILIES)})"
    return None


def matches(patterns: list[str], type_: str) -> bool:
    return any(fnmatchcase(type_, pattern) for pattern in patterns)


def receives_events_of(case_type: str) -> bool:
    """Whether the organisation a case is shipped to or done by (a repair center, an
    installer) gets its events: it works those cases, so it follows them."""
    return case_type in ("repair", "relocation", "installation")
