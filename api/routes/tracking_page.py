"""The customer's tracking page, `GET /track/{token}`: server-rendered HTML for people.

It reads the same read model and sends the same workflow updates as the JSON tracking API
(`tracking.py`). No JavaScript: the quote and reschedule actions are plain forms answered
with 303 See Other (post/redirect/get), and a refusal re-renders the page with its reason."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.case_access import TokenRef
from api.commands import Commands
from api.deps import AsyncSession, ResourcesDep, SessionDep
from api.errors import Problem, from_update_failure, temporal_unavailable
from api.routes.tracking import (
    PUBLIC_DETAIL,
    CustomerAction,
    customer_actions,
    repair_of,
    send_quote,
    send_reschedule,
)
from api.schemas.common import LATEST_MOMENT
from db import models
from db.cases import case_by_id, case_by_token, forget_read_cases
from db.organisations import organisation
from db.queries import CaseBundle, load_case_bundle
from db.readers import reader_of
from domain.contracts.facts import (
    CaseFacts,
    InstallationFacts,
    RelocationFacts,
    RepairFacts,
    ReplacementFacts,
    ServicePlanFacts,
    facts_of,
    payment_action_of,
)
from domain.feedback import case_ended
from domain.installation import VISIT
from domain.relocation import Stage
from presentation.copy import (
    StatusWords,
    case_noun,
    case_title,
    document_words,
    download_words,
    event_note,
    event_title,
    refusal_words,
    stage_words,
    status_words,
    your_case,
)
from presentation.formatting import human_date, money_words
from presentation.i18n import N_, Translator, install_jinja
from presentation.steps import TimelineFact, TrackedCase, next_step, remaining_steps

router = APIRouter(prefix="/track", tags=["tracking page"])

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
install_jinja(_env)

# The stylesheet is inlined (one request, nothing else to serve) and the CSP allows exactly
# that text by its hash, so no other inline style or script can run.
_STYLES = (_TEMPLATES / "track_styles.html").read_text(encoding="utf-8")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLES.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The token's privacy headers come from `api.token_urls.TokenUrlHeaders`, on every answer.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}

# What a customer has a use for from a linked case: labels to print, certificates to keep.
CUSTOMER_DOCUMENT_KINDS = frozenset(
    {
        "return_label",
        "repair_certificate",
        "relocation_certificate",
        "installation_certificate",
        "coverage_certificate",
    }
)

# What the page may show of a timeline entry: the JSON API's public details, plus the
# customer's own deadlines.
_PAGE_DETAIL = PUBLIC_DETAIL | {"core_due", "term_ends_at", "auto_renew"}


@dataclass(frozen=True)
class DoneStep:
    title: str
    when: str
    iso: str
    note: str


@dataclass(frozen=True)
class DocumentLink:
    label: str
    url: str
    # The button's words when it is the label to print now.
    download: str = ""


@dataclass(frozen=True)
class QuoteForm:
    amount: str
    breakdown: str


@dataclass(frozen=True)
class RescheduleForm:
    stage: str
    left: int
    earliest: str


@dataclass(frozen=True)
class LinkedCase:
    noun: str
    headline: str


class FormSent(BaseModel):
    """What a form's Idempotency-Key keeps as its answer: the page answers every form it
    sent with a redirect to itself, so there is nothing more to keep."""


async def _form_sent() -> FormSent:
    return FormSent()


@router.get("/{token}", response_class=HTMLResponse, name="tracking_page")
async def tracking_page(token: str, session: SessionDep) -> Response:
    case = await case_by_token(session, token)
    if case is None:
        return _not_found()
    return await _render_case(session, token, case)


@router.post("/{token}/quote", response_class=HTMLResponse)
async def quote_form(
    token: str,
    session: SessionDep,
    res: ResourcesDep,
    approve: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Form()] = None,
) -> Response:
    ref = TokenRef(session, token)
    case = await ref.find()
    if case is None:
        return _not_found()
    choice = {"true": True, "false": False}.get((approve or "").strip().lower())
    if choice is None:
        message = N_("Please choose Approve quote or Decline quote.")
        return await _render_case(session, token, case, 422, message)
    try:
        commands = await Commands.of(res, session, idempotency_key)
        await send_quote(commands, ref, choice, {"approve": choice}, FormSent, _form_sent)
    except (Problem, WorkflowUpdateFailedError, RPCError) as exc:
        return await _refused(session, token, _problem(exc), "quote")
    return _see_other(token)


@router.post("/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_form(
    token: str,
    session: SessionDep,
    res: ResourcesDep,
    stage: Annotated[str | None, Form()] = None,
    preferred_after: Annotated[str | None, Form()] = None,
    idempotency_key: Annotated[str | None, Form()] = None,
) -> Response:
    ref = TokenRef(session, token)
    case = await ref.find()
    if case is None:
        return _not_found()
    if stage not in {s.value for s in Stage} | {VISIT}:
        message = N_("Please use the Reschedule button of the visit you want to move.")
        return await _render_case(session, token, case, 422, message)
    try:
        after = _preferred_after(preferred_after, _now().date())
    except ValueError:
        return await _render_case(session, token, case, 422, _BAD_DATE)
    try:
        commands = await Commands.of(res, session, idempotency_key)
        body = {"stage": stage, "preferred_after": after.isoformat() if after else None}
        await send_reschedule(commands, ref, stage, after, body, FormSent, _form_sent)
    except (Problem, WorkflowUpdateFailedError, RPCError) as exc:
        return await _refused(session, token, _problem(exc), "reschedule")
    return _see_other(token)


_BAD_DATE = N_("Please pick a date from tomorrow onwards, or leave the date empty.")


def _preferred_after(value: str | None, today: date) -> datetime | None:
    if not value or not value.strip():
        return None
    day = date.fromisoformat(value.strip())
    if day <= today:
        raise ValueError("a preferred date must be in the future")
    preferred = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # The JSON endpoint's bound (Moment): a year-9999 date would overflow the workflow's sums.
    if preferred >= LATEST_MOMENT:
        raise ValueError("a preferred date must be a plausible one")
    return preferred


# ------------------------------------------------------------------ rendering


async def _render_case(
    session: AsyncSession,
    token: str,
    case: models.Case,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    bundle = await load_case_bundle(session, case)
    shop = await organisation(session, case.org_id)
    customer = bundle.customer
    reader = reader_of(
        customer.locale if customer else None, customer.time_zone if customer else None, shop
    )
    t = reader.t
    context = await _case_context(session, token, bundle, shop, t)
    # Messages are written as their English msgids (N_) and read in the customer's words.
    words = t.gettext(message) if message else message
    return _html("track_case.html", {**context, "message": words}, status_code)


async def _case_context(
    session: AsyncSession,
    token: str,
    bundle: CaseBundle,
    shop: models.Organisation | None,
    t: Translator,
) -> dict[str, Any]:
    case = bundle.case
    now = _now()
    today = t.local(now).date()
    tracked = _tracked(bundle)
    facts = tracked.facts
    linked = await _linked_bundle(session, case)
    actions = {a.action: a for a in await customer_actions(session, bundle)}
    # The linked case's certificates and the labels the customer must print open with
    # this page's token too (the documents endpoint accepts a parent case's token).
    linked_documents = [
        d for d in (linked.documents if linked else []) if d.kind in CUSTOMER_DOCUMENT_KINDS
    ]
    documents = {
        d.id: DocumentLink(
            document_words(d.kind, t),
            f"/v1/documents/{d.id}?token={token}",
            download_words(d.kind, t),
        )
        for d in [*bundle.documents, *linked_documents]
    }
    reschedule = _reschedule_form(facts, today, actions.keys())
    return {
        "i18n": t,
        "lang": t.locale,
        "token": token,
        # Each rendered form carries its own key: a double-clicked or resent form is one
        # command, and a form rendered afresh is a new one.
        "form_key": secrets.token_urlsafe(16),
        "shop_name": shop.name if shop else "",
        "noun": case_noun(case.case_type, t),
        "your_case": your_case(case.case_type, t),
        "case_title": case_title(case.case_type, t),
        "case_id": case.id,
        "product": _product(facts),
        "first_name": facts.customer_first_name if facts else "",
        "status": _status(case, t),
        "next": next_step(tracked, now, _tracked(linked) if linked else None, t=t),
        "label": _label_link(actions.get("ship_parcel"), documents),
        "payment_url": tracked.payment_action.url if tracked.payment_action else None,
        "quote": await _quote_form(session, case, t) if "approve_quote" in actions else None,
        "reschedule": reschedule,
        "reschedule_stage": stage_words(reschedule.stage, t) if reschedule else "",
        "linked": None
        if linked is None
        else LinkedCase(your_case(linked.case.case_type, t), _status(linked.case, t).headline),
        "documents": list(documents.values()),
        # Asked once the case has ended, until the customer has answered.
        "feedback_open": case_ended(case.status) and bundle.feedback is None,
        "feedback_given": bundle.feedback is not None,
        "done": _done_steps(bundle, today, t),
        "to_come": remaining_steps(
            case.case_type,
            case.status,
            resolution=case.resolution,
            coverage=case.coverage,
            mode=facts.mode.value if isinstance(facts, ReplacementFacts) and facts.mode else None,
            t=t,
        ),
    }


def _tracked(bundle: CaseBundle) -> TrackedCase:
    case = bundle.case
    return TrackedCase(
        case_type=case.case_type,
        status=case.status,
        facts=facts_of(case.case_type, case.data),
        events=[TimelineFact(e.at, e.event, _page_detail(e.detail)) for e in bundle.timeline],
        resolution=case.resolution,
        coverage=case.coverage,
        currency=case.currency,
        payment_action=payment_action_of(case.data),
    )


def _status(case: models.Case, t: Translator) -> StatusWords:
    return status_words(
        case.case_type, case.status, resolution=case.resolution, outcome=case.outcome, t=t
    )


def _done_steps(bundle: CaseBundle, today: date, t: Translator) -> list[DoneStep]:
    steps = []
    for event in bundle.timeline:
        detail = _page_detail(event.detail)
        title = event_title(bundle.case.case_type, event.event, detail, t)
        if title is None:
            continue
        note = event_note(detail, bundle.case.currency, today, t)
        when = human_date(event.at, today, t)
        steps.append(DoneStep(title, when, event.at.isoformat(), note))
    return steps


def _page_detail(detail: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in detail.items() if k in _PAGE_DETAIL}


async def _linked_bundle(session: AsyncSession, case: models.Case) -> CaseBundle | None:
    """The case a return or a repair carries on as (its repair or replacement), whose state
    is what the customer waits for while the parent is resolving."""
    if case.case_type not in ("rma", "repair"):
        return None
    linked_id = case.links.get("replacement_id") or (
        case.links.get("repair_id") if case.case_type == "rma" else None
    )
    linked = await case_by_id(session, linked_id) if linked_id else None
    return await load_case_bundle(session, linked) if linked else None


async def _quote_form(session: AsyncSession, case: models.Case, t: Translator) -> QuoteForm | None:
    repair = await repair_of(session, case)
    quote = RepairFacts.from_data(repair.data).quote if repair else None
    if repair is None or quote is None:
        return None
    parts = money_words(quote.parts_total, repair.currency, t)
    labour = money_words(quote.labor_total, repair.currency, t)
    return QuoteForm(
        amount=money_words(quote.total, repair.currency, t),
        breakdown=t.gettext(N_("Parts {parts}, labour {labour}")).format(
            parts=parts, labour=labour
        ),
    )


def _reschedule_form(
    facts: CaseFacts | None, today: date, actions: Collection[str]
) -> RescheduleForm | None:
    if isinstance(facts, InstallationFacts) and facts.appointment is not None:
        stage = VISIT
    elif isinstance(facts, RelocationFacts) and facts.appointment is not None:
        stage = facts.appointment.stage.value
    else:
        return None
    if f"reschedule_{stage}" not in actions:
        return None
    return RescheduleForm(stage, facts.reschedules_left, (today + timedelta(days=1)).isoformat())


def _product(facts: CaseFacts | None) -> str:
    if isinstance(facts, RepairFacts):
        return facts.unit.product_name
    if isinstance(facts, RelocationFacts | InstallationFacts):
        return facts.asset.product_name
    if isinstance(facts, ServicePlanFacts):
        return facts.plan_name
    return ""


def _label_link(
    action: CustomerAction | None, documents: dict[str, DocumentLink]
) -> DocumentLink | None:
    """The label the customer must print now, when the next step is theirs to ship."""
    return documents.get(action.document_id or "") if action else None


# ------------------------------------------------------------------ responses


def _problem(exc: Problem | WorkflowUpdateFailedError | RPCError) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, WorkflowUpdateFailedError):
        return from_update_failure(exc)
    return temporal_unavailable()


async def _refused(session: AsyncSession, token: str, problem: Problem, action: str) -> Response:
    # The workflow may have moved on meanwhile: reload to show where it is now, with the
    # reason (loaded afresh, as an expired row cannot refresh itself lazily in async).
    forget_read_cases(session)
    case = await case_by_token(session, token)
    if case is None:
        return _not_found()
    status = problem.status if problem.status in (409, 503) else 409
    return await _render_case(session, token, case, status, refusal_words(problem.code, action))


def _see_other(token: str) -> Response:
    return RedirectResponse(f"/track/{token}", status_code=303, headers=SECURITY_HEADERS)


def _not_found() -> Response:
    return _html("track_not_found.html", {"shop_name": ""}, 404)


def page(template: str, context: dict[str, Any], status_code: int) -> Response:
    """A page of these templates with this page's styles and security headers (the
    built-in gateway's stand-in bank page is one)."""
    return _html(template, context, status_code)


def _html(template: str, context: dict[str, Any], status_code: int) -> Response:
    body = _env.get_template(template).render(styles=Markup(_STYLES), **context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def _now() -> datetime:
    return datetime.now(UTC)


# For the forms other modules add to this page (feedback): the same answers as its own.
render_case = _render_case
refused = _refused
not_found_page = _not_found


def see_other(token: str, fragment: str = "") -> Response:
    return RedirectResponse(f"/track/{token}{fragment}", status_code=303, headers=SECURITY_HEADERS)
