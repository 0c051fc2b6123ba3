"""Locales, time zones and paper: customers' language and clock, retailers' defaults and
paper size, money columns with three decimals (KWD's minor units)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every money column: (table, column, nullable).
MONEY_COLUMNS = (
    ("products", "unit_price", False),
    ("cases", "refund_amount", True),
    ("case_items", "unit_price", False),
    ("shipments", "cost", True),
    ("payments", "amount", False),
    ("repair_centers", "labor_rate", False),
)
PAPER = "paper_size IN ('A4', 'Letter')"


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("default_locale", sa.String(length=35), server_default="en", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "default_time_zone", sa.String(length=64), server_default="UTC", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("paper_size", sa.String(length=6), server_default="Letter", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_organisations_paper_size"), sa.text(PAPER))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=35), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("time_zone", sa.String(length=64), server_default="", nullable=False)
        )
    for table, column, nullable in MONEY_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Numeric(precision=12, scale=2),
                type_=sa.Numeric(precision=15, scale=3),
                existing_nullable=nullable,
            )


def downgrade() -> None:
    for table, column, nullable in MONEY_COLUMNS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                column,
                existing_type=sa.Numeric(precision=15, scale=3),
                type_=sa.Numeric(precision=12, scale=2),
                existing_nullable=nullable,
            )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("locale")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_organisations_paper_size"), type_="check")
        batch_op.drop_column("paper_size")
        batch_op.drop_column("default_time_zone")
        batch_op.drop_column("default_locale")
