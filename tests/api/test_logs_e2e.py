"""The logs of a running system, as `aftersales api` and `aftersales worker` write them:
JSON lines, one per request with its request id, one per activity with its case id, and
never a tracking token, an API key or a secret, though the run issues keys, creates cases,
follows their tracking links, subscribes a webhook and sends a key that does not exist.

The two processes run on their own database against the session's dev server, at DEBUG,
with what they write captured to files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from cli import ROOT, migrate
from observability.scrub import known_secrets
from tests.api.test_rma_e2e import rma_body, with_label
from tests.support import (
    ADMIN_KEY,
    CARRIER_SECRET,
    PAYLOAD_KEY,
    SECRETS_KEY,
    eventually,
    free_port,
)


def process_environment(tmp: Path, database_url: str, temporal: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AFTERSALES_"))}
    env.update(
        AFTERSALES_ENV="test",
        AFTERSALES_LOG_LEVEL="DEBUG",
        AFTERSALES_DATABASE_URL=database_url,
        AFTERSALES_TEMPORAL_ADDRESS=temporal,
        AFTERSALES_TASK_QUEUE=f"logs-{uuid.uuid4().hex[:6]}",
        AFTERSALES_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        AFTERSALES_API_PORT=str(port),
        AFTERSALES_DOCUMENT_DIR=str(tmp / "documents"),
        AFTERSALES_ADMIN_KEY=ADMIN_KEY,
        AFTERSALES_CARRIER_SECRET=CARRIER_SECRET,
        AFTERSALES_PAYLOAD_KEY=PAYLOAD_KEY,
        AFTERSALES_SECRETS_KEY=SECRETS_KEY,
        AFTERSALES_WORKER_METRICS_PORT="0",
        AFTERSALES_DELIVERY_RETRY_WINDOW="PT5S",
        AFTERSALES_DELIVERY_FIRST_RETRY="PT0.2S",
    )
    return env


@asynccontextmanager
async def aftersales_process(command: str, env: dict[str, str], logs: Path) -> AsyncIterator[None]:
    """`aftersales <command>` with its standard error in `<command>.log` and its standard
    output in `<command>.out`, stopped as an orchestrator stops it (SIGTERM)."""
    with (logs / f"{command}.log").open("wb") as err, (logs / f"{command}.out").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "cli.py"), command, env=env, stdout=out, stderr=err
        )
        try:
            yield
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def api_up(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


def _created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _exercise(base_url: str) -> tuple[list[str], list[str], dict[str, Any]]:
    """Drive the API as retailers and customers do: the secrets it issued, the case ids,
    and what the request-id probes answered."""
    issued: list[str] = []
    case_ids: list[str] = []
    probes: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        # Generous: two processes start on a shared machine.
        await eventually(lambda: api_up(http), what="the API", within=120)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        org = _created(
            await http.post("/v1/orgs", json={"name": "Logs", "kind": "retailer"}, headers=admin)
        )
        keys = [
            _created(await http.post(f"/v1/orgs/{org['id']}/api-keys", headers=admin))["key"]
            for _ in range(2)
        ]
        issued += keys
        shop = {"Authorization": f"Bearer {keys[0]}"}
        sku = f"LOG-{uuid.uuid4().hex[:6]}"
        _created(
            await http.post(
                "/v1/products",
                headers=shop,
                json={
                    "sku": sku,
                    "name": "Speaker",
                    "category": "audio",
                    "unit_price": {"amount": "120.00", "currency": "USD"},
                    "warranty_months": 12,
                },
            )
        )
        # Nothing listens there: its deliveries fail, retry and give up, each logged.
        hook = _created(
            await http.post(
                "/v1/webhooks",
                headers=shop,
                json={"url": f"http://127.0.0.1:{free_port()}/hooks", "events": ["rma.*"]},
            )
        )
        issued.append(hook["secret"])
        for _ in range(2):
            rma = _created(await http.post("/v1/rmas", headers=shop, json=rma_body(sku)))
            case_ids.append(rma["id"])
            issued.append(rma["tracking_token"])
            path = f"/v1/rmas/{rma['id']}"
            done = await eventually(
                partial(http.get, path, headers=shop),
                lambda a: a.status_code == 200 and with_label(a.json()),
                what="the RMA's label",
                within=120,
            )
            label = next(d for d in done.json()["documents"] if d["kind"] == "return_label")
            token = rma["tracking_token"]
            assert (await http.get(f"/v1/track/{token}")).status_code == 200
            assert (await http.get(f"/track/{token}")).status_code == 200
            document = await http.get(f"/v1/documents/{label['id']}", params={"token": token})
            assert document.status_code == 200
            quote = await http.post(f"/v1/track/{token}/quote", json={"approve": True})
            assert quote.status_code == 409
            assert (await http.get(f"/v1/track/not-{token}")).status_code == 404
        stranger = "ask_" + uuid.uuid4().hex + "NotAKey9"
        issued.append(stranger)
        refused = await http.get("/v1/rmas", headers={"Authorization": f"Bearer {stranger}"})
        assert refused.status_code == 401
        probes["kept"] = await http.get("/healthz", headers={"X-Request-ID": "probe-kept-1"})
        probes["replaced"] = await http.get("/healthz", headers={"X-Request-ID": "two words"})
    return issued, case_ids, probes


def _logged_renders(log: Path, case_ids: list[str]) -> bool:
    text = log.read_text()
    return all(
        any('"render_and_project"' in line and case_id in line for line in text.splitlines())
        for case_id in case_ids
    )


def _written(logs: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in [*logs.glob("*.log"), *logs.glob("*.out")]}


async def test_logs_are_json_lines_with_request_and_case_ids_and_no_secret(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/logs.db"
    await asyncio.to_thread(migrate, database_url)
    port = free_port()
    temporal = dev_server.client.service_client.config.target_host
    env = process_environment(tmp_path, database_url, temporal, port)
    async with (
        aftersales_process("worker", env, tmp_path),
        aftersales_process("api", env, tmp_path),
    ):
        issued, case_ids, probes = await _exercise(f"http://127.0.0.1:{port}")
        # An activity's line follows its commit, which the API may have shown first.
        await eventually(
            lambda: asyncio.to_thread(_logged_renders, tmp_path / "worker.log", case_ids),
            what="the worker's activity lines",
            within=120,
        )

    assert probes["kept"].headers["X-Request-ID"] == "probe-kept-1"
    replaced = probes["replaced"].headers["X-Request-ID"]
    assert replaced != "two words" and len(replaced) == 32

    files = _written(tmp_path)
    secrets = [*issued, *known_secrets(ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY)]
    for name, text in files.items():
        for secret in secrets:
            assert secret not in text, f"{name} holds {secret[:6]}…"

    lines: dict[str, list[dict[str, Any]]] = {}
    for name in ("api.log", "worker.log"):
        lines[name] = []
        for line in files[name].splitlines():
            if line.strip():
                record = json.loads(line)  # every line is one JSON object
                assert isinstance(record, dict), line
                assert {"event", "level", "timestamp", "logger"} <= record.keys(), line
                lines[name].append(record)
    assert files["api.out"] == "" and files["worker.out"] == "", "logs go to stderr only"

    requests = [r for r in lines["api.log"] if r["event"] == "request"]
    assert requests and all(r.get("request_id") for r in requests)
    assert {r["request_id"] for r in requests if r["path"] == "/healthz"} >= {
        "probe-kept-1",
        replaced,
    }
    # The tracking requests are logged, their tokens taken out.
    tracked = [r["path"] for r in requests if "track/" in r["path"]]
    assert len(tracked) == 8 and all("[redacted]" in p for p in tracked), tracked
    assert sum("?token=[redacted]" in r["path"] for r in requests) == 2

    activities = [r for r in lines["worker.log"] if r["event"] == "activity"]
    for case_id in case_ids:
        mine = [a for a in activities if a.get("case_id") == case_id]
        assert {"book_shipment", "render_and_project"} <= {a["activity"] for a in mine}
        assert all(a["workflow_id"].endswith(case_id) for a in mine)
