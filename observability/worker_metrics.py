"""The worker's own HTTP port: `GET /metrics` (ours, the backlog read from the database, the
Temporal SDK's) and `GET /healthz` (the process is up and its event loop answers).

Served by uvicorn on the worker's event loop. The socket is bound here, not by uvicorn: a
port already taken (two workers on one host with the default port) is logged and the
worker runs on without a metrics port, instead of uvicorn exiting the process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from observability.backlog_metrics import BacklogGauges
from observability.metrics import CONTENT_TYPE
from observability.scrape import scrape
from observability.temporal_metrics import SdkMetrics

log = structlog.get_logger(__name__)


def metrics_app(backlog: BacklogGauges | None, sdk: SdkMetrics | None) -> Starlette:
    async def metrics(request: Request) -> Response:
        if backlog is not None:
            await backlog.refresh()
        return Response(await scrape(sdk), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/metrics", metrics, methods=["GET"]), Route("/healthz", healthz)]
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: SIGINT and SIGTERM are the worker's, which
    drains its tasks on them and then stops this server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving_metrics(
    host: str, port: int, backlog: BacklogGauges | None, sdk: SdkMetrics | None
) -> AsyncIterator[int | None]:
    """Serve the worker's port while the block runs; answers the bound port (None: port 0,
    or the port could not be bound)."""
    if port == 0:
        yield None
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        log.error("worker metrics port not bound", host=host, port=port, error=str(error))
        yield None
        return
    server = _Server(
        uvicorn.Config(
            metrics_app(backlog, sdk),
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="worker-metrics")
    bound = int(sock.getsockname()[1])
    log.info("worker metrics served", url=f"http://{host}:{bound}/metrics")
    try:
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        sock.close()
