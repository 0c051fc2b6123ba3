"""Full repair jobs per second, every step over HTTP (create, received, diagnosing,
diagnosis, quality_check, QA pass with certificate and label, two signed carrier scans,
until `completed`), against the same number of steps as raw Temporal calls (one start and
seven updates) on a minimal workflow, on the same dev server in the same run.

    python bench/repair_flow.py [--seconds 20] [--in-flight 50] [--database-url URL]
                                [--profile DIR] [--no-sandbox]

`--profile DIR` records the worker and the API with py-spy (`pip install py-spy` into the
venv) while the repair jobs run (`DIR/worker.txt`, `DIR/api.txt`: collapsed stacks, one line
per stack with its samples).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from common import BIN, cpu_line, cpu_seconds, rate, settled_cpu_seconds, system
from floor import floor_rate
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from domain.ids import repair_workflow_id
from domain.signatures import sign

TARGET = 0.2
FLOOR_TARGET = 0.8
STEPS = 8  # one start and seven commands, in both measurements


@workflow.defn(name="BenchSteps", sandboxed=False)
class Steps:
    def __init__(self) -> None:
        self.step = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.step >= STEPS - 1)
        return self.step

    @workflow.update
    async def advance(self, step: int) -> int:
        self.step += 1
        return self.step

    @advance.validator
    def _check(self, step: int) -> None:
        if step != self.step + 1:
            raise ValueError("out of order")


async def raw_flow_rate(address: str, seconds: float, in_flight: int) -> float:
    client = await Client.connect(address)
    queue = f"bench-steps-{uuid.uuid4().hex[:6]}"

    async def job(i: int) -> None:
        handle = await client.start_workflow(Steps.run, id=f"steps-{queue}-{i}", task_queue=queue)
        for step in range(1, STEPS):
            await handle.execute_update(Steps.advance, step)
        await handle.result()

    async with Worker(client, task_queue=queue, workflows=[Steps]):
        per_second, _ = await rate(job, seconds, in_flight)
    return per_second


def _profilers(env: dict[str, str], directory: str) -> list[subprocess.Popen[bytes]]:
    """py-spy on the worker and the API until interrupted, as collapsed stacks (text)."""
    pids = dict(p.split("=") for p in env["BENCH_PIDS"].split(","))
    # `--gil`: only the thread holding the GIL, i.e. Python's CPU; idle threads and the
    # SDK core's own threads are left out.
    spy = [str(BIN / "py-spy"), "record", "--rate", "100", "--nonblocking", "--gil"]
    spy += ["--format", "raw"]
    return [
        subprocess.Popen(
            [*spy, "--pid", pids[name], "--output", f"{directory}/{name}.txt"],
            stdout=subprocess.DEVNULL,
        )
        for name in ("worker", "api")
    ]


async def api_flow_rate(
    env: dict[str, str], seconds: float, in_flight: int, profile: str | None = None
) -> tuple[float, str]:
    """Repair jobs per second, and the workflow ID of one completed before the measured
    run."""
    base = env["AFTERSALES_PUBLIC_BASE_URL"]
    secret = env["AFTERSALES_CARRIER_SECRET"]
    limits = httpx.Limits(max_connections=in_flight * 2)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
        admin = {"Authorization": f"Bearer {env['AFTERSALES_ADMIN_KEY']}"}

        async def org(kind: str) -> str:
            made = await http.post("/v1/orgs", json={"name": kind, "kind": kind}, headers=admin)
            key = await http.post(f"/v1/orgs/{made.json()['id']}/api-keys", headers=admin)
            return f"Bearer {key.json()['key']}"

        # A category of this run's own: a database reused from an earlier run (PostgreSQL)
        # holds that run's centers, and routing would send jobs to them (404 for ours).
        category = f"audio-{uuid.uuid4().hex[:8]}"
        shop = {"Authorization": await org("retailer")}
        bench = {"Authorization": await org("repair_center")}
        address = {"line1": "1 Way", "city": "Town", "postal_code": "1", "country": "US"}
        await http.put(
            "/v1/repair-centers/me",
            headers=bench,
            json={
                "categories": [category],
                "regions": ["US"],
                "daily_capacity": 100_000,
                "labor_rate": "60.00",
                "address": address,
            },
        )
        await http.post(
            "/v1/products",
            headers=shop,
            json={
                "sku": "BENCH-1",
                "name": "Bench speaker",
                "category": category,
                "unit_price": "99.00",
                "warranty_months": 24,
            },
        )
        purchased = (datetime.now(UTC) - timedelta(days=100)).isoformat()

        async def ok(response: httpx.Response, status: str | None = None) -> dict[str, object]:
            if response.status_code >= 300:
                raise RuntimeError(f"{response.status_code} {response.text}")
            body: dict[str, object] = response.json()
            if status is not None and body.get("status") != status:
                raise RuntimeError(f"expected {status}, got {body.get('status')}")
            return body

        async def scan(tracking: str, status: str) -> None:
            raw = json.dumps(
                {
                    "event_id": uuid.uuid4().hex,
                    "tracking_number": tracking,
                    "status": status,
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            ).encode()
            headers = {
                "X-Carrier-Signature": sign(secret, raw, int(time.time())),
                "Content-Type": "application/json",
            }
            await ok(await http.post("/v1/carrier-events", content=raw, headers=headers))

        async def job(i: int) -> str:
            created = await ok(
                await http.post(
                    "/v1/repairs",
                    headers=shop,
                    json={
                        "unit": {
                            "sku": "BENCH-1",
                            "serial": uuid.uuid4().hex,
                            "purchased_at": purchased,
                        },
                        "fault": "no sound",
                        "customer": {
                            "name": "Bench Customer",
                            "email": "b@example.com",
                            "address": address,
                        },
                    },
                ),
                "awaiting_unit",
            )
            path = f"/v1/repairs/{created['id']}"
            for status in ("received", "diagnosing"):
                await ok(
                    await http.post(f"{path}/status", headers=bench, json={"status": status}),
                    status,
                )
            diagnosis = {"fault_code": "E1", "labor_minutes": 30, "repairable": True}
            await ok(
                await http.post(f"{path}/diagnosis", headers=bench, json=diagnosis), "repairing"
            )
            await ok(
                await http.post(f"{path}/status", headers=bench, json={"status": "quality_check"}),
                "quality_check",
            )
            done = await ok(
                await http.post(f"{path}/qa", headers=bench, json={"passed": True}), "ready_to_ship"
            )
            shipments = done["shipments"]
            assert isinstance(shipments, list)
            tracking = next(s["tracking_number"] for s in shipments if s["direction"] == "outbound")
            await scan(tracking, "picked_up")
            await scan(tracking, "delivered")
            for _ in range(480):  # a delivered scan completes the job shortly after
                if (await ok(await http.get(path, headers=bench)))["status"] == "completed":
                    return repair_workflow_id(str(created["id"]))
                await asyncio.sleep(0.25)
            raise RuntimeError(f"{created['id']} did not complete")

        first = await job(-1)  # warm up; its history is the floor's shape
        profilers = _profilers(env, profile) if profile else []
        before = cpu_seconds(env)
        per_second, jobs = await rate(job, seconds, in_flight)
        after = await settled_cpu_seconds(env)
        for profiler in profilers:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
            profiler.wait(timeout=60)
    print(cpu_line("repair job", before, after, jobs))
    return per_second, first


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", metavar="DIR", help="py-spy the worker and the API")
    parser.add_argument(
        "--no-sandbox", action="store_true", help="AFTERSALES_WORKFLOW_SANDBOX=false"
    )
    args = parser.parse_args()
    settings = {"AFTERSALES_WORKFLOW_SANDBOX": "false"} if args.no_sandbox else {}
    with system(args.database_url, settings) as env:
        raw = await raw_flow_rate(env["AFTERSALES_TEMPORAL_ADDRESS"], args.seconds, args.in_flight)
        print(f"raw start + {STEPS - 1} updates: {raw:.1f} jobs/s ({args.in_flight} in flight)")
        api, first = await api_flow_rate(env, args.seconds, args.in_flight, args.profile)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        print(f"repair jobs over HTTP: {api:.1f} jobs/s ({args.in_flight} in flight, {backend})")
        floor, shape = await floor_rate(
            env["AFTERSALES_TEMPORAL_ADDRESS"], first, args.seconds, args.in_flight, env
        )
        print(
            f"floor (a repair job's history shape, no-op bodies: {shape.describe()}): "
            f"{floor:.1f} jobs/s"
        )
    print(f"repair_flow ratio: {api / raw:.2f} (target >= {TARGET})")
    print(f"repair_flow floor ratio: {api / floor:.2f} (target >= {FLOOR_TARGET})")


if __name__ == "__main__":
    asyncio.run(main())
