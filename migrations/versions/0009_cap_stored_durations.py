"""Cap stored durations at ten years

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 03:40:00

The API now refuses a duration over ten years (#13). A policy or plan stored before that
could hold one (`P3000000D`), and would then be refused each time it is read: cap it here.
"""

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from pydantic import TypeAdapter, ValidationError

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MAX = timedelta(days=3653)
CAPPED = "P3653D"
_duration = TypeAdapter(timedelta)


def _capped(value: Any) -> Any:
    if isinstance(value, list):
        return [_capped(v) for v in value]
    if isinstance(value, dict):
        return {k: _capped(v) for k, v in value.items()}
    if isinstance(value, str) and value.startswith("P"):
        try:
            return CAPPED if _duration.validate_python(value) > MAX else value
        except (ValidationError, OverflowError):
            return CAPPED
    return value


def _cap(table_name: str, key: str, column: str) -> None:
    table = sa.table(table_name, sa.column(key, sa.String()), sa.column(column, sa.JSON()))
    conn = op.get_bind()
    for row_key, document in conn.execute(sa.select(table.c[key], table.c[column])).all():
        if isinstance(document, str):
            document = json.loads(document)
        capped = _capped(document)
        if capped != document:
            conn.execute(table.update().where(table.c[key] == row_key).values({column: capped}))


def upgrade() -> None:
    _cap("retailer_policies", "org_id", "document")
    _cap("plans", "id", "terms")


def downgrade() -> None:
    pass  # the original values were unusable; nothing to restore
