"""Feedback on ended cases, campaigns with their recipients, warranty-end notices

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOLLOW_UP = sa.text("needs_follow_up AND followed_up_at IS NULL")


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, db.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("case_type", sa.String(length=20), nullable=False),
        sa.Column("receiving_org_id", sa.String(length=32), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("needs_follow_up", sa.Boolean(), nullable=False),
        _at("followed_up_at", nullable=True),
        _at("created_at"),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_feedback_rating_range")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_feedback_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_feedback_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["receiving_org_id"],
            ["organisations.id"],
            name=op.f("fk_feedback_receiving_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
        sa.UniqueConstraint("case_id", name=op.f("uq_feedback_case_id")),
    )
    op.create_index("ix_feedback_org_created", "feedback", ["org_id", "created_at", "id"])
    op.create_index(
        "ix_feedback_receiving_created", "feedback", ["receiving_org_id", "created_at", "id"]
    )
    op.create_index(
        "ix_feedback_follow_up",
        "feedback",
        ["org_id"],
        postgresql_where=FOLLOW_UP,
        sqlite_where=FOLLOW_UP,
    )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("serial_prefix", sa.String(length=100), nullable=True),
        _at("purchased_from", nullable=True),
        _at("purchased_to", nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message", sa.String(length=5000), nullable=False),
        sa.Column("offer", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_campaigns_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_org_created", "campaigns", ["org_id", "created_at", "id"])

    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_phone", sa.String(length=64), nullable=False),
        sa.Column("customer_address", sa.JSON(), nullable=True),
        _at("purchased_at", nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        _at("sent_at", nullable=True),
        _at("responded_at", nullable=True),
        sa.Column("response_case_id", sa.String(length=40), nullable=True),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "email", "serial", name=op.f("uq_campaign_recipients_campaign_id")
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_campaign_recipients_token_hash")),
    )
    op.create_index(
        "ix_campaign_recipients_campaign_status",
        "campaign_recipients",
        ["campaign_id", "status", "id"],
    )

    op.create_table(
        "warranty_notices",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        _at("warranty_ends_at"),
        sa.Column("email_id", sa.String(length=32), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_warranty_notices_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "serial", name=op.f("pk_warranty_notices")),
    )


def downgrade() -> None:
    op.drop_table("warranty_notices")
    op.drop_index("ix_campaign_recipients_campaign_status", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_org_created", table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_index("ix_feedback_follow_up", table_name="feedback")
    op.drop_index("ix_feedback_receiving_created", table_name="feedback")
    op.drop_index("ix_feedback_org_created", table_name="feedback")
    op.drop_table("feedback")
