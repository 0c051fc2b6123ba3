"""Keyset pagination over (created_at, id), newest first (or oldest first, as a work queue
reads): stable under concurrent inserts."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import Select, and_, or_

from api.errors import Problem
from db import models

LimitQuery = Annotated[int, Query(ge=1, le=200)]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def encode_keys(*keys: str) -> str:
    return base64.urlsafe_b64encode("|".join(keys).encode()).decode()


def decode_keys(cursor: str, count: int) -> list[str]:
    try:
        keys = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", count - 1)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid_cursor() from exc
    # Keys are ids and timestamps: a control character (NUL, which PostgreSQL cannot
    # compare) means the cursor was made elsewhere.
    if len(keys) != count or any(_CONTROL.search(key) for key in keys):
        raise invalid_cursor()
    return keys


def decode_time(key: str) -> datetime:
    """A cursor's timestamp key. This API only writes aware ones: a naive or malformed one
    was crafted, and a naive one cannot be compared with the stored times."""
    try:
        moment = datetime.fromisoformat(key)
    except ValueError as exc:
        raise invalid_cursor() from exc
    if moment.tzinfo is None:
        raise invalid_cursor()
    return moment


def invalid_cursor() -> Problem:
    return Problem(422, "invalid_cursor", "the cursor is not one this API gave")


def encode_cursor(case: models.Case) -> str:
    return encode_keys(case.created_at.isoformat(), case.id)


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    created, case_id = decode_keys(cursor, 2)
    return decode_time(created), case_id


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
