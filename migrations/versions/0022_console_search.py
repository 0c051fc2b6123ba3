"""Console search and lists: cases by status in date order, by order reference and by
customer; customers by email whatever its case; jobs past their SLA

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLA_BREACHED = sa.text("event = 'sla_breached'")


def upgrade() -> None:
    # A status filter pages newest first without sorting the status's cases.
    op.create_index(
        "ix_cases_org_type_status_created",
        "cases",
        ["org_id", "case_type", "status", "created_at", "id"],
    )
    op.create_index("ix_cases_org_order_ref", "cases", ["org_id", "order_ref"])
    op.create_index("ix_cases_customer_id", "cases", ["customer_id"])
    # An expression index: both SQLite (3.9+) and PostgreSQL use it for lower(email) = ?.
    op.create_index("ix_customers_org_email", "customers", ["org_id", sa.text("lower(email)")])
    op.create_index(
        "ix_timeline_events_sla_breached",
        "timeline_events",
        ["case_id"],
        postgresql_where=SLA_BREACHED,
        sqlite_where=SLA_BREACHED,
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_events_sla_breached", table_name="timeline_events")
    op.drop_index("ix_customers_org_email", table_name="customers")
    op.drop_index("ix_cases_customer_id", table_name="cases")
    op.drop_index("ix_cases_org_order_ref", table_name="cases")
    op.drop_index("ix_cases_org_type_status_created", table_name="cases")
