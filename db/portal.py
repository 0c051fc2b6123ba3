"""The return portal's records: products' troubleshooting steps, customers' lookups (by the
token's hash), the lookup rate windows, deflections, and which order lines are already in
an open case."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.queries import serials_in_open_cases
from domain.common import CLOSED_STATUSES


def token_hash(token: str) -> str:
    """What the database keeps of a lookup token (256 random bits: a plain hash suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------ troubleshooting


@dataclass(frozen=True)
class Step:
    title: str
    body: str


async def replace_steps(session: AsyncSession, product_id: str, steps: Sequence[Step]) -> None:
    """The product's troubleshooting steps become `steps`, in one transaction (commits)."""
    table = models.TroubleshootingStep
    await session.execute(delete(table).where(table.product_id == product_id))
    if steps:
        await session.execute(
            insert(table),
            [
                {"product_id": product_id, "position": n, "title": s.title, "body": s.body}
                for n, s in enumerate(steps, start=1)
            ],
        )
    await session.commit()


async def steps_by_sku(
    session: AsyncSession, org_id: str, skus: Iterable[str]
) -> dict[str, list[Step]]:
    """The troubleshooting steps of each of the retailer's `skus` that has some, in order."""
    step = models.TroubleshootingStep
    rows = await session.execute(
        select(models.Product.sku, step.title, step.body)
        .join(models.Product, models.Product.id == step.product_id)
        .where(models.Product.org_id == org_id, models.Product.sku.in_(set(skus)))
        .order_by(models.Product.sku, step.position)
    )
    found: dict[str, list[Step]] = {}
    for sku, title, body in rows:
        found.setdefault(sku, []).append(Step(title, body))
    return found


async def products_of(
    session: AsyncSession, org_id: str, skus: Iterable[str]
) -> list[models.Product]:
    """Those of `skus` the retailer's catalog has."""
    found = await session.scalars(
        select(models.Product).where(
            models.Product.org_id == org_id, models.Product.sku.in_(set(skus))
        )
    )
    return list(found.all())


# ------------------------------------------------------------ rate windows


async def count_lookup(session: AsyncSession, client: str, now: datetime) -> tuple[int, datetime]:
    """Count one lookup for `client` in the current minute (commits): how many it has made
    in that minute, this one included, and when the minute ends. One upsert, so concurrent
    lookups on any API process are all counted."""
    table = models.PortalRateWindow
    start = now.replace(second=0, microsecond=0)
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    count = await session.scalar(
        upsert.values(client=client, window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=[table.client, table.window_start], set_={"count": table.count + 1}
        )
        .returning(table.count)
    )
    # Past minutes count for nothing: keep the table the size of one minute's clients.
    await session.execute(delete(table).where(table.window_start < start))
    await session.commit()
    assert count is not None
    return count, start + timedelta(minutes=1)


# ------------------------------------------------------------ lookups


async def add_lookup(
    session: AsyncSession, org_id: str, order_id: str, token: str, now: datetime, ttl: timedelta
) -> None:
    """Remember a lookup by its token's hash until `now + ttl` (commits); expired ones go."""
    table = models.PortalLookup
    await session.execute(delete(table).where(table.expires_at <= now))
    session.add(
        table(
            org_id=org_id,
            order_id=order_id,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.commit()


async def live_lookup(
    session: AsyncSession, org_id: str, token: str, now: datetime
) -> models.PortalLookup | None:
    """The organisation's unexpired lookup this token opens, if any."""
    table = models.PortalLookup
    return await session.scalar(
        select(table).where(
            table.token_hash == token_hash(token), table.org_id == org_id, table.expires_at > now
        )
    )


# ------------------------------------------------------------ open cases


async def lines_in_open_cases(
    session: AsyncSession, org_id: str, order_ref: str, lines: Sequence[models.OrderLine]
) -> set[int]:
    """The ids of `lines` already in an open case: a line with a serial when that unit is in
    one (from any order); a line without, when an open case of this order has its sku."""
    serials = [line.serial for line in lines if line.serial]
    held = set(await serials_in_open_cases(session, org_id, serials, "")) if serials else set()
    skus_in_cases = set(
        (
            await session.scalars(
                select(models.CaseItem.sku)
                .join(models.Case, models.Case.id == models.CaseItem.case_id)
                .where(
                    models.Case.org_id == org_id,
                    models.Case.order_ref == order_ref,
                    models.Case.status.not_in(CLOSED_STATUSES),
                    models.Case.case_type != "service_plan",
                )
            )
        ).all()
    )
    return {
        line.id
        for line in lines
        if (line.serial in held if line.serial else line.sku in skus_in_cases)
    }


# ------------------------------------------------------------ deflections


async def record_deflection(
    session: AsyncSession,
    lookup: models.PortalLookup,
    *,
    sku: str,
    serial: str | None,
    step: int,
    step_title: str,
    now: datetime,
) -> models.Deflection:
    """Record that a step fixed the unit (commits). A second one for the same lookup and
    sku is the first: the unique constraint keeps one."""
    table = models.Deflection
    dialect = session.get_bind().dialect.name
    add = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    await session.execute(
        add.values(
            id=models.new_id(),
            org_id=lookup.org_id,
            order_id=lookup.order_id,
            lookup_id=lookup.id,
            sku=sku,
            serial=serial,
            step=step,
            step_title=step_title,
            created_at=now,
        ).on_conflict_do_nothing(index_elements=[table.lookup_id, table.sku])
    )
    await session.commit()
    found = await session.scalar(
        select(table).where(table.lookup_id == lookup.id, table.sku == sku)
    )
    assert found is not None
    return found


async def key_used(session: AsyncSession, org_id: str, key: str) -> bool:
    """Whether a request with this `Idempotency-Key` (as stored) has been made."""
    table = models.IdempotencyRecord
    found = await session.scalar(
        select(table.id).where(table.org_id == org_id, table.key == key).limit(1)
    )
    return found is not None


async def has_document(session: AsyncSession, case_id: str, kind: str) -> bool:
    """Whether the case has a document of this kind yet (its return label, say)."""
    table = models.Document
    found = await session.scalar(
        select(table.id).where(table.case_id == case_id, table.kind == kind).limit(1)
    )
    return found is not None
