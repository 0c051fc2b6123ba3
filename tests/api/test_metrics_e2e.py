"""/metrics after real cases through the stack (#19): the API's shows its requests by route
template and status and the Temporal SDK's client metrics; the worker's own port shows the
cases started and ended by type, webhook attempts, activity failures, the outbox backlog
and the SDK's worker metrics. Neither shows an id, a token or an organisation.

A stack of this module's own: its Temporal client runs on the runtime whose Prometheus
exporter `install_sdk_metrics` set up, as `aftersales worker` and `aftersales api` do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from db.session import make_engine, make_sessionmaker
from observability.backlog_metrics import BacklogGauges
from observability.temporal_metrics import install_sdk_metrics
from observability.worker_metrics import serving_metrics
from temporal_client import make_data_converter
from tests.api.helpers import add_product, make_org
from tests.api.test_rma_e2e import rma_body
from tests.conftest import BACKENDS
from tests.observability.test_dashboard import metric_names
from tests.support import PAYLOAD_KEY, Stack, eventually, free_port, run_stack

pytestmark = pytest.mark.e2e


@dataclass
class Metered:
    stack: Stack
    worker_metrics: str  # the worker port's base URL


def samples(text: str) -> list[Sample]:
    """Every sample of an exposition, read by prometheus-client's own parser."""
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    return sum(
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def names(text: str) -> set[str]:
    return {s.name for s in samples(text)}


@pytest.fixture(scope="module", params=BACKENDS)
async def metered(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Metered]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"metrics-{backend}")
    url = (
        f"sqlite+aiosqlite:///{tmp}/aftersales-metrics.db"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    sdk = install_sdk_metrics()
    target = dev_server.client.service_client.config.target_host
    # Connected after the install: the default runtime is the exporting one now.
    client = await Client.connect(
        target,
        namespace=dev_server.client.namespace,
        data_converter=make_data_converter(PAYLOAD_KEY),
    )
    # Retried for an hour, so the deliveries wait while the test reads their age (how they
    # end is counted in tests/observability/test_webhook_metrics.py).
    window = timedelta(hours=1)
    async with run_stack(backend, url, target, client, tmp, delivery_retry_window=window) as stack:
        engine = make_engine(url)
        # Read at every scrape, so each answer shows the backlog as it is then.
        backlog = BacklogGauges(make_sessionmaker(engine), min_interval=0)
        async with serving_metrics("127.0.0.1", free_port(), backlog, sdk) as port:
            assert port is not None
            yield Metered(stack, f"http://127.0.0.1:{port}")
        await engine.dispose()


async def scrape(base_url: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def test_a_case_through_the_stack_shows_on_both_metrics_endpoints(
    metered: Metered,
) -> None:
    stack = metered.stack
    before_api = await scrape(stack.base_url)
    before_worker = await scrape(metered.worker_metrics)
    created_route = {"method": "POST", "route": "/v1/rmas", "status": "201"}
    shown_route = {"method": "GET", "route": "/v1/rmas/{rma_id}", "status": "200"}
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer)
    async with stack.http(retailer.key) as shop:
        # A webhook nobody answers: its attempts fail, and the activity with them.
        closed = f"http://127.0.0.1:{free_port()}/hook"
        hook = await shop.post("/v1/webhooks", json={"url": closed, "events": ["rma.*"]})
        assert hook.status_code == 201, hook.text
        created = await shop.post(
            "/v1/rmas",
            json=rma_body(product["sku"]),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text
        rma = created.json()
        assert (await shop.get(f"/v1/rmas/{rma['id']}")).status_code == 200
        cancelled = await shop.post(f"/v1/rmas/{rma['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text

    api = await scrape(stack.base_url)
    assert value(api, "aftersales_http_requests_total", **created_route) == 1 + value(
        before_api, "aftersales_http_requests_total", **created_route
    )
    assert value(api, "aftersales_http_requests_total", **shown_route) >= 1
    assert (
        value(
            api, "aftersales_http_request_duration_seconds_count", method="POST", route="/v1/rmas"
        )
        >= 1
    )
    # The API's Temporal client through the SDK: update-with-start is one multi-operation.
    assert value(api, "temporal_long_request_total", operation="ExecuteMultiOperation") >= 1
    assert value(api, "aftersales_temporal_sdk_metrics_up") == 1

    def grew(text: str, name: str, **labels: str) -> bool:
        return value(text, name, **labels) > value(before_worker, name, **labels)

    def counted(text: str) -> bool:
        return (
            grew(text, "aftersales_cases_started_total", case_type="rma")
            and grew(text, "aftersales_cases_ended_total", case_type="rma", outcome="cancelled")
            and grew(text, "aftersales_webhook_attempts_total", result="no_answer")
            and grew(
                text,
                "aftersales_activity_failures_total",
                activity_type="deliver_webhook",
                error="WebhookNotAccepted",
            )
            # Read from the database at scrape time: the deliveries wait for their retries.
            and value(text, "aftersales_webhook_oldest_pending_age_seconds") > 0
            and grew(text, "temporal_workflow_completed_total", workflow_type="Rma")
        )

    worker = await eventually(
        lambda: scrape(metered.worker_metrics), counted, what="the worker's counters", every=0.2
    )
    depth = {s.labels["channel"] for s in samples(worker) if s.name == "aftersales_outbox_depth"}
    assert depth == {"webhook", "email"}
    # The SDK's worker side: its task slots and activity executions.
    assert value(worker, "temporal_worker_task_slots_available", worker_type="ActivityWorker") > 0
    assert grew(worker, "temporal_activity_execution_failed_total", activity_type="deliver_webhook")

    # The dashboard's queries of the SDK's metrics read names these answers carry (ours are
    # checked against the registry in tests/observability/test_dashboard.py).
    sdk = {name for name in metric_names() if name.startswith("temporal_")}
    assert sdk <= names(api) | names(worker), sdk - (names(api) | names(worker))

    for text in (api, worker):
        for secret in (rma["id"], rma["tracking_token"], retailer.id, retailer.key, closed):
            assert secret not in text


async def test_the_worker_port_answers_healthz_and_nothing_else(metered: Metered) -> None:
    async with httpx.AsyncClient(base_url=metered.worker_metrics, timeout=30) as http:
        assert (await http.get("/healthz")).text == "ok"
        assert (await http.get("/v1/rmas")).status_code == 404
