"""Alembic environment: runs against AFTERSALES_DATABASE_URL (or a URL passed in by `cli`)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from db.models import Base
from db.session import ensure_sqlite_dir, sync_url
from settings import get_settings

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url
url = sync_url(url)
ensure_sqlite_dir(url)


def run_migrations_offline() -> None:
    context.configure(
        url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
