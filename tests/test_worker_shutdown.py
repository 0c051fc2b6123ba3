"""A stopping worker lets its running activities finish: the grace period comes from the
settings (30 s unless set) and reaches the SDK's worker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from db.session import make_engine, make_sessionmaker
from settings import Settings
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY
from worker import build_worker


def settings(tmp_path: Path, **fields: float) -> Settings:
    return Settings(
        # One queue each: the SDK refuses two workers of one client on one queue.
        task_queue=f"shutdown-{uuid.uuid4().hex[:6]}",
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        document_dir=tmp_path / "documents",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        **fields,  # type: ignore[arg-type]
    )


async def test_the_worker_waits_for_running_activities_on_shutdown(
    time_skipping: WorkflowEnvironment, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    try:
        sessions = make_sessionmaker(engine)
        default = build_worker(time_skipping.client, sessions, settings(tmp_path))
        assert default.config()["graceful_shutdown_timeout"] == timedelta(seconds=30)
        longer = settings(tmp_path, worker_shutdown_grace_seconds=120)
        worker = build_worker(time_skipping.client, sessions, longer)
        assert worker.config()["graceful_shutdown_timeout"] == timedelta(seconds=120)
    finally:
        await engine.dispose()
