"""Outbox rows marked when handed over to their delivery queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 06:40:00

Any live worker hands over what a dead one left (`activities.handover`): a row still
pending and never marked is due. Rows that have ended (delivered, failed, sent, or kept in
the development outbox) count as handed over; rows still pending are left unmarked, so the
first sweep after the upgrade hands them over again (a queue ignores what it holds).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("webhook_deliveries", "emails")


def upgrade() -> None:
    for name in TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("handed_over_at", db.types.UTCDateTime(timezone=True), nullable=True)
            )
            batch_op.create_index(batch_op.f(f"ix_{name}_handed_over_at"), ["handed_over_at"])
        table = sa.table(
            name,
            sa.column("status", sa.String()),
            sa.column("created_at", db.types.UTCDateTime(timezone=True)),
            sa.column("handed_over_at", db.types.UTCDateTime(timezone=True)),
        )
        op.execute(
            table.update()
            .where(table.c.status != "pending")
            .values(handed_over_at=table.c.created_at)
        )


def downgrade() -> None:
    for name in reversed(TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_handed_over_at"))
            batch_op.drop_column("handed_over_at")
