"""`POST /v1/{rmas|repairs|replacements|relocations}/{id}/retry-shipping`: the retailer's
retry of a booking its carrier refused (the case shows the refusal as `carrier_error`).
One command for every case type, sent as its other commands are (`CaseCommands`): once
per `Idempotency-Key`, 409 `invalid_transition` when no refused booking waits."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from api.case_access import CaseRef
from api.commands import CaseCommands, Commands
from api.schemas.shipping import RetryShippingBody
from domain.contracts.carrier import RETRY_SHIPPING_UPDATE, RetryShipping

M = TypeVar("M", bound=BaseModel)

ACTION = "retry-shipping"


async def retry_shipping(
    cases: CaseCommands[M], commands: Commands, ref: CaseRef, body: RetryShippingBody | None
) -> M:
    """Hand the retry to the case's workflow; answer with the case as the caller sees it."""
    request = RetryShipping(
        actor=ref.principal.actor(),
        address=body.address.to_domain() if body is not None and body.address else None,
    )

    async def the_case(_: Any) -> M:
        return await cases.view(commands, ref.principal, ref.case_id)

    return await cases.ask(
        commands,
        ref,
        RETRY_SHIPPING_UPDATE,
        request,
        cases.answer_type,
        the_case,
        result_type=type(None),
        action=ACTION,
        body=body,
    )
