"""`Idempotency-Key`: the same key and body give the first answer; another body is a 409."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.errors import Problem
from db import models

MAX_KEY_LENGTH = 200

# The header every creating POST accepts.
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession,
    org_id: str,
    key: str,
    body_hash: str,
    resource_type: str,
    proposed_id: str,
) -> str:
    """The resource id this key stands for: `proposed_id` if the key is new, else the id
    the first request reserved. Raises 409 `idempotency_conflict` for another body."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(
            422, "validation_error", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
        )
    existing = await _find(session, org_id, key)
    if existing is None:
        session.add(
            models.IdempotencyRecord(
                org_id=org_id,
                key=key,
                request_hash=body_hash,
                resource_type=resource_type,
                resource_id=proposed_id,
            )
        )
        try:
            await session.commit()
            return proposed_id
        except IntegrityError:
            await session.rollback()  # a concurrent request with the same key won
            existing = await _find(session, org_id, key)
            assert existing is not None
    if existing.request_hash != body_hash or existing.resource_type != resource_type:
        raise Problem(
            409, "idempotency_conflict", "this Idempotency-Key was used with a different request"
        )
    return existing.resource_id


async def _find(session: AsyncSession, org_id: str, key: str) -> models.IdempotencyRecord | None:
    return await session.scalar(
        select(models.IdempotencyRecord).where(
            models.IdempotencyRecord.org_id == org_id, models.IdempotencyRecord.key == key
        )
    )


async def claim_case(
    session: AsyncSession,
    org_id: str,
    key: str | None,
    body: BaseModel,
    resource_type: str,
    proposed_id: str,
) -> tuple[str, models.Case | None]:
    """The id a create request works under, and the case a first request with the same key
    already made (then the caller answers with it and starts nothing)."""
    if key is None:
        return proposed_id, None
    case_id = await claim(
        session,
        org_id,
        key,
        request_hash(body.model_dump(mode="json")),
        resource_type,
        proposed_id,
    )
    return case_id, await session.get(models.Case, case_id)
