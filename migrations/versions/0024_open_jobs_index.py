"""A repair center's open jobs by index: (receiving_org_id, case_type, status) replaces the
index on receiving_org_id alone, so routing a repair counts the candidate centers' open jobs
with a seek per center and status instead of reading every repair case ever recorded

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 07:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_receiving_type_status", "cases", ["receiving_org_id", "case_type", "status"]
    )
    # The new index leads with the same column: the old one only cost writes.
    op.drop_index("ix_cases_receiving_org_id", table_name="cases")


def downgrade() -> None:
    op.create_index("ix_cases_receiving_org_id", "cases", ["receiving_org_id"])
    op.drop_index("ix_cases_receiving_type_status", table_name="cases")
