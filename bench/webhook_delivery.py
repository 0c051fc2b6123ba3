"""Webhook deliveries per second through our delivery queues (outbox rows handed over by the
worker's own relay, `activities.handover.Handover`, to `DeliveryQueue` workflows; the signed
POST; the delivery log written per attempt) against raw Temporal doing the same durable,
in-order work (one workflow per case running one POST activity per event), to the same
local receiver, on the same dev server in the same run. Also the delay from hand-over to
arrival. `--profile DIR` records the worker with py-spy while ours runs
(DIR/worker.txt, collapsed stacks).

    python bench/webhook_delivery.py [--cases 40] [--events 10] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from common import BIN, api_client, cpu_seconds, run_bench, system
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

from activities.handover import Handover
from activities.notify import Dispatcher
from db import models
from db.outbox import PendingDelivery, webhook_queue
from db.session import make_engine, make_sessionmaker
from domain.signatures import sign
from tests.support import free_port, serve_asgi

TARGET = 0.6


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, list[tuple[str, int, float]]] = {"/raw": [], "/ours": []}
        self.done = asyncio.Event()
        self.expected = 0
        self.path = "/raw"

    async def handle(self, request: Request) -> Response:
        body = json.loads(await request.body())
        arrivals = self.arrivals[request.url.path]
        arrivals.append((body["case_id"], body["data"]["sequence"], time.perf_counter()))
        if request.url.path == self.path and len(arrivals) >= self.expected:
            self.done.set()
        return Response(status_code=204)


# One client for every raw POST, as the worker's NotifyActivities keeps one.
_HTTP = httpx.AsyncClient(timeout=10)


@activity.defn(name="bench_post")
async def bench_post(url: str, case_id: str, seq: int) -> None:
    raw = json.dumps({"case_id": case_id, "data": {"sequence": seq}}).encode()
    headers = {"X-Aftersales-Signature": sign("s", raw, int(time.time()))}
    (await _HTTP.post(url, content=raw, headers=headers)).raise_for_status()


@workflow.defn(name="BenchPosts", sandboxed=False)
class Posts:
    @workflow.run
    async def run(self, url: str, case_id: str, events: int) -> None:
        for seq in range(1, events + 1):
            await workflow.execute_activity(
                bench_post, args=[url, case_id, seq], start_to_close_timeout=timedelta(seconds=30)
            )


def in_order(arrivals: list[tuple[str, int, float]]) -> bool:
    last: dict[str, int] = {}
    for case_id, seq, _ in arrivals:
        if seq <= last.get(case_id, 0):
            return False
        last[case_id] = seq
    return True


async def raw_rate(client: Client, receiver: Receiver, url: str, cases: int, events: int) -> float:
    queue = f"bench-posts-{uuid.uuid4().hex[:6]}"
    receiver.path, receiver.expected = "/raw", cases * events
    receiver.done.clear()
    async with Worker(client, task_queue=queue, workflows=[Posts], activities=[bench_post]):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                client.start_workflow(
                    Posts.run, args=[url, f"RAW-{i}", events], id=f"{queue}-{i}", task_queue=queue
                )
                for i in range(cases)
            )
        )
        await asyncio.wait_for(receiver.done.wait(), 600)
        elapsed = time.perf_counter() - started
    assert in_order(receiver.arrivals["/raw"])
    return cases * events / elapsed


def _profile(env: dict[str, str], directory: str) -> subprocess.Popen[bytes]:
    """py-spy on the worker until terminated: its samples as collapsed stacks (text)."""
    pid = dict(p.split("=") for p in env["BENCH_PIDS"].split(","))["worker"]
    output = f"{directory}/worker.txt"
    spy = [
        str(BIN / "py-spy"),
        "record",
        "--pid",
        pid,
        "--rate",
        "100",
        "--nonblocking",
        "--format",
        "raw",
    ]
    return subprocess.Popen([*spy, "--output", output])


async def our_rate(
    env: dict[str, str],
    client: Client,
    receiver: Receiver,
    url: str,
    cases: int,
    events: int,
    profile: str | None = None,
) -> tuple[float, list[float]]:
    async with api_client(env) as http:
        admin = {"Authorization": f"Bearer {env['AFTERSALES_ADMIN_KEY']}"}
        org = (
            await http.post("/v1/orgs", json={"name": "shop", "kind": "retailer"}, headers=admin)
        ).json()
        key = (await http.post(f"/v1/orgs/{org['id']}/api-keys", headers=admin)).json()["key"]
        sub = (
            await http.post(
                "/v1/webhooks",
                json={"url": url, "events": ["*"]},
                headers={"Authorization": f"Bearer {key}"},
            )
        ).json()
    engine = make_engine(env["AFTERSALES_DATABASE_URL"])
    sessions = make_sessionmaker(engine)
    now = datetime.now(UTC)
    pending: dict[str, list[PendingDelivery]] = {}
    async with sessions.begin() as session:
        for i in range(cases):
            case_id = f"BENCH-{i}"
            for seq in range(1, events + 1):
                delivery = models.WebhookDelivery(
                    id=models.new_id(), subscription_id=sub["id"], case_id=case_id, seq=seq,
                    event_id=f"evt_{case_id}_{seq}", type="rma.bench", created_at=now,
                    payload={"case_id": case_id, "data": {"sequence": seq}},
                )  # fmt: skip
                session.add(delivery)
                pending.setdefault(case_id, []).append(
                    PendingDelivery(
                        delivery.id, "webhook", webhook_queue(sub["id"], case_id), seq, now
                    )
                )
    # The worker's relay, as the projections of 400 entries committing at once use it.
    relay = Handover(
        Dispatcher(client, "aftersales", timedelta(days=1), timedelta(seconds=1)), sessions
    )
    receiver.path, receiver.expected = "/ours", cases * events
    receiver.done.clear()
    handed: dict[tuple[str, int], float] = {}
    profiler = _profile(env, profile) if profile else None

    before = cpu_seconds(env)
    started = time.perf_counter()
    for case_id, deliveries in pending.items():
        for queued in deliveries:
            handed[case_id, queued.seq] = time.perf_counter()
            await relay.dispatch([queued])
    await asyncio.wait_for(receiver.done.wait(), 600)
    elapsed = time.perf_counter() - started
    after = cpu_seconds(env)
    await relay.idle()
    await engine.dispose()
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
        profiler.wait(timeout=60)
    arrivals = receiver.arrivals["/ours"]
    assert in_order(arrivals)
    print(
        "CPU per delivery: "
        + ", ".join(
            f"{name} {1000 * (after[name] - before[name]) / len(arrivals):.1f} ms" for name in after
        )
    )
    delays = [1000 * (at - handed[case_id, seq]) for case_id, seq, at in arrivals]
    return cases * events / elapsed, delays


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--profile", metavar="DIR", help="py-spy the worker while ours runs")
    args = parser.parse_args()
    from temporal_client import make_data_converter

    receiver = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/{path}", receiver.handle, methods=["POST"])])
    with system() as env:
        client = await Client.connect(
            env["AFTERSALES_TEMPORAL_ADDRESS"],
            data_converter=make_data_converter(env["AFTERSALES_PAYLOAD_KEY"]),
        )
        async with serve_asgi(app, port):
            url = f"http://127.0.0.1:{port}"
            raw = await raw_rate(client, receiver, f"{url}/raw", args.cases, args.events)
            print(f"raw workflow + POST activities: {raw:.1f} deliveries/s ({args.cases} cases)")
            ours, delays = await our_rate(
                env, client, receiver, f"{url}/ours", args.cases, args.events, args.profile
            )
    print(f"delivery queues: {ours:.1f} deliveries/s ({args.cases} cases x {args.events} events)")
    print(
        f"hand-over to arrival: p50 {statistics.median(delays):.0f} ms, "
        f"p95 {statistics.quantiles(delays, n=20)[18]:.0f} ms"
    )
    print(f"webhook_delivery ratio: {ours / raw:.2f} (target >= {TARGET})")


if __name__ == "__main__":
    run_bench(main)
