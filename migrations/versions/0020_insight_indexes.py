"""Insight: a repair's received and shipped moments, fault code and SLA breach as typed
columns of its case (filled from its facts and timeline), and the indexes insight reads by

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("fault_code", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("sla_breached", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )
    op.create_index(
        "ix_cases_org_type_created_center",
        "cases",
        ["org_id", "case_type", "created_at", "receiving_org_id"],
    )
    op.create_index("ix_case_items_sku_case", "case_items", ["sku", "case_id"])
    _backfill_repairs()


def _backfill_repairs() -> None:
    """Existing repair jobs from what they hold: the facts' diagnosis and SLA clock, and the
    first timeline entries in `received` and `shipped`."""
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("case_type", sa.String),
        sa.column("data", sa.JSON),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("shipped_at", sa.DateTime(timezone=True)),
        sa.column("fault_code", sa.String),
        sa.column("sla_breached", sa.Boolean),
    )
    timeline = sa.table(
        "timeline_events",
        sa.column("case_id", sa.String),
        sa.column("status", sa.String),
        sa.column("event", sa.String),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    first_at = (
        sa.select(timeline.c.case_id, timeline.c.status, sa.func.min(timeline.c.at))
        .where(timeline.c.status.in_(("received", "shipped")))
        .group_by(timeline.c.case_id, timeline.c.status)
    )
    moments: dict[tuple[str, str], Any] = {
        (case_id, status): at for case_id, status, at in bind.execute(first_at)
    }
    breached = {
        case_id
        for (case_id,) in bind.execute(
            sa.select(timeline.c.case_id).where(timeline.c.event == "sla_breached").distinct()
        )
    }
    rows = bind.execute(
        sa.select(cases.c.id, cases.c.data).where(cases.c.case_type == "repair")
    ).all()
    updates: list[dict[str, Any]] = []
    for case_id, data in rows:
        facts = data if isinstance(data, dict) else {}
        sla = facts.get("sla") if isinstance(facts.get("sla"), dict) else {}
        diagnosis = facts.get("diagnosis") if isinstance(facts.get("diagnosis"), dict) else {}
        assert isinstance(sla, dict) and isinstance(diagnosis, dict)
        fault_code = diagnosis.get("fault_code")
        updates.append(
            {
                "case_id": case_id,
                "received": _moment(moments.get((case_id, "received")))
                or _moment(sla.get("received_at")),
                "shipped": _moment(moments.get((case_id, "shipped"))),
                "fault": fault_code if isinstance(fault_code, str) and fault_code else None,
                "breached": sla.get("breached") is True or case_id in breached,
            }
        )
    statement = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("case_id"))
        .values(
            received_at=sa.bindparam("received"),
            shipped_at=sa.bindparam("shipped"),
            fault_code=sa.bindparam("fault"),
            sla_breached=sa.bindparam("breached"),
        )
    )
    for start in range(0, len(updates), BATCH):
        bind.execute(statement, updates[start : start + BATCH])


def _moment(value: object) -> datetime | None:
    """A stored moment as aware UTC: SQLite hands back text or naive datetimes."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def downgrade() -> None:
    op.drop_index("ix_case_items_sku_case", table_name="case_items")
    op.drop_index("ix_cases_org_type_created_center", table_name="cases")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("sla_breached")
        batch_op.drop_column("fault_code")
        batch_op.drop_column("shipped_at")
        batch_op.drop_column("received_at")
