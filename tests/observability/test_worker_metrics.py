"""The worker's metrics port: served while the worker runs; port 0 serves nothing; a port
already taken is logged and the worker goes on without it; a database that does not
answer leaves the scrape answering, with the failed read counted."""

from __future__ import annotations

import socket

import httpx
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import make_engine, make_sessionmaker
from observability.backlog_metrics import BacklogGauges
from observability.worker_metrics import serving_metrics
from tests.support import free_port


def unreachable_database() -> async_sessionmaker[AsyncSession]:
    # Nothing listens on port 9 (discard) of loopback: every connection is refused.
    return make_sessionmaker(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))


async def test_port_zero_serves_nothing() -> None:
    async with serving_metrics("127.0.0.1", 0, None, None) as port:
        assert port is None


async def test_a_port_taken_leaves_the_worker_running_without_metrics() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        async with serving_metrics("127.0.0.1", taken.getsockname()[1], None, None) as port:
            assert port is None


async def test_a_scrape_answers_when_the_database_does_not() -> None:
    failures = REGISTRY.get_sample_value("aftersales_backlog_read_failures_total") or 0
    backlog = BacklogGauges(unreachable_database(), min_interval=0)
    async with serving_metrics("127.0.0.1", free_port(), backlog, None) as port:
        assert port is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            answer = await http.get("/metrics")
            assert answer.status_code == 200
            assert "aftersales_outbox_depth" in answer.text
            assert (await http.get("/healthz")).text == "ok"
    assert REGISTRY.get_sample_value("aftersales_backlog_read_failures_total") == failures + 1
    # Stopped with the block: nothing listens there any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
