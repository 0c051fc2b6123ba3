"""The case types as the retailer console shows them: their URL, their statuses (the list
filter), how one is opened and presented (the JSON API's own case resource and view), and
which buttons its status offers.

The buttons come from the same tables the workflows' update validators consult
(`domain.rma.ALLOWED_ACTIONS`, `domain.repair.cancellable`, ...), so a button shows only
for what the workflow would accept now; the validator still has the last word (a command
that races another is refused inline, never applied twice)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from api.case_access import CaseResource
from api.case_views import (
    Viewer,
    relocation_public,
    repair_public,
    replacement_public,
    rma_public,
    service_plan_public,
)
from api.routes.installations import INSTALLATIONS, installation_public
from api.routes.relocations import RELOCATIONS
from api.routes.repairs import REPAIRS
from api.routes.replacements import REPLACEMENTS
from api.routes.rmas import RMAS
from api.routes.service_plans import PLANS
from db.queries import CaseBundle
from domain import installation, relocation, replacement, rma
from domain.installation import InstallationStatus
from domain.relocation import RelocationStatus
from domain.repair import RepairStatus, cancellable
from domain.replacement import ReplacementStatus
from domain.rma import RmaStatus
from domain.service_plan import TERMINAL_PLAN_STATUSES, PlanStatus


@dataclass(frozen=True)
class CaseKind:
    case_type: str
    path: str  # /console/<path>
    title: str  # plural, for the list page and the navigation
    noun: str  # one of them
    statuses: tuple[str, ...]
    resource: CaseResource
    present: Callable[[CaseBundle, str, Viewer], BaseModel]
    # The retailer's commands its status allows, in the order the page shows them.
    actions: Callable[[str], Sequence[str]]


# What a retailer (not the repair center it ships to) does to an RMA; the receiving site's
# receive and inspection are the retailer's too when the unit comes back to it.
_RMA_ACTIONS = ("approve", "reject", "receive", "inspection", "cancel")


def _rma_actions(status: str) -> list[str]:
    state = RmaStatus(status)
    allowed = rma.ALLOWED_ACTIONS[state]
    actions = [a for a in _RMA_ACTIONS if a in allowed]
    if state in rma.FEE_WAIVABLE:
        actions.append("waive_restocking_fee")
    return actions


def _repair_actions(status: str) -> list[str]:
    return ["cancel"] if cancellable(RepairStatus(status)) else []


def _replacement_actions(status: str) -> list[str]:
    allowed = replacement.ALLOWED_ACTIONS[ReplacementStatus(status)]
    return [a for a in ("core_received", "cancel") if a in allowed]


def _relocation_actions(status: str) -> list[str]:
    return ["cancel"] if "cancel" in relocation.allowed_actions(RelocationStatus(status)) else []


def _installation_actions(status: str) -> list[str]:
    allowed = installation.allowed_actions(InstallationStatus(status))
    return ["cancel"] if "cancel" in allowed else []


def _plan_actions(status: str) -> list[str]:
    # A plan's workflow takes every command until it has ended (`_require_open`).
    if PlanStatus(status) in TERMINAL_PLAN_STATUSES:
        return []
    return ["claim", "payment_method", "transfer", "cancel"]


def _values(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


KINDS: tuple[CaseKind, ...] = (
    CaseKind("rma", "rmas", "Returns", "RMA", _values(RmaStatus), RMAS, rma_public, _rma_actions),
    CaseKind(
        "repair",
        "repairs",
        "Repairs",
        "repair",
        _values(RepairStatus),
        REPAIRS,
        repair_public,
        _repair_actions,
    ),
    CaseKind(
        "replacement",
        "replacements",
        "Replacements",
        "replacement",
        _values(ReplacementStatus),
        REPLACEMENTS,
        replacement_public,
        _replacement_actions,
    ),
    CaseKind(
        "relocation",
        "relocations",
        "Relocations",
        "relocation",
        _values(RelocationStatus),
        RELOCATIONS,
        relocation_public,
        _relocation_actions,
    ),
    CaseKind(
        "installation",
        "installations",
        "Installations",
        "installation",
        _values(InstallationStatus),
        INSTALLATIONS,
        installation_public,
        _installation_actions,
    ),
    CaseKind(
        "service_plan",
        "service-plans",
        "Service plans",
        "service plan",
        _values(PlanStatus),
        PLANS,
        service_plan_public,
        _plan_actions,
    ),
)

BY_PATH = {kind.path: kind for kind in KINDS}
BY_TYPE = {kind.case_type: kind for kind in KINDS}

# A linked case's field on a view, and the case type it names.
LINKS = (
    ("rma_id", "rma"),
    ("repair_id", "repair"),
    ("replacement_id", "replacement"),
    ("relocation_id", "relocation"),
    ("service_plan_id", "service_plan"),
    ("installation_id", "installation"),
)


def case_url(case_type: str, case_id: str) -> str:
    return f"/console/{BY_TYPE[case_type].path}/{case_id}"
