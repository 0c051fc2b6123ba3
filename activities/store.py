"""Read-model activities: the workflow keeps the database's view of its case current."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities import stubs
from activities.bad_data import refuses_bad_data
from db import models, projection
from db.outbox import (
    Dispatches,
    OutboundCase,
    OutboxConfig,
    PendingDelivery,
    pending_deliveries,
    table_of,
)
from db.queries import plan_terms
from db.types import utcnow
from db.writer import ReadModelWriter
from domain.common import CLOSED_STATUSES, CaseKind, Customer
from domain.contracts.events import CaseEvent
from domain.contracts.facts import CUSTOMER_FIRST_NAME
from domain.contracts.store import (
    CaseProjection,
    ClaimingCase,
    CustomerChange,
    InstallAsset,
    InstalledAsset,
    MoveAsset,
    NewCase,
    PlanFound,
    PlanLookup,
    PlanTermsAnswer,
    PlanTermsRequest,
    SerialClaim,
    SerialClaimResult,
    SerialRelease,
)
from domain.service_plan import TERMINAL_PLAN_STATUSES
from observability import metrics

R = TypeVar("R")

_OPEN_SERIALS = table_of(models.OpenSerial)
# Built once, values bound at execution: the claims already held on some of an
# organisation's serials.
_HELD = select(_OPEN_SERIALS.c.serial, _OPEN_SERIALS.c.case_id).where(
    _OPEN_SERIALS.c.org_id == bindparam("org_id"),
    _OPEN_SERIALS.c.serial.in_(bindparam("serials", expanding=True)),
)


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
        writer: ReadModelWriter | None = None,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.dispatcher = dispatcher
        # Where the steps' transactions run (the worker's has a thread of its own).
        self.writer = writer or ReadModelWriter.on_loop(sessions)

    @activity.defn
    @refuses_bad_data
    async def record_case(self, new: NewCase) -> None:
        """Insert the case, its customer, items and first timeline entries (once). A retry
        after the commit answers what the first attempt stored."""

        async def write(
            session: AsyncSession, *, careful: bool
        ) -> tuple[list[PendingDelivery], None]:
            return await self._record(session, new, stored=None if careful else False), None

        await self._written_once(write)

    @activity.defn
    @refuses_bad_data
    async def claim_serials(self, claim: SerialClaim) -> SerialClaimResult:
        """Claim every serial for the case, all or none: the open_serials primary key lets
        one open case hold a serial, however many ask at once. Claiming again for the same
        case (a retried activity) succeeds."""

        async def write(session: AsyncSession) -> str | None:
            return await _claim(session, claim.org_id, claim.case_id, claim.serials)

        try:
            return SerialClaimResult((await self.writer.transaction(write))[0])
        except IntegrityError:
            # A concurrent claim committed first: the serial is that case's now.
            async with self.sessions() as session:
                holder = await _holder(session, claim.org_id, claim.case_id, claim.serials)
            if holder is None:
                raise  # not a lost race (an unknown organisation, say)
            return SerialClaimResult(held_by=holder)

    @activity.defn
    @refuses_bad_data
    async def record_claiming(self, case: ClaimingCase) -> SerialClaimResult:
        """`claim_serials` and `record_case` in one transaction: the case is stored with its
        claims, or (another open case holding one of its units) as `case.if_held` says with
        none; data the database refuses stores nothing, claims included. A retry after the
        commit answers what the first attempt stored."""
        new = case.new

        async def write(
            session: AsyncSession, *, careful: bool
        ) -> tuple[list[PendingDelivery], str | None]:
            stored = await projection.case_status(session, new.case_id) if careful else None
            if stored is None:
                held_by = await _claim(
                    session, new.org_id, new.case_id, case.serials, look_first=careful
                )
                recorded = new if held_by is None else case.if_held.instead_of(new)
                return await self._record(session, recorded, stored=False), held_by
            pending = await self._record(session, new, stored=True)
            if stored == new.status:
                return pending, None
            # Stored as refused; its holder may have closed since.
            held = await _holder(session, new.org_id, new.case_id, case.serials)
            return pending, held or ""

        return SerialClaimResult(await self._written_once(write))

    async def _written_once(
        self, write: Callable[..., Awaitable[tuple[list[PendingDelivery], R]]]
    ) -> R:
        """Run a new case's `write` in a transaction, hand over what it wrote to the outbox
        and answer what it answers. At first straight to its inserts (`careful` False): a case
        is new but once, and one stored already fails them on its primary key, as does a unit
        another open case holds (or claims at that moment). Then once more, `careful`: it
        looks first. A second failure is neither (an unknown organisation, say): bad data."""
        for careful in (False, True):
            try:
                (pending, answer), noted = await self.writer.transaction(
                    functools.partial(write, careful=careful)
                )
                break
            except IntegrityError:
                if careful:
                    raise
        await self.after_commit(noted, pending)
        return answer

    @activity.defn
    async def release_serials(self, release: SerialRelease) -> None:
        """Give up a case's claims (a case that will never be recorded, so never closed)."""
        await self.writer.transaction(
            lambda session: session.execute(
                delete(models.OpenSerial).where(models.OpenSerial.case_id == release.case_id)
            )
        )

    @activity.defn
    @refuses_bad_data
    async def project(self, change: CaseProjection) -> None:
        """Bring the case row up to date and append timeline entries not yet stored."""
        pending, noted = await self.writer.transaction(
            functools.partial(self.project_in, change=change)
        )
        await self.after_commit(noted, pending)

    async def project_in(
        self, session: AsyncSession, change: CaseProjection, row: projection.CaseRow | None = None
    ) -> list[PendingDelivery]:
        """`project` inside a transaction of the caller's (one that stores what the change
        comes with, and may have read the case's `row` already); the caller `dispatch`es
        what it answers once that commits."""
        return await projection.update_case(
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
            row=row,
        )

    async def _record(
        self, session: AsyncSession, new: NewCase, *, stored: bool | None = None
    ) -> list[PendingDelivery]:
        """Insert the case unless stored (looked up unless the caller knows); answer what
        waits to be handed over for its first entries."""
        if stored is None:
            stored = await projection.case_recorded(session, new.case_id)
        if stored:
            return await pending_deliveries(session, new.case_id, [e.seq for e in new.timeline])
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
        return await projection.insert_case(
            session,
            case,
            customer={
                "org_id": new.org_id,
                "name": new.customer.name,
                "email": new.customer.email,
                "phone": new.customer.phone,
                "address": _address_json(new.customer),
                "locale": new.customer.locale,
                "time_zone": new.customer.time_zone,
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

    async def after_commit(self, noted: dict[str, Any], pending: list[PendingDelivery]) -> None:
        """What follows a committed projection: count what it stored first (cases started
        and ended, SLA breaches; `noted`, the transaction's session's `info`), then hand its
        outbox rows over."""
        count_stored_first(projection.stored_first(noted))
        await self.dispatch(pending)

    async def dispatch(self, pending: list[PendingDelivery]) -> None:
        """Hand what a committed transaction wrote to the outbox on to its delivery queues."""
        if pending and self.dispatcher is not None:
            await self.dispatcher.dispatch(pending)

    @activity.defn
    @refuses_bad_data
    async def move_asset(self, move: MoveAsset) -> None:
        """The asset now stands at its new site (idempotent: the same site twice is a no-op)."""

        async def write(session: AsyncSession) -> None:
            asset = await session.get(models.Asset, move.asset_id, with_for_update=True)
            if asset is None:
                raise LookupError(f"asset {move.asset_id} not found")
            asset.site = move.site.to_json()
            asset.moved_by_case_id = move.case_id
            asset.updated_at = utcnow()

        await self.writer.transaction(write)

    @activity.defn
    @refuses_bad_data
    async def install_asset(self, install: InstallAsset) -> InstalledAsset:
        """The unit stands at the site now: its asset made (or, seen before, moved there),
        with the installation as what last placed it. Idempotent: a retry finds it there."""
        found = select(models.Asset).where(
            models.Asset.org_id == install.org_id,
            models.Asset.sku == install.sku,
            models.Asset.serial == install.serial,
        )
        site = install.site.to_json()

        async def write(session: AsyncSession) -> InstalledAsset:
            asset = await session.scalar(found.with_for_update())
            if asset is None:
                asset = models.Asset(
                    org_id=install.org_id,
                    sku=install.sku,
                    serial=install.serial,
                    site=site,
                    created_at=utcnow(),
                )
                session.add(asset)
            asset.site = site
            asset.moved_by_case_id = install.case_id
            asset.updated_at = utcnow()
            await session.flush()
            return InstalledAsset(asset.id)

        try:
            return (await self.writer.transaction(write))[0]
        except IntegrityError:
            # Made meanwhile by another case (a relocation ordered for the serial): this
            # attempt is retried and finds it.
            raise RuntimeError(f"asset {install.serial} was created concurrently") from None

    @activity.defn
    @refuses_bad_data
    async def replace_customer(self, change: CustomerChange) -> None:
        """A new owner (a transferred plan): the case points at their record from now on."""

        async def write(session: AsyncSession) -> None:
            case = await session.get(models.Case, change.case_id, with_for_update=True)
            if case is None:
                raise LookupError(f"case {change.case_id} not recorded")
            record = models.CustomerRecord(
                org_id=case.org_id,
                name=change.customer.name,
                email=change.customer.email,
                phone=change.customer.phone,
                address=_address_json(change.customer),
                locale=change.customer.locale,
                time_zone=change.customer.time_zone,
                created_at=utcnow(),
            )
            session.add(record)
            await session.flush()
            case.customer_id = record.id
            case.data = {**case.data, CUSTOMER_FIRST_NAME: change.customer.first_name}
            if change.tracking_token:
                case.tracking_token = change.tracking_token

        await self.writer.transaction(write)

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


async def _claim(
    session: AsyncSession, org_id: str, case_id: str, serials: list[str], *, look_first: bool = True
) -> str | None:
    """Claim the serials for the case in the session's transaction, all or none; answer the
    open case holding one already (nothing claimed) or None. A concurrent claim of one of
    them fails the transaction with an `IntegrityError` (the open_serials primary key).
    Without `look_first` it claims straight away, and a serial held already (by any case,
    this one included) fails the transaction the same way: for a first attempt, whose caller
    then tries again looking first."""
    wanted = sorted(set(serials))
    table = _OPEN_SERIALS
    held = (
        (await session.execute(_HELD, {"org_id": org_id, "serials": wanted})).all()
        if look_first
        else []
    )
    others: list[str] = [holder for _, holder in held if holder != case_id]
    if others:
        return others[0]
    mine = {serial for serial, _ in held}
    rows = [
        {"org_id": org_id, "serial": serial, "case_id": case_id}
        for serial in wanted
        if serial not in mine
    ]
    if rows:
        await session.execute(insert(table), rows)
    return None


async def _holder(
    session: AsyncSession, org_id: str, case_id: str, serials: list[str]
) -> str | None:
    """Another open case holding one of the serials, if any."""
    table = _OPEN_SERIALS
    return await session.scalar(
        select(table.c.case_id)
        .where(
            table.c.org_id == org_id,
            table.c.serial.in_(sorted(set(serials))),
            table.c.case_id != case_id,
        )
        .limit(1)
    )


# The worker imports this module once: every case type's series exist from then on.
metrics.start_case_series(kind.value for kind in CaseKind)


def count_stored_first(stored: list[projection.StoredFirst]) -> None:
    """The worker's case metrics: a case row is a case started; an entry that moves a case
    into a closed status ends it with that status as its outcome."""
    for first in stored:
        if first.event is None:
            metrics.count_case_started(first.case_type)
            continue
        if first.status in CLOSED_STATUSES and first.previous_status not in CLOSED_STATUSES:
            metrics.count_case_ended(first.case_type, first.status)
        if first.event == CaseEvent.SLA_BREACHED:
            metrics.count_sla_breach(first.case_type)


def _address_json(customer: Customer) -> dict[str, Any] | None:
    """The customer's address without a name: the customer's own name is kept beside it."""
    if customer.address is None:
        return None
    stored: dict[str, Any] = customer.address.to_json()
    del stored["name"]
    return stored
