"""Migration 0016 on a database with organisations already in it: each gets a slug from its
name (the later of two alike `-2`), the slugs are unique from then on, and the downgrade
takes the portal's tables away again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from tests.test_migrations import _config


def test_existing_organisations_get_slugs_from_their_names(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/slugs.db"
    config = _config(url)
    command.upgrade(config, "0015")
    engine = sa.create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = [("a", "Acme Audio"), ("b", "Café Zürich"), ("c", "ACME  audio!"), ("d", "***")]
    with engine.begin() as conn:
        for n, (org_id, name) in enumerate(names):
            conn.execute(
                sa.text(
                    "INSERT INTO organisations (id, name, kind, created_at) "
                    "VALUES (:id, :name, 'retailer', :at)"
                ),
                {"id": org_id, "name": name, "at": start + timedelta(minutes=n)},
            )
    try:
        command.upgrade(config, "0016")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, slug FROM organisations")).all()
        slugs: dict[str, str] = {org_id: slug for org_id, slug in rows}
        assert slugs == {"a": "acme-audio", "b": "cafe-zurich", "c": "acme-audio-2", "d": "org"}
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            conn.execute(sa.text("UPDATE organisations SET slug = 'org' WHERE id = 'a'"))

        command.downgrade(config, "0015")
        tables = set(sa.inspect(engine).get_table_names())
        assert not tables & {"orders", "order_lines", "deflections", "portal_lookups"}
        columns = {c["name"] for c in sa.inspect(engine).get_columns("organisations")}
        assert "slug" not in columns
    finally:
        engine.dispose()
