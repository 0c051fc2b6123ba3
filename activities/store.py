"""Read-model activities: the workflow keeps the database's view of its case current."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from db import models, projection
from db.outbox import Dispatches, OutboundCase, OutboxConfig, PendingDelivery, pending_deliveries
from db.queries import plan_terms
from db.types import utcnow
from domain.common import CLOSED_STATUSES, Customer
from domain.contracts.facts import CUSTOMER_FIRST_NAME

# Re-exported (`X as X`) until every workflow imports domain.contracts.
from domain.contracts.store import CaseItemRecord as CaseItemRecord
from domain.contracts.store import CaseProjection as CaseProjection
from domain.contracts.store import CustomerChange as CustomerChange
from domain.contracts.store import MoveAsset as MoveAsset
from domain.contracts.store import NewCase as NewCase
from domain.contracts.store import PlanFound as PlanFound
from domain.contracts.store import PlanLookup as PlanLookup
from domain.contracts.store import PlanTermsAnswer as PlanTermsAnswer
from domain.contracts.store import PlanTermsRequest as PlanTermsRequest
from domain.contracts.store import SerialClaim as SerialClaim
from domain.contracts.store import SerialClaimResult as SerialClaimResult
from domain.contracts.store import SerialRelease as SerialRelease
from domain.contracts.store import TimelineEntry as TimelineEntry
from domain.service_plan import TERMINAL_PLAN_STATUSES


class StoreActivities(stubs.StoreActivities):
    """`outbox` and `dispatcher` carry each timeline entry on to webhooks and emails: the
    outbox rows commit with the entry (`db.projection`), then the dispatcher takes them
    over (in the worker, `activities.handover.Handover`, which hands them to their delivery
    queues off the workflow task). A retried projection passes on again what an earlier
    attempt wrote and may not have passed on."""

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
    @refuses_bad_data
    async def record_case(self, new: NewCase) -> None:
        """Insert the case, its customer, items and first timeline entries (once)."""
        async with self.sessions.begin() as session:
            if await projection.case_recorded(session, new.case_id):
                pending = await pending_deliveries(
                    session, new.case_id, [e.seq for e in new.timeline]
                )
            else:
                case = OutboundCase(
                    id=new.case_id,
                    org_id=new.org_id,
                    case_type=new.case_type,
                    customer_id=models.new_id(),
                    receiving_org_id=new.receiving_org_id,
                    tracking_token=new.tracking_token,
                    links=new.links,
                    data=new.data,
                )
                pending = await projection.insert_case(
                    session,
                    case,
                    customer={
                        "org_id": new.org_id,
                        "name": new.customer.name,
                        "email": new.customer.email,
                        "phone": new.customer.phone,
                        "address": _address_json(new.customer),
                        "created_at": new.created_at,
                    },
                    columns={
                        "workflow_id": new.workflow_id,
                        "status": new.status,
                        "order_ref": new.order_ref,
                        "resolution": new.resolution,
                        "coverage": new.coverage,
                        "reason": new.reason,
                        "currency": new.currency,
                        "created_at": new.created_at,
                        "updated_at": new.created_at,
                    },
                    items=new.items,
                    timeline=new.timeline,
                    config=self.outbox,
                )
        await self._dispatch(pending)

    @activity.defn
    @refuses_bad_data
    async def claim_serials(self, claim: SerialClaim) -> SerialClaimResult:
        """Claim every serial for the case, all or none: the open_serials primary key lets
        one open case hold a serial, however many ask at once. Claiming again for the same
        case (a retried activity) succeeds."""
        serials = sorted(set(claim.serials))
        table = models.OpenSerial
        try:
            async with self.sessions.begin() as session:
                held = (
                    await session.execute(
                        select(table.serial, table.case_id).where(
                            table.org_id == claim.org_id, table.serial.in_(serials)
                        )
                    )
                ).all()
                others = [case_id for _, case_id in held if case_id != claim.case_id]
                if others:
                    return SerialClaimResult(held_by=others[0])
                mine = {serial for serial, _ in held}
                session.add_all(
                    table(org_id=claim.org_id, serial=serial, case_id=claim.case_id)
                    for serial in serials
                    if serial not in mine
                )
        except IntegrityError:
            # A concurrent claim committed first: the serial is that case's now.
            async with self.sessions() as session:
                holder = await session.scalar(
                    select(table.case_id)
                    .where(
                        table.org_id == claim.org_id,
                        table.serial.in_(serials),
                        table.case_id != claim.case_id,
                    )
                    .limit(1)
                )
            if holder is None:
                raise  # not a lost race (an unknown organisation, say)
            return SerialClaimResult(held_by=holder)
        return SerialClaimResult()

    @activity.defn
    async def release_serials(self, release: SerialRelease) -> None:
        """Give up a case's claims (a case that will never be recorded, so never closed)."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(models.OpenSerial).where(models.OpenSerial.case_id == release.case_id)
            )

    @activity.defn
    @refuses_bad_data
    async def project(self, change: CaseProjection) -> None:
        """Bring the case row up to date and append timeline entries not yet stored."""
        async with self.sessions.begin() as session:
            pending = await projection.update_case(
                session,
                change.case_id,
                status=change.status,
                updated_at=change.updated_at,
                fields=change.fields,
                data=change.data,
                links=change.links,
                timeline=change.timeline,
                config=self.outbox,
                closed_statuses=CLOSED_STATUSES,
            )
        await self._dispatch(pending)

    async def _dispatch(self, pending: list[PendingDelivery]) -> None:
        if pending and self.dispatcher is not None:
            await self.dispatcher.dispatch(pending)

    @activity.defn
    @refuses_bad_data
    async def move_asset(self, move: MoveAsset) -> None:
        """The asset now stands at its new site (idempotent: the same site twice is a no-op)."""
        async with self.sessions.begin() as session:
            asset = await session.get(models.Asset, move.asset_id, with_for_update=True)
            if asset is None:
                raise LookupError(f"asset {move.asset_id} not found")
            asset.site = move.site.to_json()
            asset.moved_by_case_id = move.case_id
            asset.updated_at = utcnow()

    @activity.defn
    @refuses_bad_data
    async def replace_customer(self, change: CustomerChange) -> None:
        """A new owner (a transferred plan): the case points at their record from now on."""
        async with self.sessions.begin() as session:
            case = await session.get(models.Case, change.case_id, with_for_update=True)
            if case is None:
                raise LookupError(f"case {change.case_id} not recorded")
            record = models.CustomerRecord(
                org_id=case.org_id,
                name=change.customer.name,
                email=change.customer.email,
                phone=change.customer.phone,
                address=_address_json(change.customer),
                created_at=utcnow(),
            )
            session.add(record)
            await session.flush()
            case.customer_id = record.id
            case.data = {**case.data, CUSTOMER_FIRST_NAME: change.customer.first_name}
            if change.tracking_token:
                case.tracking_token = change.tracking_token

    @activity.defn
    async def open_plan_of(self, lookup: PlanLookup) -> PlanFound:
        """The open service plan covering this serial, if any (the newest, should there be
        more than one)."""
        async with self.sessions() as session:
            found = (
                await session.execute(
                    select(models.Case.id, models.Case.workflow_id)
                    .join(models.CaseItem, models.CaseItem.case_id == models.Case.id)
                    .where(
                        models.Case.org_id == lookup.org_id,
                        models.Case.case_type == "service_plan",
                        models.Case.status.not_in([s.value for s in TERMINAL_PLAN_STATUSES]),
                        models.CaseItem.serial == lookup.serial,
                    )
                    .order_by(models.Case.created_at.desc())
                    .limit(1)
                )
            ).first()
        return PlanFound(*found) if found else PlanFound()

    @activity.defn
    async def current_plan_terms(self, request: PlanTermsRequest) -> PlanTermsAnswer:
        """The catalog's terms now, for a renewal (None if the plan left the catalog)."""
        async with self.sessions() as session:
            return PlanTermsAnswer(await plan_terms(session, request.org_id, request.code))


def _address_json(customer: Customer) -> dict[str, Any] | None:
    """The customer's address without a name: the customer's own name is kept beside it."""
    if customer.address is None:
        return None
    stored: dict[str, Any] = customer.address.to_json()
    del stored["name"]
    return stored
