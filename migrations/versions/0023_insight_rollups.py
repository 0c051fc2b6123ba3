"""Insight rollups: per-day counters, reasons and turnarounds per key, and the stale days
that database triggers mark whenever a row insight reads changes

Every table an insight figure comes from (cases, case_items, feedback, orders, order_lines,
deflections, products) marks the UTC day(s) whose figures the change touches in
`insight_stale_days`, in the writer's own transaction; db.insights recomputes those days
before it answers. Triggers rather than application code: no writer (a projection, the API,
a migration, an operator's SQL) can forget one. Existing data is marked stale here, so the
first read after the upgrade builds the rollups (or `aftersales insights refresh`).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 17:30:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTERS = (
    "rmas",
    "repairs",
    "replacements",
    "plan_claims",
    "goodwill",
    "sla_breaches",
    "feedback_count",
    "rating_sum",
    "shipped",
    "comebacks",
    "sold",
    "deflected",
)
# A case's figures change with these columns (created_at and org_id place it).
CASE_COLUMNS = (
    "org_id",
    "case_type",
    "coverage",
    "sla_breached",
    "received_at",
    "shipped_at",
    "created_at",
    "receiving_org_id",
)
ITEM_COLUMNS = ("case_id", "sku", "serial", "reason")
FEEDBACK_COLUMNS = ("case_id", "rating")
ORDER_COLUMNS = ("org_id", "placed_at")
LINE_COLUMNS = ("order_id", "org_id", "sku", "quantity")
DEFLECTION_COLUMNS = ("org_id", "sku", "created_at")
PRODUCT_COLUMNS = ("org_id", "sku", "category")
TABLES = {
    "cases": CASE_COLUMNS,
    "case_items": ITEM_COLUMNS,
    "feedback": FEEDBACK_COLUMNS,
    "orders": ORDER_COLUMNS,
    "order_lines": LINE_COLUMNS,
    "deflections": DEFLECTION_COLUMNS,
    "products": PRODUCT_COLUMNS,
}


def _keys() -> list[sa.Column[Any]]:
    return [
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("group_by", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
    ]


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "insight_stale_days",
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "day", name=op.f("pk_insight_stale_days")),
    )
    op.create_table(
        "insight_days",
        *_keys(),
        *(_count(name) for name in COUNTERS),
        sa.PrimaryKeyConstraint("org_id", "group_by", "day", "key", name=op.f("pk_insight_days")),
    )
    op.create_table(
        "insight_reasons",
        *_keys(),
        sa.Column("reason", sa.String(length=32), nullable=False),
        _count("rmas"),
        sa.PrimaryKeyConstraint(
            "org_id", "group_by", "day", "key", "reason", name=op.f("pk_insight_reasons")
        ),
    )
    op.create_table(
        "insight_turnarounds",
        *_keys(),
        sa.Column("hours", sa.Float(), nullable=False),
        _count("repairs"),
        sa.PrimaryKeyConstraint(
            "org_id", "group_by", "day", "key", "hours", name=op.f("pk_insight_turnarounds")
        ),
    )
    # A day's cases, whatever their kind, and its units sold, by when they were opened and
    # ordered.
    op.create_index("ix_cases_org_created", "cases", ["org_id", "created_at"])
    op.create_index("ix_orders_org_placed", "orders", ["org_id", "placed_at"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
    else:
        _sqlite_triggers()
    # Whatever exists now is stale: the first read (or `aftersales insights refresh`) builds it.
    op.execute(
        "INSERT INTO insight_stale_days (org_id, day) "
        f"SELECT DISTINCT org_id, {_day('created_at')} FROM cases "
        "UNION "
        f"SELECT DISTINCT org_id, {_day('placed_at')} FROM orders "
        "UNION "
        f"SELECT DISTINCT org_id, {_day('created_at')} FROM deflections"
    )


def _day(column: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"(({column}) AT TIME ZONE 'UTC')::date"
    # SQLite holds a moment as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: its day is the first ten.
    return f"substr({column}, 1, 10)"


# The days each kind of row touches, as one SELECT of (org_id, day) over the row `R`
# (NEW or OLD): a case's day of opening; an item's case, and when the item is a repair's
# unit, the unit's other repairs (whether one "came back" depends on the next); feedback's
# case; an order's and its lines' day of ordering; a deflection's day; a product's cases,
# orders and deflections (its category is a key).
def _touched(table: str, row: str) -> str:
    day = _day
    if table == "cases":
        return f"SELECT {row}.org_id, {day(row + '.created_at')}"
    if table == "case_items":
        return (
            f"SELECT c.org_id, {day('c.created_at')} FROM cases c WHERE c.id = {row}.case_id "
            f"UNION SELECT o.org_id, {day('o.created_at')} FROM cases c "
            f"JOIN case_items i ON i.serial = {row}.serial AND i.sku = {row}.sku "
            "JOIN cases o ON o.id = i.case_id AND o.org_id = c.org_id "
            "AND o.case_type = 'repair' "
            f"WHERE c.id = {row}.case_id AND c.case_type = 'repair'"
        )
    if table == "feedback":
        return f"SELECT c.org_id, {day('c.created_at')} FROM cases c WHERE c.id = {row}.case_id"
    if table == "orders":
        return f"SELECT {row}.org_id, {day(row + '.placed_at')}"
    if table == "order_lines":
        return f"SELECT o.org_id, {day('o.placed_at')} FROM orders o WHERE o.id = {row}.order_id"
    if table == "deflections":
        return f"SELECT {row}.org_id, {day(row + '.created_at')}"
    assert table == "products"
    return (
        f"SELECT c.org_id, {day('c.created_at')} FROM case_items i "
        f"JOIN cases c ON c.id = i.case_id WHERE i.sku = {row}.sku AND c.org_id = {row}.org_id "
        f"UNION SELECT o.org_id, {day('o.placed_at')} FROM order_lines l "
        f"JOIN orders o ON o.id = l.order_id WHERE l.sku = {row}.sku AND l.org_id = {row}.org_id "
        f"UNION SELECT d.org_id, {day('d.created_at')} FROM deflections d "
        f"WHERE d.sku = {row}.sku AND d.org_id = {row}.org_id"
    )


def _changed(columns: Sequence[str], distinct: str) -> str:
    return " OR ".join(f"OLD.{column} {distinct} NEW.{column}" for column in columns)


def _sqlite_triggers() -> None:
    for table, columns in TABLES.items():
        for event, rows in (("INSERT", ("NEW",)), ("DELETE", ("OLD",))):
            marks = "".join(
                f"INSERT OR IGNORE INTO insight_stale_days (org_id, day) {_touched(table, row)};"
                for row in rows
            )
            op.execute(
                f"CREATE TRIGGER insight_{table}_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {marks} END"
            )
        marks = "".join(
            f"INSERT OR IGNORE INTO insight_stale_days (org_id, day) {_touched(table, row)};"
            for row in ("OLD", "NEW")
        )
        op.execute(
            f"CREATE TRIGGER insight_{table}_update AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} WHEN {_changed(columns, 'IS NOT')} BEGIN {marks} END"
        )


def _postgresql_triggers() -> None:
    for table, columns in TABLES.items():
        marks = {
            row: "INSERT INTO insight_stale_days (org_id, day) "
            f"{_touched(table, row)} ON CONFLICT DO NOTHING;"
            for row in ("OLD", "NEW")
        }
        op.execute(
            f"CREATE FUNCTION insight_{table}_marks() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF TG_OP <> 'INSERT' THEN {marks['OLD']} END IF; "
            f"IF TG_OP <> 'DELETE' THEN {marks['NEW']} END IF; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER insight_{table}_insert_delete AFTER INSERT OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION insight_{table}_marks()"
        )
        op.execute(
            f"CREATE TRIGGER insight_{table}_update AFTER UPDATE OF {', '.join(columns)} "
            f"ON {table} FOR EACH ROW WHEN ({_changed(columns, 'IS DISTINCT FROM')}) "
            f"EXECUTE FUNCTION insight_{table}_marks()"
        )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgresql:
            op.execute(f"DROP TRIGGER insight_{table}_update ON {table}")
            op.execute(f"DROP TRIGGER insight_{table}_insert_delete ON {table}")
            op.execute(f"DROP FUNCTION insight_{table}_marks()")
        else:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER insight_{table}_{event}")
    op.drop_index("ix_orders_org_placed", table_name="orders")
    op.drop_index("ix_cases_org_created", table_name="cases")
    op.drop_table("insight_turnarounds")
    op.drop_table("insight_reasons")
    op.drop_table("insight_days")
    op.drop_table("insight_stale_days")
