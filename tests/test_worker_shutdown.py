"""A stopping worker lets its running activities finish: the grace period comes from the
settings (30 s unless set) and reaches the SDK's worker. The workflow runner comes from
the settings too."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

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


async def test_the_sandbox_setting_picks_the_workflow_runner(
    time_skipping: WorkflowEnvironment, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    try:
        sessions = make_sessionmaker(engine)
        sandboxed = build_worker(time_skipping.client, sessions, settings(tmp_path))
        assert isinstance(sandboxed.config()["workflow_runner"], SandboxedWorkflowRunner)
        plain = settings(tmp_path, workflow_sandbox=False)
        unsandboxed = build_worker(time_skipping.client, sessions, plain)
        assert isinstance(unsandboxed.config()["workflow_runner"], UnsandboxedWorkflowRunner)
    finally:
        await engine.dispose()


def test_the_sandbox_is_on_unless_the_environment_turns_it_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AFTERSALES_WORKFLOW_SANDBOX", raising=False)
    assert settings(tmp_path).workflow_sandbox is True
    monkeypatch.setenv("AFTERSALES_WORKFLOW_SANDBOX", "false")
    assert settings(tmp_path).workflow_sandbox is False
