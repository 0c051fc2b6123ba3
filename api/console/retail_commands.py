"""A case page's buttons, sent as the JSON API sends them: each one calls the API route's own
function (the same case resource, request body, workflow update and idempotency layer),
with the console user's Principal, so the timeline names the user and there is no second
path to a workflow."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.datastructures import FormData

from api.auth import OrgKind, Principal
from api.case_access import CaseRef, CaseResource
from api.commands import Commands
from api.console.retail_forms import body, checked, text
from api.console.retail_kinds import CaseKind
from api.errors import Problem
from api.routes import installations, relocations, repairs, replacements, rmas, service_plans
from api.schemas.installation import InstallationCancelBody
from api.schemas.relocation import RelocationCancelBody
from api.schemas.repair import RepairCancelBody
from api.schemas.replacement import CoreReceivedBody, ReplacementCancelBody
from api.schemas.rma import CancelBody, InspectionBody, ReceiveBody, RejectBody, WaiveFeeBody
from api.schemas.service_plan import (
    ClaimBody,
    ClaimOut,
    PaymentMethodBody,
    PlanCancelBody,
    TransferBody,
)

RETAILER = (OrgKind.RETAILER,)


def customer_fields(form: FormData, prefix: str = "customer_") -> dict[str, Any]:
    """A customer as the API's `CustomerIn`, from flat form fields."""
    return {
        "name": text(form, f"{prefix}name"),
        "email": text(form, f"{prefix}email"),
        "phone": text(form, f"{prefix}phone"),
        "address": {
            "line1": text(form, f"{prefix}line1"),
            "line2": text(form, f"{prefix}line2"),
            "city": text(form, f"{prefix}city"),
            "region": text(form, f"{prefix}region"),
            "postal_code": text(form, f"{prefix}postal_code"),
            "country": text(form, f"{prefix}country").strip().upper(),
        },
    }


def _reason(form: FormData) -> dict[str, str]:
    return {"reason": text(form, "reason").strip()}


async def _rma(action: str, principal: Principal, case_id: str, c: Commands, f: FormData) -> str:
    owned = rmas.RMAS.ref(c.reads, principal, case_id, owner_only=True)
    seen = rmas.RMAS.ref(c.reads, principal, case_id)
    if action == "approve":
        await rmas.approve_rma(owned, c)
        return "Approved: the return label is on its way to the customer."
    if action == "reject":
        fields = _reason(f) if text(f, "reason").strip() else {}
        await rmas.reject_rma(body(RejectBody, fields), owned, c)
        return "Rejected."
    if action == "cancel":
        await rmas.cancel_rma(owned, c, body(CancelBody, _reason(f)))
        return "Cancelled: the label is void."
    if action == "receive":
        await rmas.receive_rma(seen, c, body(ReceiveBody, {"note": text(f, "note")}))
        return "Received."
    if action == "inspection":
        inspection = {
            "grade": text(f, "grade"),
            "serial_matches": checked(f, "serial_matches"),
            "notes": text(f, "notes"),
        }
        await rmas.inspect_rma(body(InspectionBody, inspection), seen, c)
        return "Inspected: the resolution is under way."
    if action == "waive_restocking_fee":
        await rmas.waive_restocking_fee(body(WaiveFeeBody, _reason(f)), owned, c)
        return "The restocking fee is waived."
    raise _unknown(action)


async def _repair(action: str, principal: Principal, case_id: str, c: Commands, f: FormData) -> str:
    ref = repairs.REPAIRS.ref(c.reads, principal, case_id, kinds=RETAILER)
    if action == "cancel":
        await repairs.cancel_repair(ref, c, body(RepairCancelBody, _reason(f)))
        return "Cancelled."
    raise _unknown(action)


async def _replacement(
    action: str, principal: Principal, case_id: str, c: Commands, f: FormData
) -> str:
    ref = replacements.REPLACEMENTS.ref(c.reads, principal, case_id, kinds=RETAILER)
    if action == "core_received":
        note = body(CoreReceivedBody, {"note": text(f, "note")})
        await replacements.core_received(ref, c, note)
        return "Core received: the deposit hold is released."
    if action == "cancel":
        await replacements.cancel_replacement(ref, c, body(ReplacementCancelBody, _reason(f)))
        return "Cancelled."
    raise _unknown(action)


_Cancel = TypeVar("_Cancel", bound=BaseModel)


def _cancel_only(
    resource: CaseResource,
    cancel: Callable[[CaseRef, Commands, _Cancel], Awaitable[object]],
    model: type[_Cancel],
) -> Callable[[str, Principal, str, Commands, FormData], Awaitable[str]]:
    """A case type whose only retailer action in the console is cancel, with a reason."""

    async def send(
        action: str, principal: Principal, case_id: str, c: Commands, f: FormData
    ) -> str:
        ref = resource.ref(c.reads, principal, case_id, kinds=RETAILER)
        if action == "cancel":
            await cancel(ref, c, body(model, _reason(f)))
            return "Cancelled."
        raise _unknown(action)

    return send


_relocation = _cancel_only(
    relocations.RELOCATIONS, relocations.cancel_relocation, RelocationCancelBody
)
_installation = _cancel_only(
    installations.INSTALLATIONS, installations.cancel_installation, InstallationCancelBody
)


async def _plan(action: str, principal: Principal, case_id: str, c: Commands, f: FormData) -> str:
    ref = service_plans.PLANS.ref(c.reads, principal, case_id, kinds=RETAILER)
    if action == "claim":
        claim = {
            "type": text(f, "type"),
            "incident": text(f, "incident").strip(),
            "description": text(f, "description"),
        }
        answer: ClaimOut = await service_plans.claim(body(ClaimBody, claim), ref, c)
        if answer.decision != "approved":
            raise Problem(409, str(answer.reason or "claim_refused"), _refused_claim(answer))
        started = answer.repair_id or answer.replacement_id
        return f"Claim approved: {started} started."
    if action == "payment_method":
        method = {"payment_method": text(f, "payment_method").strip()}
        await service_plans.change_payment_method(body(PaymentMethodBody, method), ref, c)
        return "Payment method changed."
    if action == "transfer":
        await service_plans.transfer(body(TransferBody, {"customer": customer_fields(f)}), ref, c)
        return "Transferred: a new certificate of coverage is issued to the new owner."
    if action == "cancel":
        cancelled = await service_plans.cancel(ref, c, body(PlanCancelBody, _reason(f)))
        refund = cancelled.refund
        return f"Cancelled: {refund.amount} {refund.currency} refunded."
    raise _unknown(action)


def _refused_claim(answer: ClaimOut) -> str:
    return f"the claim was refused: {answer.reason}"


def _unknown(action: str) -> Problem:
    return Problem(404, "not_found", f"no such action: {action}")


_SENDERS = {
    "rma": _rma,
    "repair": _repair,
    "replacement": _replacement,
    "relocation": _relocation,
    "installation": _installation,
    "service_plan": _plan,
}


async def send(
    kind: CaseKind,
    action: str,
    principal: Principal,
    case_id: str,
    commands: Commands,
    form: FormData,
) -> str:
    """Send `action` to the case as the JSON API does; the confirmation to show. Raises what
    the API would answer with (a `Problem`, or a workflow's refusal)."""
    return await _SENDERS[kind.case_type](action, principal, case_id, commands, form)
