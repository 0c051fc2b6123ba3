"""Pending webhook deliveries by age: a partial index, so the metrics' oldest-pending gauge
reads one index entry instead of scanning every delivery ever written

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_pending_created",
        "webhook_deliveries",
        ["created_at"],
        postgresql_where=PENDING,
        sqlite_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_pending_created", table_name="webhook_deliveries")
