"""API key use and revocation, webhook secret rotation, repair network (#13)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_used_at", db.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "previous_secret_expires_at", db.types.UTCDateTime(timezone=True), nullable=True
            )
        )

    op.create_table(
        "repair_network_members",
        sa.Column("retailer_org_id", sa.String(length=32), nullable=False),
        sa.Column("center_org_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("added_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["center_org_id"],
            ["organisations.id"],
            name=op.f("fk_repair_network_members_center_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["retailer_org_id"],
            ["organisations.id"],
            name=op.f("fk_repair_network_members_retailer_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint(
            "retailer_org_id", "center_org_id", name=op.f("pk_repair_network_members")
        ),
    )


def downgrade() -> None:
    op.drop_table("repair_network_members")
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
