"""Real carriers (#15): what a shipment was booked with, its provider's id, cost and label;
the provider shipments created and not yet known bought

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 11:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "carrier_bookings",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_shipment_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_carrier_bookings_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_carrier_bookings")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("provider_shipment_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("cost", sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("label_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        for column in ("label_sha256", "currency", "cost", "provider_shipment_id", "provider"):
            batch_op.drop_column(column)
    op.drop_table("carrier_bookings")
