"""Tracing on: one trace from the HTTP request that creates an RMA, through its workflow, to
each activity the workflow runs, across the Temporal boundary (the trace context travels in
the workflow's and activities' headers); and no exported span names a tracking token.

Twice: with the API and the worker in this process (tests.support.run_stack), each with its
own Temporal client, the spans caught by an in-memory exporter behind the scrubbing one;
and as deployed, `aftersales api` and `aftersales worker` processes turned on by
OTEL_EXPORTER_OTLP_ENDPOINT, exporting over OTLP/HTTP to a receiver in the test."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli import migrate
from observability import tracing
from observability.scrub import Scrubber
from observability.span_scrub import ScrubbingExporter
from temporal_client import make_data_converter
from tests.api.helpers import add_product, make_org
from tests.api.test_logs_e2e import aftersales_process, api_up, process_environment
from tests.api.test_rma_e2e import rma_body, wait_until, with_label
from tests.support import (
    ADMIN_KEY,
    PAYLOAD_KEY,
    Stack,
    eventually,
    free_port,
    run_stack,
    serve_asgi,
)


@pytest.fixture(scope="module")
async def traced(
    dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Stack, InMemorySpanExporter]]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(spans, Scrubber())))
    # Not httpx: this test's own calls would become the traces' roots.
    tracing.install(tracing.Tracing(provider), instrument_httpx=False)
    try:
        target = dev_server.client.service_client.config.target_host
        # The worker's client, connected as temporal_client.connect does with tracing on.
        client = await Client.connect(
            target,
            data_converter=make_data_converter(PAYLOAD_KEY),
            interceptors=tracing.client_interceptors(),
        )
        tmp = tmp_path_factory.mktemp("traced")
        url = f"sqlite+aiosqlite:///{tmp}/traced-{uuid.uuid4().hex[:6]}.db"
        async with run_stack("sqlite", url, target, client, Path(tmp)) as stack:
            yield stack, spans
    finally:
        tracing.uninstall()


def _in_trace(spans: tuple[ReadableSpan, ...], trace_id: int) -> list[ReadableSpan]:
    return [s for s in spans if s.context is not None and s.context.trace_id == trace_id]


async def test_one_trace_from_the_request_through_the_workflow_to_its_activities(
    traced: tuple[Stack, InMemorySpanExporter],
) -> None:
    stack, exporter = traced
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        await wait_until(shop, created.json()["id"], with_label)
    workflow_id = f"rma:{created.json()['id']}"

    spans = exporter.get_finished_spans()
    request = next(
        s
        for s in spans
        if s.kind is SpanKind.SERVER
        and s.name == "POST /v1/rmas"
        and s.instrumentation_scope is not None
        and "fastapi" in s.instrumentation_scope.name
    )
    assert request.context is not None
    trace = _in_trace(spans, request.context.trace_id)
    names = {s.name for s in trace}
    # The API's call to Temporal, the workflow's run on the worker, and the activities it
    # ran (the claim of the serial, the label's booking and rendering), all in the request's
    # trace.
    start = next(s for s in trace if s.name.startswith("StartUpdateWithStartWorkflow:"))
    assert start.attributes is not None
    assert start.attributes["temporalWorkflowID"] == workflow_id
    run = next(s for s in trace if s.name.startswith("RunWorkflow:"))
    assert run.attributes is not None
    assert run.attributes["temporalWorkflowID"] == workflow_id
    activities = {n.removeprefix("RunActivity:") for n in names if n.startswith("RunActivity:")}
    assert {"record_claiming", "book_shipment", "render_and_project"} <= activities, sorted(names)
    ran = [s for s in trace if s.name.startswith("RunActivity:")]
    assert all(
        s.attributes is not None and s.attributes["temporalWorkflowID"] == workflow_id for s in ran
    )
    # The API's own reads and writes are traced under the request too.
    assert any(
        s.instrumentation_scope is not None and "sqlalchemy" in s.instrumentation_scope.name
        for s in trace
    ), sorted(names)


async def test_no_span_names_a_tracking_token(traced: tuple[Stack, InMemorySpanExporter]) -> None:
    stack, exporter = traced
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        rma = await wait_until(shop, created.json()["id"], with_label)
    token = rma["tracking_token"]
    label = next(d for d in rma["documents"] if d["kind"] == "return_label")
    async with stack.http() as customer:
        assert (await customer.get(f"/v1/track/{token}")).status_code == 200
        assert (await customer.get(f"/track/{token}")).status_code == 200
        document = await customer.get(f"/v1/documents/{label['id']}", params={"token": token})
        assert document.status_code == 200

    spans = exporter.get_finished_spans()
    tracked = [
        s
        for s in spans
        if s.kind is SpanKind.SERVER
        and s.attributes is not None
        and any("track/[redacted]" in str(v) for v in s.attributes.values())
    ]
    assert tracked, "the tracking requests were traced"
    for span in spans:
        assert token not in span.name
        for value in (span.attributes or {}).values():
            assert token not in str(value), (span.name, value)
        for event in span.events:
            for value in (event.attributes or {}).values():
                assert token not in str(value), (span.name, event.name, value)


@dataclass
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    attributes: dict[str, str]


def otlp_receiver(received: list[ReceivedSpan]) -> Starlette:
    """A collector's OTLP/HTTP endpoint (`POST /v1/traces`, protobuf) that keeps the spans."""

    async def traces(request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            resource.get("service.name", ""),
                            span.name,
                            span.trace_id.hex(),
                            {a.key: a.value.string_value for a in span.attributes},
                        )
                    )
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])


async def test_the_api_and_worker_processes_export_one_trace_over_otlp(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """`aftersales api` and `aftersales worker` as deployed, tracing turned on by the standard
    variable alone: the collector gets the request's span from the API process and the
    workflow's and activities' spans from the worker process, all in one trace."""
    received: list[ReceivedSpan] = []
    collector_port, api_port = free_port(), free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path}/otlp.db"
    await asyncio.to_thread(migrate, database_url)
    temporal = dev_server.client.service_client.config.target_host
    env = process_environment(tmp_path, database_url, temporal, api_port)
    env |= {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms: batches leave soon, not every 5 s
    }
    async with (
        serve_asgi(otlp_receiver(received), collector_port),
        aftersales_process("worker", env, tmp_path),
        aftersales_process("api", env, tmp_path),
    ):
        base_url = f"http://127.0.0.1:{api_port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            await eventually(lambda: api_up(http), what="the API", within=120)
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            org = await http.post("/v1/orgs", json={"name": "T", "kind": "retailer"}, headers=admin)
            key = (await http.post(f"/v1/orgs/{org.json()['id']}/api-keys", headers=admin)).json()
            shop = {"Authorization": f"Bearer {key['key']}"}
            product = {
                "sku": "TR-1",
                "name": "Speaker",
                "category": "audio",
                "unit_price": {"amount": "120.00", "currency": "USD"},
                "warranty_months": 12,
            }
            assert (await http.post("/v1/products", json=product, headers=shop)).is_success
            # Its deliveries go out through httpx (instrumented) to where nothing listens.
            hook_port = free_port()
            hook = {"url": f"http://127.0.0.1:{hook_port}/hooks", "events": ["rma.*"]}
            assert (await http.post("/v1/webhooks", json=hook, headers=shop)).is_success
            created = await http.post("/v1/rmas", json=rma_body("TR-1"), headers=shop)
            assert created.status_code == 201, created.text
            rma = created.json()
            assert (await http.get(f"/track/{rma['tracking_token']}")).status_code == 200
            workflow_id = f"rma:{rma['id']}"

            def exported() -> bool:
                names = {s.name for s in received}
                return "RunActivity:render_and_project" in names and any(
                    f":{hook_port}/" in s.attributes.get("http.url", "") for s in received
                )

            await eventually(
                partial(asyncio.to_thread, exported), what="the worker's spans", within=120
            )

    request = next(
        s for s in received if s.service == "aftersales-api" and s.name == "POST /v1/rmas"
    )
    trace = [s for s in received if s.trace_id == request.trace_id]
    from_worker = {s.name for s in trace if s.service == "aftersales-worker"}
    assert "RunWorkflow:Rma" in from_worker, sorted(from_worker)
    run = next(s for s in trace if s.name == "RunWorkflow:Rma")
    assert run.attributes["temporalWorkflowID"] == workflow_id
    assert {"RunActivity:book_shipment", "RunActivity:render_and_project"} <= from_worker
    # The case's workflow, and the delivery queue its events were handed to: the webhook's
    # delivery, out through httpx, is in the request's trace too.
    assert all(s.attributes.get("temporalWorkflowID", rma["id"]).endswith(rma["id"]) for s in trace)
    assert any(f":{hook_port}/" in s.attributes.get("http.url", "") for s in trace)
    assert not any(rma["tracking_token"] in str(s) for s in received)
