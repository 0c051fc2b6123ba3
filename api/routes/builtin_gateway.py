"""The built-in gateway's stand-in for a bank's 3-D Secure page, where its
`pm_requires_action` payments send the customer (`/builtin-gateway/authenticate/{reference}`,
see activities/gateways/builtin.py).

It lets `make run` and the tests walk a payment that needs its customer as a real gateway's
does: the customer confirms or refuses, the ledger records it once, the case hears it by the
same `payment_event` signal a gateway's webhook sends (`payment_events.py`) and the customer
goes back to their tracking page. No money moves: the built-in gateway has none. The link is
the credential, as a bank's is; it opens only a built-in payment still waiting for its
customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError, RPCStatusCode

from activities.gateways import DECLINED, SUCCEEDED
from activities.gateways.builtin import BUILTIN
from api.deps import AsyncSession, SessionDep, TemporalDep
from api.routes.tracking_page import SECURITY_HEADERS, page
from api.token_urls import TOKEN_URL_HEADERS
from db import models
from db.cases import case_by_id
from db.payment_events import accept_payment_event, payment_of_event
from db.readers import case_reader
from domain.contracts.payments import PAYMENT_EVENT_SIGNAL, REQUIRES_ACTION, PaymentEvent
from presentation.formatting import money_words
from presentation.i18n import ENGLISH, N_

router = APIRouter(prefix="/builtin-gateway", tags=["built-in gateway"])

_OUTCOMES = {"confirm": SUCCEEDED, "refuse": DECLINED}
_CHOOSE = N_("Please choose Confirm payment or Refuse.")


@router.get("/authenticate/{reference}", response_class=HTMLResponse)
async def authentication_page(reference: str, session: SessionDep) -> Response:
    payment = await _awaiting(session, reference)
    return await _render(session, reference, payment, 200 if payment else 404)


@router.post("/authenticate/{reference}", response_class=HTMLResponse)
async def authenticate(
    reference: str,
    session: SessionDep,
    client: TemporalDep,
    outcome: Annotated[str | None, Form()] = None,
) -> Response:
    payment = await _awaiting(session, reference)
    if payment is None:
        return await _render(session, reference, None, 404)
    settled = _OUTCOMES.get(outcome or "")
    if settled is None:
        return await _render(session, reference, payment, 422, _CHOOSE)
    case = await case_by_id(session, payment.case_id)
    back = f"/track/{case.tracking_token}" if case else "/"
    accepted = await accept_payment_event(
        session,
        # One answer per payment attempt (a new attempt has a new reference).
        event_id=f"{BUILTIN}_{reference}",
        provider=BUILTIN,
        event_type=f"authentication.{settled}",
        payment=payment,
        reference=reference,
        settled=settled,
        message="" if settled == SUCCEEDED else "the customer refused the payment",
        attempt=payment.attempts,
    )
    if not accepted.duplicate and accepted.workflow_id is not None:
        # Told before the commit, as a gateway's webhook is: a failure leaves it unanswered.
        event = PaymentEvent(reference, settled == SUCCEEDED, payment.message)
        try:
            await client.get_workflow_handle(accepted.workflow_id).signal(
                PAYMENT_EVENT_SIGNAL, event
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:
                raise
    await session.commit()
    return RedirectResponse(
        back, status_code=303, headers={**SECURITY_HEADERS, **TOKEN_URL_HEADERS}
    )


async def _awaiting(session: AsyncSession, reference: str) -> models.Payment | None:
    payment = await payment_of_event(session, reference, "")
    if payment is None or payment.provider != BUILTIN or payment.status != REQUIRES_ACTION:
        return None
    return payment


async def _render(
    session: AsyncSession,
    reference: str,
    payment: models.Payment | None,
    status_code: int,
    message: str | None = None,
) -> Response:
    # The bank speaks the case's reader's language; a link that opens nothing, English.
    t = ENGLISH
    if payment is not None:
        case = await case_by_id(session, payment.case_id)
        t = (await case_reader(session, payment.org_id, case.customer_id if case else None)).t
    answer = page(
        "builtin_authenticate.html",
        {
            "i18n": t,
            "lang": t.locale,
            "shop_name": "",
            "reference": reference,
            "amount": money_words(payment.amount, payment.currency, t) if payment else None,
            "message": t.gettext(message) if message else None,
        },
        status_code,
    )
    # The link is the customer's credential, as a tracking link is: never cached or sent on.
    answer.headers.update(TOKEN_URL_HEADERS)
    return answer
