"""Integrations (carrier and payment providers per organisation), product parcels,
webhook secrets encrypted at rest (#15)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:51:25

Webhook subscriptions' signing secrets were stored in clear: their columns widen to hold a
Fernet token, and the rows there are encrypted with AFTERSALES_SECRETS_KEY (read only when
there are rows, so an empty database migrates without it); the downgrade decrypts them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types
from db.secret_box import SecretBox

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "integrations",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("key_last4", sa.String(length=4), nullable=True),
        sa.Column("services", sa.JSON(), nullable=True),
        sa.Column("created_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('carrier', 'payments')", name=op.f("ck_integrations_kind")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_integrations_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "kind", name=op.f("pk_integrations")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight_grams", sa.Integer(), nullable=True))
        for side in ("length_cm", "width_cm", "height_cm"):
            batch_op.add_column(sa.Column(side, sa.Numeric(precision=6, scale=1), nullable=True))
        batch_op.create_check_constraint(
            "dimensions_all_or_none",
            "(length_cm IS NULL) = (width_cm IS NULL) AND (width_cm IS NULL) = (height_cm IS NULL)",
        )
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        for column in ("secret", "previous_secret"):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=100),
                type_=sa.String(length=500),
                existing_nullable=column == "previous_secret",
            )
    _rewrite_webhook_secrets(encrypt=True)


def downgrade() -> None:
    _rewrite_webhook_secrets(encrypt=False)
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        for column in ("secret", "previous_secret"):
            batch_op.alter_column(
                column,
                existing_type=sa.String(length=500),
                type_=sa.String(length=100),
                existing_nullable=column == "previous_secret",
            )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint("dimensions_all_or_none", type_="check")
        for side in ("height_cm", "width_cm", "length_cm", "weight_grams"):
            batch_op.drop_column(side)
    op.drop_table("integrations")


def _rewrite_webhook_secrets(*, encrypt: bool) -> None:
    table = sa.table(
        "webhook_subscriptions",
        sa.column("id", sa.String()),
        sa.column("secret", sa.String()),
        sa.column("previous_secret", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, table.c.secret, table.c.previous_secret)).all()
    if not rows:
        return
    box = SecretBox.from_setting(_secrets_key())
    rewrite = box.encrypt if encrypt else box.decrypt
    for row in rows:
        connection.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(
                secret=rewrite(row.secret),
                previous_secret=None
                if row.previous_secret is None
                else rewrite(row.previous_secret),
            )
        )


def _secrets_key() -> str:
    # Read only when there are rows to rewrite, so an empty database migrates without it.
    config = op.get_context().config
    given = config.attributes.get("secrets_key") if config is not None else None
    if given:
        return str(given)
    from settings import get_settings

    return get_settings().required_secrets_key
