"""Keyset pagination over (created_at, id), newest first (or oldest first, as a work queue
reads): stable under concurrent inserts."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Select, and_, or_

from api.errors import Problem
from db import models

LimitQuery = Annotated[int, Query(ge=1, le=200)]


def encode_keys(*keys: str) -> str:
    return base64.urlsafe_b64encode("|".join(keys).encode()).decode()


def decode_keys(cursor: str, count: int) -> list[str]:
    try:
        keys = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", count - 1)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(422, "invalid_cursor", "the cursor is not one this API gave") from exc
    if len(keys) != count:
        raise Problem(422, "invalid_cursor", "the cursor is not one this API gave")
    return keys


def encode_cursor(case: models.Case) -> str:
    return encode_keys(case.created_at.isoformat(), case.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    created, case_id = decode_keys(cursor, 2)
    try:
        return datetime.fromisoformat(created), case_id
    except ValueError as exc:
        raise Problem(422, "invalid_cursor", "the cursor is not one this API gave") from exc


def page(
    query: Select[Any], cursor: str | None, limit: int, oldest_first: bool = False
) -> Select[Any]:
    created_at, case_id = models.Case.created_at, models.Case.id
    if cursor:
        created, after_id = decode_cursor(cursor)
        if oldest_first:
            query = query.where(
                or_(created_at > created, and_(created_at == created, case_id > after_id))
            )
        else:
            query = query.where(
                or_(created_at < created, and_(created_at == created, case_id < after_id))
            )
    order = (
        (created_at.asc(), case_id.asc()) if oldest_first else (created_at.desc(), case_id.desc())
    )
    return query.order_by(*order).limit(limit + 1)


def split(rows: list[models.Case], limit: int) -> tuple[list[models.Case], str | None]:
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1])
    return rows, None
