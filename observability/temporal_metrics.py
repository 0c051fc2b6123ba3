"""The Temporal SDK's own metrics (`temporal_*`: requests to the server, workflow and
activity tasks, slots, sticky cache, latencies), served on our /metrics.

The SDK's core (Rust) keeps them and exports them with its Prometheus exporter, which
serves its own HTTP endpoint. It is bound to a loopback port chosen here, never exposed;
our /metrics handler reads its text and appends it to ours. Why not a `MetricBuffer`
drained into prometheus-client: the buffer hands over raw updates (histogram observations
one by one, label sets that change between updates of one metric), which would have to be
re-aggregated in Python on the hot path and drained on a timer or lose updates when full;
the exporter aggregates in Rust, with its own buckets, and costs nothing until a scrape.

The runtime is the process's default, installed once before the first client connects
(`temporal_client.connect` uses the default runtime), so every client and worker of the
process reports into it."""

from __future__ import annotations

import asyncio
import socket
import threading
import urllib.request
from dataclasses import dataclass

import structlog
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from observability.logging import temporal_core_logging

log = structlog.get_logger(__name__)

READ_TIMEOUT = 2.0  # seconds: a scrape answers without the SDK's part rather than hang
_BIND_ATTEMPTS = 5


@dataclass(frozen=True)
class SdkMetrics:
    """The SDK's exporter of this process, on `127.0.0.1:port`."""

    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    async def text(self) -> bytes:
        """The exporter's current text; raises when it does not answer in time."""
        return await asyncio.to_thread(self._read)

    def _read(self) -> bytes:
        # urllib, not httpx: the tracing instrumentation would make every scrape a trace.
        with urllib.request.urlopen(self.url, timeout=READ_TIMEOUT) as answer:
            body: bytes = answer.read()
            return body


_installed: SdkMetrics | None = None
_lock = threading.Lock()


def install_sdk_metrics() -> SdkMetrics:
    """Make a runtime exporting to Prometheus the process's default Temporal runtime (once;
    later calls answer the same). Call before the process's first `Client.connect`: clients
    connected before keep the runtime they had."""
    global _installed
    with _lock:
        if _installed is None:
            runtime, port = _runtime_on_free_port()
            Runtime.set_default(runtime, error_if_already_set=False)
            _installed = SdkMetrics(port)
            log.info("temporal sdk metrics exported", port=port)
        return _installed


def _runtime_on_free_port() -> tuple[Runtime, int]:
    """A runtime whose exporter holds a free loopback port. The port is found by binding
    and releasing it, so another process may take it in between: then try another."""
    refused: ValueError | None = None
    for _ in range(_BIND_ATTEMPTS):
        port = _free_loopback_port()
        config = PrometheusConfig(
            bind_address=f"127.0.0.1:{port}",
            # Prometheus' naming conventions, as ours follow them: durations in seconds
            # with the unit in the name, counters ending in `_total` (the SDK's defaults are
            # milliseconds and bare names).
            durations_as_seconds=True,
            unit_suffix=True,
            counters_total_suffix=True,
        )
        try:
            telemetry = TelemetryConfig(metrics=config, logging=temporal_core_logging())
            return Runtime(telemetry=telemetry), port
        except ValueError as error:  # the core could not bind: the port was taken meanwhile
            refused = error
    assert refused is not None
    raise refused


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
