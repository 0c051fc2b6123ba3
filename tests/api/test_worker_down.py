"""Nothing is lost when no worker is running: the create answers 503 `decision_pending`
after a bounded wait, and once a worker is back the same Idempotency-Key gets the decided
RMA, the very same one."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import uvicorn

from api.app import create_app
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import add_product, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import rma_body
from tests.support import Stack, free_port, serve_api
from worker import build_worker


async def test_create_without_a_worker_then_recover(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    lonely = stack.settings.model_copy(
        update={
            "task_queue": f"no-worker-{uuid.uuid4().hex[:6]}",
            "api_port": free_port(),
            "decision_timeout_seconds": 1.0,
        }
    )
    body = rma_body(sku)
    headers = {"Authorization": f"Bearer {retailer.key}", "Idempotency-Key": uuid.uuid4().hex}
    async with (
        serve_api(lonely) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        started = time.monotonic()
        pending = await http.post("/v1/rmas", json=body, headers=headers)
        assert_problem(pending, 503, "decision_pending")
        assert pending.headers["retry-after"] == "5"
        assert time.monotonic() - started < 10
        # The case is not half-written: nothing is listed until the workflow decides.
        listed = await http.get("/v1/rmas", headers={"Authorization": headers["Authorization"]})
        assert listed.json()["items"] == []

        engine = make_engine(lonely.database_url)
        async with build_worker(stack.client, make_sessionmaker(engine), lonely):
            retried = await http.post("/v1/rmas", json=body, headers=headers)
            assert retried.status_code == 201, retried.text
            rma = retried.json()
            assert rma["status"] == "awaiting_return"
            assert rma["id"] in pending.json()["detail"]
            again = await http.post("/v1/rmas", json=body, headers=headers)
            assert again.json()["id"] == rma["id"]
        await engine.dispose()


async def test_a_request_in_flight_when_the_api_stops_answers_503_shutting_down(
    stack: Stack,
) -> None:
    """uvicorn cancels what outlives its graceful shutdown; a command still waiting for its
    workflow then answered a bare 500."""
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    # No worker on this queue: the create waits for a decision that does not come.
    lonely = stack.settings.model_copy(
        update={
            "task_queue": f"no-worker-{uuid.uuid4().hex[:6]}",
            "api_port": free_port(),
            "decision_timeout_seconds": 60.0,
        }
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(lonely),
            host="127.0.0.1",
            port=lonely.api_port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )
    serving = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 20
    while not server.started:
        assert not serving.done() and time.monotonic() < deadline, "the API did not start"
        await asyncio.sleep(0.05)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{lonely.api_port}", timeout=30
    ) as http:
        waiting = asyncio.create_task(
            http.post(
                "/v1/rmas",
                json=rma_body(sku),
                headers={"Authorization": f"Bearer {retailer.key}"},
            )
        )
        # The request is in the app, waiting on its workflow.
        while not server.server_state.tasks:
            assert not waiting.done(), waiting.result().text
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        server.should_exit = True
        answer = await waiting
    await serving
    assert_problem(answer, 503, "shutting_down")
    assert answer.headers["retry-after"] == "5"
