"""OpenTelemetry tracing: off unless the environment asks for it, then one trace per HTTP
request through the workflow it starts to each activity that workflow runs.

On when AFTERSALES_TRACING=true, or (AFTERSALES_TRACING unset) when OpenTelemetry's own
variables name an exporter: OTEL_TRACES_EXPORTER (otlp, console; `none` is off) or
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. OTEL_SDK_DISABLED=true
wins over them. The rest is OpenTelemetry's: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
for the resource, OTEL_EXPORTER_OTLP_* for where spans go (OTLP over HTTP/protobuf),
OTEL_TRACES_SAMPLER for how many.

Off, nothing is installed: no interceptor, no instrumentation, no span is made. On, the
Temporal client carries `TracingInterceptor` (the worker inherits it from its client), the
FastAPI app, the SQLAlchemy engines and httpx are instrumented, and every span is scrubbed
(observability.scrub) before it leaves the process: a tracking URL's token never reaches
the collector."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from observability.scrub import scrubber_for

# The SDK, the exporters and the instrumentations are imported only by a process that
# traces: this module is imported by every one (temporal_client asks it for interceptors).
if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine
    from temporalio.contrib.opentelemetry import TracingInterceptor

    from settings import Settings

_TRUE = {"1", "true", "yes", "on"}
# Health probes and scrapes every few seconds would bury the requests worth reading.
_UNTRACED_URLS = "/healthz,/readyz,/metrics"


def tracing_wanted(explicit: bool | None, env: Mapping[str, str] | None = None) -> bool:
    """Whether this process traces: `explicit` (AFTERSALES_TRACING) when set, else what the
    standard OTEL_* variables say."""
    if explicit is not None:
        return explicit
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )


def exporters_from_env(env: Mapping[str, str] | None = None) -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names (default `otlp`), each configured by its
    own OTEL_EXPORTER_* variables."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    env = os.environ if env is None else env
    names = [n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")]
    exporters: list[SpanExporter] = []
    for name in filter(None, names):
        if name == "otlp":
            exporters.append(_otlp_exporter(env))
        elif name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name != "none":
            raise ValueError(f"OTEL_TRACES_EXPORTER names {name!r}: use otlp, console or none")
    return exporters


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            raise ValueError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the package "
                "opentelemetry-exporter-otlp-proto-grpc; aftersales ships http/protobuf "
                "(a collector's port 4318)"
            ) from None
        grpc: SpanExporter = GrpcExporter()
        return grpc
    raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}: use http/protobuf or grpc")


def resource_for(service: str, settings: Settings) -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES as OpenTelemetry reads them, with
    `service` (aftersales-api, aftersales-worker) as the name when they give none."""
    from opentelemetry.sdk.resources import Resource

    detected = Resource.create()
    attributes = dict(detected.attributes)
    name = str(attributes.get("service.name", ""))
    if not name or name.startswith("unknown_service"):  # compose passes unset as ""
        attributes["service.name"] = service
    attributes.setdefault("service.namespace", "aftersales")
    attributes.setdefault("deployment.environment.name", settings.env)
    return Resource(attributes, detected.schema_url)


@dataclass
class Tracing:
    """What an enabled process traces with."""

    provider: TracerProvider

    def interceptor(self) -> TracingInterceptor:
        from temporalio.contrib.opentelemetry import TracingInterceptor

        return TracingInterceptor(self.provider.get_tracer("aftersales.temporal"))

    def instrument_app(self, app: FastAPI) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, excluded_urls=_UNTRACED_URLS
        )

    def instrument_engine(self, engine: AsyncEngine | Engine) -> None:
        # Per engine, not SQLAlchemyInstrumentor().instrument(): that instruments once per
        # process, and only engines made after it through the module's create function.
        from opentelemetry import metrics
        from opentelemetry.instrumentation.sqlalchemy import __name__ as scope
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        usage = metrics.get_meter(scope).create_up_down_counter(
            "db.client.connections.usage", unit="connections"
        )
        EngineTracer(  # type: ignore[no-untyped-call]
            self.provider.get_tracer(scope), getattr(engine, "sync_engine", engine), usage
        )


_active: Tracing | None = None


def install(tracing: Tracing, *, instrument_httpx: bool = True) -> None:
    """Make `tracing` this process's: the Temporal clients connected from now on carry its
    interceptor, the apps and engines made from now on are instrumented."""
    global _active
    _active = tracing
    if instrument_httpx:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(tracer_provider=tracing.provider)


def uninstall() -> None:
    """Back to no tracing (tests): flushes and stops the provider."""
    global _active
    if _active is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    instrumentor = HTTPXClientInstrumentor()
    if instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.uninstrument()
    _active.provider.shutdown()
    _active = None


def configure_tracing(settings: Settings, service: str) -> Tracing | None:
    """Set this process up for tracing if the environment asks for it (see the module's
    doc); None, and nothing installed, when it does not."""
    if not tracing_wanted(settings.tracing):
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from observability.span_scrub import ScrubbingExporter

    provider = TracerProvider(resource=resource_for(service, settings))
    scrubber = scrubber_for(settings)
    for exporter in exporters_from_env():
        provider.add_span_processor(BatchSpanProcessor(ScrubbingExporter(exporter, scrubber)))
    # Global too, so a library's own spans join the same traces.
    trace.set_tracer_provider(provider)
    tracing = Tracing(provider)
    install(tracing)
    return tracing


def client_interceptors() -> list[TracingInterceptor]:
    """The interceptors of every Temporal client this process connects: none when tracing
    is off. A worker takes them from its client (registering them on both would trace
    everything twice)."""
    return [_active.interceptor()] if _active is not None else []


def instrument_app(app: FastAPI) -> None:
    if _active is not None:
        _active.instrument_app(app)


def instrument_engine(engine: AsyncEngine | Engine) -> None:
    if _active is not None:
        _active.instrument_engine(engine)
