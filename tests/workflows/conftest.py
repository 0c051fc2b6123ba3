"""A worker on the time-skipping server, with the real activities on a SQLite read model."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from cli import migrate
from db import models
from db.session import make_engine, make_sessionmaker
from db.writer import ReadModelWriter
from settings import Settings
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY
from tests.workflows.kit import Harness
from worker import build_worker


@pytest.fixture(scope="module")
async def harness(
    time_skipping: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Harness]:
    tmp = tmp_path_factory.mktemp("workflows")
    url = f"sqlite+aiosqlite:///{tmp}/read-model.db"
    await asyncio.to_thread(migrate, url)
    settings = Settings(
        env="test",
        database_url=url,
        task_queue=f"ts-{uuid.uuid4().hex[:6]}",
        document_dir=tmp / "documents",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        # The sandbox checks workflow code for non-determinism, whatever the environment's
        # AFTERSALES_WORKFLOW_SANDBOX says for production.
        workflow_sandbox=True,
    )
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        org = models.Organisation(name="Test Retailer", kind="retailer")
        session.add(org)
    # As the worker process has it: the steps write on the read model writer's thread.
    writer = ReadModelWriter.for_worker(sessions)
    worker = build_worker(time_skipping.client, sessions, settings, writer=writer)
    async with worker:
        yield Harness(time_skipping, sessions, settings, org.id, worker)
    writer.close()
    await engine.dispose()
