"""List pages: the `limit` parameter and the opaque cursors of keyset pagination (the keys
of the last row answered; `db.cases.case_page` pages cases over them)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Annotated

from fastapi import Query

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
