"""An organisation's API keys as stored: the SHA-256 of each key, never the key.
(`api.auth` verifies a presented key against them.)"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db import models
from db.types import utcnow


async def add(
    session: AsyncSession, org_id: str, key_hash: str, prefix: str, key_id: str | None = None
) -> models.ApiKey | None:
    """Store a new key of the organisation by its hash (commits), under `key_id` when given
    (an `Idempotency-Key` reserved it); None when a key has that id already (a concurrent
    request with the same Idempotency-Key made it)."""
    record = models.ApiKey(
        id=key_id or models.new_id(), org_id=org_id, key_hash=key_hash, prefix=prefix
    )
    session.add(record)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return record


async def all_of(session: AsyncSession, org_id: str) -> list[models.ApiKey]:
    """Every key of the organisation, revoked ones included, oldest first."""
    rows = await session.scalars(
        select(models.ApiKey)
        .where(models.ApiKey.org_id == org_id)
        .order_by(models.ApiKey.created_at, models.ApiKey.id)
    )
    return list(rows.all())


async def revoke(session: AsyncSession, org_id: str, key_id: str) -> bool:
    """Revoke the organisation's key (commits); revoking twice keeps the first time. False
    if the organisation has no such key."""
    row = await session.get(models.ApiKey, key_id, with_for_update=True)
    if row is None or row.org_id != org_id:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()
    return True
