"""A campaign's offer, taken up by the customer from the link in its email: a page under
the retailer's return portal (`/returns/{slug}/campaign/{token}`) and its JSON twin. The
case starts through the same start code as the retailer's API (`create_repair`,
`start_replacement`), with coverage `campaign`: no return window, no warranty, no quote.
One case per recipient: a second try (a double click, the link opened again) shows the
case already started."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, status
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, StringConstraints, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import OrgKind, Principal
from api.commands import Commands
from api.deps import AsyncSession, Resources, ResourcesDep, SessionDep
from api.errors import Problem, not_found
from api.routes import tracking_page
from api.routes.repairs import create_repair
from api.routes.replacements import start_replacement
from api.schemas.common import NO_CONTROL_BUT_NEWLINE, CustomerIn, Strict
from api.schemas.repair import RepairCreate
from api.schemas.replacement import ReplacementCreate
from db.campaigns import Offer, offer_by_token, record_response
from db.cases import case_by_id
from db.organisations import organisation
from db.readers import reader_of
from domain.campaign import CampaignOffer, CampaignStatus
from domain.replacement import ReplacementMode
from presentation.i18n import N_

router = APIRouter(tags=["campaigns"])

Fault = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), NO_CONTROL_BUT_NEWLINE
]


class OfferTaken(Strict):
    fault: Fault = ""


class OfferCase(BaseModel):
    case_type: str
    case_id: str
    status: str
    tracking_token: str


_STARTED = {
    CampaignOffer.REPAIR: N_("Your repair has started"),
    CampaignOffer.REPLACEMENT: N_("Your replacement has started"),
}
_START = {
    CampaignOffer.REPAIR: N_("Start my free repair"),
    CampaignOffer.REPLACEMENT: N_("Start my free replacement"),
}


@router.post(
    "/v1/campaign-offers/{token}",
    status_code=status.HTTP_201_CREATED,
    response_model=OfferCase,
    summary="Take up a campaign's offer: starts the repair or replacement (coverage campaign)",
)
async def take_offer(
    token: str, body: OfferTaken, session: SessionDep, res: ResourcesDep
) -> OfferCase:
    offer = await _offer(session, token, None)
    return await start_offer(session, res, offer, body.fault)


@router.get("/returns/{slug}/campaign/{token}", include_in_schema=False)
async def offer_page(slug: str, token: str, session: SessionDep) -> Response:
    try:
        offer = await _offer(session, token, slug)
    except Problem:
        return tracking_page.not_found_page()
    return await _render(session, offer, token)


@router.post("/returns/{slug}/campaign/{token}", include_in_schema=False)
async def offer_form(
    slug: str,
    token: str,
    session: SessionDep,
    res: ResourcesDep,
    fault: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        offer = await _offer(session, token, slug)
    except Problem:
        return tracking_page.not_found_page()
    try:
        body = OfferTaken(fault=(fault or "").replace("\r\n", "\n"))
    except ValidationError:
        return await _render(
            session, offer, token, N_("Please describe it in 2000 characters or fewer."), 422
        )
    try:
        started = await start_offer(session, res, offer, body.fault)
    except (Problem, WorkflowUpdateFailedError, RPCError) as exc:
        detail = exc.detail if isinstance(exc, Problem) else "please try again in a few minutes"
        return await _render(session, offer, token, f"We couldn't start it: {detail}.", 409)
    return RedirectResponse(
        f"/track/{started.tracking_token}",
        status_code=303,
        headers=tracking_page.SECURITY_HEADERS,
    )


async def start_offer(session: AsyncSession, res: Resources, offer: Offer, fault: str) -> OfferCase:
    """The recipient's case: the one already started, or a new one through the API's start
    code as the retailer (the campaign is its offer), under a key of the recipient's, so
    two tries at once start one case."""
    campaign, recipient = offer.campaign, offer.recipient
    kind = CampaignOffer(campaign.offer)
    if kind is CampaignOffer.NONE:
        raise Problem(409, "no_offer", "this campaign offers no repair or replacement")
    if recipient.response_case_id:
        existing = await case_by_id(session, recipient.response_case_id)
        if existing is not None:
            return OfferCase(
                case_type=existing.case_type,
                case_id=existing.id,
                status=existing.status,
                tracking_token=existing.tracking_token,
            )
    if campaign.status == CampaignStatus.CANCELLED:
        raise Problem(409, "campaign_cancelled", "this campaign has been withdrawn")
    if not recipient.customer_address:
        raise Problem(
            409,
            "address_unknown",
            "we don't know where to send the unit; please contact the shop",
        )
    customer = CustomerIn.model_validate(
        {
            "name": recipient.customer_name,
            "email": recipient.email,
            "phone": recipient.customer_phone,
            "address": {k: v for k, v in recipient.customer_address.items() if v not in (None, "")},
        }
    )
    principal = Principal(OrgKind.RETAILER, campaign.org_id)
    key = f"campaign-offer:{campaign.id}:{recipient.id}"
    commands = await Commands.of(res, session, key)
    fault = fault or f"{campaign.name}: {campaign.subject}"
    if kind is CampaignOffer.REPAIR:
        case: Any = await create_repair(
            RepairCreate.model_validate(
                {
                    "unit": {
                        "sku": recipient.sku,
                        "serial": recipient.serial,
                        # As the API reads it: RFC 3339 text.
                        "purchased_at": (recipient.purchased_at or campaign.created_at).isoformat(),
                    },
                    "fault": fault,
                    "customer": customer,
                    "coverage": "campaign",
                }
            ),
            principal,
            commands,
        )
        case_type = "repair"
    else:
        case = await start_replacement(
            ReplacementCreate(
                mode=ReplacementMode.STANDARD,
                unit={"sku": recipient.sku, "serial": recipient.serial},
                customer=customer,
            ),
            principal,
            commands,
            coverage="campaign",
        )
        case_type = "replacement"
    await record_response(session, recipient.id, case.id)
    return OfferCase(
        case_type=case_type,
        case_id=case.id,
        status=case.status,
        tracking_token=case.tracking_token or "",
    )


async def _offer(session: AsyncSession, token: str, slug: str | None) -> Offer:
    offer = await offer_by_token(session, token)
    if offer is None or (slug is not None and offer.slug != slug):
        raise not_found("offer")
    return offer


async def _render(
    session: AsyncSession,
    offer: Offer,
    token: str,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    campaign, recipient = offer.campaign, offer.recipient
    kind = CampaignOffer(campaign.offer)
    started = (
        await case_by_id(session, recipient.response_case_id)
        if recipient.response_case_id
        else None
    )
    shop = await organisation(session, campaign.org_id)
    # The recipient named no language: the retailer's default.
    t = reader_of(None, None, shop).t
    context = {
        "i18n": t,
        "lang": t.locale,
        "shop_name": shop.name if shop else "",
        "campaign_name": campaign.name,
        "headline": campaign.subject,
        "message": campaign.message,
        "first_name": (recipient.customer_name.split() or [""])[0],
        "serial": recipient.serial,
        "error": t.gettext(error) if error else error,
        "started_title": t.gettext(_STARTED.get(kind, N_("Your case has started"))),
        "tracking_url": f"/track/{started.tracking_token}" if started else None,
        "can_start": kind is not CampaignOffer.NONE and campaign.status != CampaignStatus.CANCELLED,
        "start_label": t.gettext(_START[kind]) if kind in _START else "",
        "action": f"/returns/{offer.slug}/campaign/{token}",
    }
    return tracking_page.page("campaign_offer.html", context, status_code)
