"""Organisations (retailers, repair centers): made by the admin, read by every request
that needs their name, and locked while a quota is checked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from domain.portal import numbered_slug, slug_of

# Tries before giving up on a slug the constraint keeps refusing (requests racing for it).
_SLUG_RACES = 5


async def create_organisation(
    session: AsyncSession,
    name: str,
    kind: str,
    org_id: str | None = None,
    claim: Callable[[str], Awaitable[object]] | None = None,
) -> models.Organisation | None:
    """A new organisation (commits), its slug made from its name: the first of `acme`,
    `acme-2` … not taken; the unique constraint settles two requests taking one at once.

    Under `org_id` when given, with `claim(org_id)` (an `Idempotency-Key`'s record) written
    in the same transaction, so the key is never kept without its organisation; None when
    an organisation has that id already (a concurrent request with the same key made it)."""
    for _ in range(_SLUG_RACES):
        org = models.Organisation(
            id=org_id or models.new_id(), name=name, kind=kind, slug=await free_slug(session, name)
        )
        session.add(org)
        try:
            # The organisation's row first: the key's record refers to it.
            await session.flush()
            if claim is not None:
                await claim(org.id)
            await session.commit()
            return org
        except IntegrityError:
            await session.rollback()
            if org_id is not None and await organisation(session, org_id) is not None:
                return None
    raise RuntimeError("no free slug")  # pragma: no cover - five races lost in a row


async def free_slug(session: AsyncSession, name: str) -> str:
    """The first of the name's slug, `-2`, `-3` … that no organisation holds now."""
    stem = slug_of(name)
    taken = set(
        (
            await session.scalars(
                select(models.Organisation.slug).where(
                    models.Organisation.slug.startswith(stem, autoescape=True)
                )
            )
        ).all()
    )
    attempt = 0
    while numbered_slug(stem, attempt) in taken:
        attempt += 1
    return numbered_slug(stem, attempt)


async def organisation_by_slug(session: AsyncSession, slug: str) -> models.Organisation | None:
    return await session.scalar(select(models.Organisation).where(models.Organisation.slug == slug))


async def change_organisation(
    session: AsyncSession,
    org: models.Organisation,
    *,
    name: str | None,
    slug: str | None,
    default_locale: str | None = None,
    default_time_zone: str | None = None,
    paper_size: str | None = None,
) -> bool:
    """Rename the organisation, give it another slug and/or other defaults for its customers
    (commits); False, changing nothing, when another organisation holds that slug."""
    if name is not None:
        org.name = name
    if slug is not None:
        org.slug = slug
    if default_locale is not None:
        org.default_locale = default_locale
    if default_time_zone is not None:
        org.default_time_zone = default_time_zone
    if paper_size is not None:
        org.paper_size = paper_size
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def organisation(session: AsyncSession, org_id: str) -> models.Organisation | None:
    return await session.get(models.Organisation, org_id)


async def organisations_of_kind(
    session: AsyncSession, org_ids: Sequence[str], kind: str
) -> set[str]:
    """Those of `org_ids` that are organisations of this kind."""
    found = await session.scalars(
        select(models.Organisation.id).where(
            models.Organisation.id.in_(org_ids), models.Organisation.kind == kind
        )
    )
    return set(found.all())


async def lock_organisation(session: AsyncSession, org_id: str) -> None:
    """Hold the organisation's row until the caller commits, so a check of what the
    organisation has (a count against its quota) and the insert that follows are one step
    for it. An UPDATE, not SELECT … FOR UPDATE: it locks the row on PostgreSQL and opens the
    write transaction on SQLite, where FOR UPDATE is ignored."""
    table = models.Organisation
    await session.execute(update(table).where(table.id == org_id).values(name=table.name))
