"""RMAs created through the HTTP API per second (worker running, decision in the answer)
over raw `client.start_workflow` per second of a trivial workflow on the same dev server.

    python bench/start_rate.py [--seconds 15] [--concurrency 32] [--database-url URL]
                               [--profile DIR] [--history CASES] [--rounds N]
                               [--compare CHECKOUT]

`--rounds N` takes the three measurements (raw, ours, floor) in turn N times and prints the
ratios of their means: on a machine whose speed drifts, one raw run and one of ours can
land on different sides of a drift. `--compare CHECKOUT` runs this tree and another checkout
(a `git worktree` of an earlier commit) side by side, in alternating rounds: before and
after in one run. `--profile DIR` records the worker and the API with
py-spy while the RMAs are created, as `bench/repair_flow.py --profile` does; `--history
CASES` first writes that many earlier cases into the read model (bench/history.py).
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    CpuMeter,
    Rounds,
    after_deferred_work,
    alternate,
    api_client,
    cpu_line,
    profiling,
    rate,
    report_trees,
    run_bench,
    system,
)
from floor import floor_rate
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from domain.ids import rma_workflow_id

TARGET = {"SQLite": 0.15, "PostgreSQL": 0.3}
FLOOR_TARGET = 0.8


@workflow.defn(name="BenchNoop", sandboxed=False)
class Noop:
    @workflow.run
    async def run(self) -> None:
        return None


async def raw_start_rate(address: str, seconds: float, concurrency: int) -> float:
    client = await Client.connect(address)
    queue, run = "bench-noop", uuid.uuid4().hex[:6]  # one queue per server, as floor.QUEUE
    async with Worker(client, task_queue=queue, workflows=[Noop]):
        per_second, _ = await rate(
            lambda i: client.start_workflow(Noop.run, id=f"noop-{run}-{i}", task_queue=queue),
            seconds,
            concurrency,
        )
    await after_deferred_work()
    return per_second


async def api_create_rate(
    env: dict[str, str], seconds: float, concurrency: int, profile: str | None = None
) -> tuple[float, dict[str, float], str]:
    """RMAs per second, their CPU per RMA by process (`cpu_per`), and the workflow ID of one
    created before the measured run."""
    admin_key = env["AFTERSALES_ADMIN_KEY"]
    async with api_client(env, concurrency) as http:
        admin = {"Authorization": f"Bearer {admin_key}"}
        org = (
            await http.post("/v1/orgs", json={"name": "Bench", "kind": "retailer"}, headers=admin)
        ).json()
        key = (await http.post(f"/v1/orgs/{org['id']}/api-keys", headers=admin)).json()["key"]
        http.headers["Authorization"] = f"Bearer {key}"
        await http.post(
            "/v1/products",
            json={
                "sku": "BENCH-1",
                "name": "Bench speaker",
                "category": "audio",
                "unit_price": "99.00",
                "warranty_months": 12,
            },
        )
        purchased = (datetime.now(UTC) - timedelta(days=3)).isoformat()

        async def create(i: int) -> str:
            response = await http.post(
                "/v1/rmas",
                json={
                    "order_ref": f"SO-{i}",
                    "purchased_at": purchased,
                    "resolution": "refund",
                    "customer": {
                        "name": "Bench Customer",
                        "email": "b@example.com",
                        "address": {
                            "line1": "1 Way",
                            "city": "Town",
                            "postal_code": "1",
                            "country": "US",
                        },
                    },
                    "items": [
                        {
                            "sku": "BENCH-1",
                            "serial": f"SN-{uuid.uuid4().hex}",
                            "quantity": 1,
                            "reason": "defective",
                        }
                    ],
                },
            )
            if response.status_code != 201 or response.json()["status"] != "awaiting_return":
                raise RuntimeError(f"create failed: {response.status_code} {response.text}")
            return rma_workflow_id(response.json()["id"])

        first = await create(-1)  # warm up; its history is the floor's shape
        meter = CpuMeter(env)
        await meter.start()
        with profiling(env, profile):
            per_second, created = await rate(create, seconds, concurrency)
            cpu = await meter.per_case(created)
    print(cpu_line("RMA", cpu))
    return per_second, cpu, first


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", metavar="DIR", help="py-spy the worker and the API")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="CASES",
        help="that many earlier cases in the read model first (bench/history.py)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="the raw, ours and floor measurements taken in turn this many times, each "
        "--seconds long, and the ratios taken of their means (default 1; 3 with --compare)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="this tree and another checkout (a `git worktree` of an earlier commit), each "
        "with its own processes, measured in alternating rounds (--rounds, default 3)",
    )
    args = parser.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    if args.compare:
        with (
            system(args.database_url, root=args.compare.resolve(), history=args.history) as before,
            system(args.database_url, history=args.history) as now,
        ):
            trees = await alternate(
                {"compared": before, "this": now},
                args.rounds or 3,
                lambda env, rounds: measure_round(env, args, rounds),
            )
        report_trees(trees, args.compare, "start_rate", "RMA", TARGET[backend], FLOOR_TARGET)
        return
    with system(args.database_url, history=args.history) as env:
        rounds = Rounds()
        for _ in range(args.rounds or 1):
            await measure_round(env, args, rounds)
    rounds.report("start_rate", "RMA", TARGET[backend], FLOOR_TARGET)


async def measure_round(env: dict[str, str], args: argparse.Namespace, rounds: Rounds) -> None:
    """Raw, ours and the floor, one after the other, each `--seconds` long."""
    address = env["AFTERSALES_TEMPORAL_ADDRESS"]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    raw = await raw_start_rate(address, args.seconds, args.concurrency)
    print(f"raw start_workflow: {raw:.1f}/s ({args.concurrency} concurrent)")
    api, cpu, first = await api_create_rate(env, args.seconds, args.concurrency, args.profile)
    print(f"RMAs created over HTTP: {api:.1f}/s ({args.concurrency} concurrent, {backend})")
    floor, shape = await floor_rate(address, first, args.seconds, args.concurrency, env)
    print(
        f"floor (an RMA creation's history shape, no-op bodies: {shape.describe()}): {floor:.1f}/s"
    )
    rounds.add(raw, api, cpu, floor)


if __name__ == "__main__":
    run_bench(main)
