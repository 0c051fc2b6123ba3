"""Campaign emails and warranty-end notices, a page per activity: each page is one
transaction that writes its emails (the outbox) with the rows saying they were sent, so a
page retried after a crash sends what is left and nothing twice. Emails that go through
SMTP are then handed to their delivery queue as the case emails are."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.heartbeat import heartbeating
from db import campaigns, models
from db.outbox import Dispatches, OutboxConfig, PendingDelivery
from db.readers import reader_of
from domain.campaign import (
    CampaignEnd,
    DiscoverPage,
    DiscoverResult,
    SendPage,
    SendResult,
    WarrantyPage,
    WarrantyPageResult,
)
from presentation.campaign_emails import campaign_letter, warranty_letter


def offer_url(base_url: str, slug: str, token: str) -> str:
    """Where a campaign's offer is taken up: the retailer's return portal, with the token."""
    return f"{base_url}/returns/{slug}/campaign/{token}"


class CampaignActivities(stubs.CampaignActivities):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        outbox: OutboxConfig,
        dispatcher: Dispatches | None = None,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.dispatcher = dispatcher

    @activity.defn
    async def discover_recipients(self, page: DiscoverPage) -> DiscoverResult:
        """One page of the owners of matching units, each customer and serial added once."""
        async with heartbeating(), self.sessions.begin() as session:
            campaign = await session.get(models.Campaign, page.campaign_id)
            if campaign is None:
                return DiscoverResult(0)
            owners, cursor = await campaigns.owner_page(
                session, campaigns.Matching.of(campaign), page.cursor, page.limit
            )
            found = await campaigns.add_recipients(session, campaign.id, owners)
        return DiscoverResult(found, cursor)

    @activity.defn
    async def send_campaign_page(self, page: SendPage) -> SendResult:
        async with heartbeating():
            async with self.sessions.begin() as session:
                campaign = await session.get(models.Campaign, page.campaign_id)
                retailer = (
                    await session.get(models.Organisation, campaign.org_id) if campaign else None
                )
                base, slug = self.outbox.public_base_url, retailer.slug if retailer else ""
                name = retailer.name if retailer else ""
                # A campaign's recipients named no language: the retailer's default.
                words = reader_of(None, None, retailer).t

                def compose(
                    campaign: models.Campaign, recipient: models.CampaignRecipient, token: str
                ) -> campaigns.CampaignEmail:
                    link = offer_url(base, slug, token) if campaign.offer != "none" else ""
                    letter = campaign_letter(
                        subject=campaign.subject,
                        message=campaign.message,
                        customer_name=recipient.customer_name,
                        serial=recipient.serial,
                        offer=campaign.offer,
                        offer_url=link,
                        retailer=name,
                        t=words,
                    )
                    return campaigns.CampaignEmail(letter.subject, letter.body, link)

                sent, left, cancelled, pending = await campaigns.send_page(
                    session, page.campaign_id, page.limit, self.outbox, compose
                )
            await self._hand_over(pending)
        return SendResult(sent, left, cancelled)

    @activity.defn
    async def finish_campaign(self, end: CampaignEnd) -> None:
        async with self.sessions.begin() as session:
            await campaigns.finish_campaign(session, end.campaign_id, end.cancelled)

    @activity.defn
    async def send_warranty_notices(self, page: WarrantyPage) -> WarrantyPageResult:
        """The notices due among one page of order lines, each unit's once."""
        async with heartbeating():
            async with self.sessions.begin() as session:
                units, last = await campaigns.warranty_page(
                    session, page.now, page.after_line, page.limit
                )
                pending: list[PendingDelivery] = []
                notified = 0
                for unit in units:
                    letter = warranty_letter(
                        customer_name=unit.name,
                        product=unit.product_name,
                        serial=unit.serial,
                        ends_at=unit.ends_at,
                        plans=unit.plans,
                        retailer=unit.retailer,
                        t=unit.reader.t,
                    )
                    written, queued = await campaigns.record_warranty_notice(
                        session, unit, letter.subject, letter.body, "", self.outbox
                    )
                    notified += written
                    if queued is not None:
                        pending.append(queued)
            await self._hand_over(pending)
        return WarrantyPageResult(notified, last)

    async def _hand_over(self, pending: list[PendingDelivery]) -> None:
        if pending and self.dispatcher is not None:
            await self.dispatcher.dispatch(pending)
