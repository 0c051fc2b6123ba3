"""Orders and the return portal: orders and their lines, products' troubleshooting steps,
organisation slugs, portal lookups and their rate windows, deflections (#17)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 14:00:00

Existing organisations get a slug made from their name (a second one with the same name
gets `-2`, and so on), in the order they were created.
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DATETIME = db.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slug", sa.String(length=64), nullable=True))
    _backfill_slugs()
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.alter_column("slug", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_organisations_slug"), ["slug"])

    op.create_table(
        "troubleshooting_steps",
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_troubleshooting_steps_product_id_products"),
        ),
        sa.PrimaryKeyConstraint("product_id", "position", name=op.f("pk_troubleshooting_steps")),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=100), nullable=False),
        sa.Column("placed_at", DATETIME, nullable=False),
        sa.Column("customer_name", sa.String(length=200), nullable=False),
        sa.Column("customer_email", sa.String(length=320), nullable=False),
        sa.Column("customer_phone", sa.String(length=64), nullable=False),
        sa.Column("customer_address", sa.JSON(), nullable=True),
        sa.Column("customer_locale", sa.String(length=35), nullable=False),
        sa.Column("customer_time_zone", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("updated_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_orders_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("org_id", "order_ref", name=op.f("uq_orders_org_id")),
    )
    op.create_table(
        "order_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_order_lines_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_lines_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_order_lines_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        sa.UniqueConstraint("order_id", "position", name=op.f("uq_order_lines_order_id")),
    )
    op.create_index("ix_order_lines_org_sku", "order_lines", ["org_id", "sku"], unique=False)
    op.create_index("ix_order_lines_org_serial", "order_lines", ["org_id", "serial"], unique=False)
    op.create_table(
        "portal_lookups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.Column("expires_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_portal_lookups_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_portal_lookups_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_lookups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_portal_lookups_token_hash")),
    )
    op.create_index(
        op.f("ix_portal_lookups_order_id"), "portal_lookups", ["order_id"], unique=False
    )
    op.create_index(
        op.f("ix_portal_lookups_expires_at"), "portal_lookups", ["expires_at"], unique=False
    )
    op.create_table(
        "portal_rate_windows",
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_start", DATETIME, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client", "window_start", name=op.f("pk_portal_rate_windows")),
    )
    op.create_index(
        op.f("ix_portal_rate_windows_window_start"),
        "portal_rate_windows",
        ["window_start"],
        unique=False,
    )
    op.create_table(
        "deflections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("lookup_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_title", sa.String(length=120), nullable=False),
        sa.Column("created_at", DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_deflections_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deflections")),
        sa.UniqueConstraint("lookup_id", "sku", name=op.f("uq_deflections_lookup_id")),
    )
    op.create_index(
        "ix_deflections_org_sku_created",
        "deflections",
        ["org_id", "sku", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_deflections_order_id"), "deflections", ["order_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deflections_order_id"), table_name="deflections")
    op.drop_index("ix_deflections_org_sku_created", table_name="deflections")
    op.drop_table("deflections")
    op.drop_index(op.f("ix_portal_rate_windows_window_start"), table_name="portal_rate_windows")
    op.drop_table("portal_rate_windows")
    op.drop_index(op.f("ix_portal_lookups_expires_at"), table_name="portal_lookups")
    op.drop_index(op.f("ix_portal_lookups_order_id"), table_name="portal_lookups")
    op.drop_table("portal_lookups")
    op.drop_index("ix_order_lines_org_serial", table_name="order_lines")
    op.drop_index("ix_order_lines_org_sku", table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_table("orders")
    op.drop_table("troubleshooting_steps")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_organisations_slug"), type_="unique")
        batch_op.drop_column("slug")


def _backfill_slugs() -> None:
    organisations = sa.table(
        "organisations",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("slug", sa.String),
        sa.column("created_at", DATETIME),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(organisations.c.id, organisations.c.name).order_by(
            organisations.c.created_at, organisations.c.id
        )
    ).all()
    taken: set[str] = set()
    for org_id, name in rows:
        stem = _slug_of(name)
        slug, n = stem, 1
        while slug in taken:
            n += 1
            slug = f"{stem}-{n}"
        taken.add(slug)
        connection.execute(
            organisations.update().where(organisations.c.id == org_id).values(slug=slug)
        )


def _slug_of(name: str) -> str:
    # domain.portal.slug_of as of this revision: a migration must not change meaning when
    # the domain does later.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:56].rstrip("-") or "org"
