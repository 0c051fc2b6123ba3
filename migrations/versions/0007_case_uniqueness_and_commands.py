"""One open case per serial and idempotent case commands (#13)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# domain.common.CLOSED_STATUSES as of this revision: a migration must not change meaning
# when the domain does later.
_CLOSED = (
    "completed",
    "rejected",
    "cancelled",
    "expired",
    "returned_unrepaired",
    "beyond_repair",
    "unroutable",
    "refunded",
    "payment_failed",
)


def upgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("response", sa.JSON(none_as_null=True), nullable=True))

    open_serials = op.create_table(
        "open_serials",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=False),
        sa.Column("case_id", sa.String(length=40), nullable=False),
        sa.Column("claimed_at", db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_open_serials_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("org_id", "serial", name=op.f("pk_open_serials")),
    )
    with op.batch_alter_table("open_serials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open_serials_case_id"), ["case_id"], unique=False)
    assert open_serials is not None
    _backfill(open_serials)


def _backfill(open_serials: sa.Table) -> None:
    """Claim the serials of the RMAs open now. Where the race this table closes already let
    two open RMAs share a serial, the older one holds it (the newer still closes normally)."""
    cases = sa.table(
        "cases",
        sa.column("id", sa.String),
        sa.column("org_id", sa.String),
        sa.column("case_type", sa.String),
        sa.column("status", sa.String),
        sa.column("created_at", db.types.UTCDateTime(timezone=True)),
    )
    items = sa.table("case_items", sa.column("case_id", sa.String), sa.column("serial", sa.String))
    rows = op.get_bind().execute(
        sa.select(cases.c.org_id, items.c.serial, cases.c.id, cases.c.created_at)
        .join(items, items.c.case_id == cases.c.id)
        .where(cases.c.case_type == "rma", cases.c.status.not_in(_CLOSED))
        .order_by(cases.c.created_at, cases.c.id)
    )
    held: dict[tuple[str, str], dict[str, object]] = {}
    for org_id, serial, case_id, created_at in rows:
        held.setdefault(
            (org_id, serial),
            {"org_id": org_id, "serial": serial, "case_id": case_id, "claimed_at": created_at},
        )
    if held:
        op.bulk_insert(open_serials, list(held.values()))


def downgrade() -> None:
    with op.batch_alter_table("open_serials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open_serials_case_id"))
    op.drop_table("open_serials")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_column("response")
