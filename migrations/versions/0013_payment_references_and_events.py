"""Payments ledger keeps the gateway's references (#15): the provider, what a capture,
release or refund acted on, the customer's authentication link and a decline's words;
payment gateway events accepted once by id

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:00:00

Rows from before were all moved by the built-in gateway: `provider` is `builtin` for them,
so a capture, release or refund of one still goes to the built-in gateway after its
retailer moves to Stripe.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sa.String(length=20), nullable=False, server_default="builtin")
        )
        batch_op.add_column(
            sa.Column("original_reference", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("action_url", sa.String(length=2048), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("message", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_payments_gateway_reference"), ["gateway_reference"], unique=False
        )
    op.create_table(
        "payment_events",
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("gateway_reference", sa.String(length=64), nullable=False),
        sa.Column("received_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_payment_events")),
    )


def downgrade() -> None:
    op.drop_table("payment_events")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_gateway_reference"))
        for column in ("message", "action_url", "original_reference", "provider"):
            batch_op.drop_column(column)
