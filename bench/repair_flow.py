"""Full repair jobs per second, every step over HTTP (create, received, diagnosing,
diagnosis, quality_check, QA pass with certificate and label, two signed carrier scans,
until `completed`), against the same number of steps as raw Temporal calls (one start and
seven updates) on a minimal workflow, on the same dev server in the same run.

    python bench/repair_flow.py [--seconds 20] [--in-flight 50] [--database-url URL]
                                [--profile DIR] [--no-sandbox] [--steps JOBS]
                                [--history CASES] [--rounds N] [--poll]

A job's last step is its delivered scan; the job then waits for its workflow to close and
reads itself once (`--poll`: every 0.25 s until it reads `completed`, as sittings before the
eleventh did, which charged each job the API's answers to however many reads it took).

`--rounds N` takes the three measurements (raw, ours, floor) in turn N times and prints the
ratios of their means, as `bench/start_rate.py --rounds` does.
`--steps JOBS` measures nothing else: JOBS jobs take each step in turn, four at a time, and
each step's CPU per job is printed by process (where a job's CPU goes, without polls).
`--history CASES` first writes that many earlier cases of another retailer into the read
model (bench/history.py): a job should cost the same beside 100,000 cases as in an empty
database. `--profile DIR` records the worker and the API with py-spy (`pip install py-spy` into the
venv) while the repair jobs run (`DIR/worker.txt`, `DIR/api.txt`: collapsed stacks, one line
per stack with its samples).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from common import (
    CpuMeter,
    Rounds,
    after_deferred_work,
    alternate,
    api_client,
    cpu_line,
    cpu_seconds,
    profiling,
    rate,
    report_trees,
    run_bench,
    settled_cpu_seconds,
    system,
)
from floor import floor_rate
from temporalio import workflow
from temporalio.client import Client, WorkflowHistoryEventFilterType
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
    queue, run = "bench-steps", uuid.uuid4().hex[:6]  # one queue per server, as floor.QUEUE

    async def job(i: int) -> None:
        handle = await client.start_workflow(Steps.run, id=f"steps-{run}-{i}", task_queue=queue)
        for step in range(1, STEPS):
            await handle.execute_update(Steps.advance, step)
        await handle.result()

    async with Worker(client, task_queue=queue, workflows=[Steps]):
        per_second, _ = await rate(job, seconds, in_flight)
    await after_deferred_work()
    return per_second


class RepairSteps:
    """The steps of one bench repair job over HTTP, each a method on the job's number, so a
    run can take them one job after another (`job`) or one step for every job (`--steps`)."""

    NAMES = (
        "create",
        "received",
        "diagnosing",
        "diagnosis",
        "quality_check",
        "qa pass",
        "scan picked_up",
        "scan delivered",
        "get",
    )

    def __init__(
        self, http: httpx.AsyncClient, env: dict[str, str], temporal: Client | None = None
    ) -> None:
        self.http = http
        # With a client, a job waits for its workflow to close and reads itself once;
        # without, it polls (`--poll`).
        self.temporal = temporal
        self.secret = env["AFTERSALES_CARRIER_SECRET"]
        self.admin = {"Authorization": f"Bearer {env['AFTERSALES_ADMIN_KEY']}"}
        self.shop: dict[str, str] = {}
        self.bench: dict[str, str] = {}
        self.address = {"line1": "1 Way", "city": "Town", "postal_code": "1", "country": "US"}
        self.purchased = (datetime.now(UTC) - timedelta(days=100)).isoformat()
        self.paths: dict[int, str] = {}
        self.tracking: dict[int, str] = {}
        # GETs until `completed` (each costs the API a view read): how many depends on how
        # soon the delivered scan is applied, so the run says it.
        self.polls = 0

    async def set_up(self) -> None:
        """A retailer with one product and a repair center that takes its category."""
        self.shop = {"Authorization": await self._org("retailer")}
        self.bench = {"Authorization": await self._org("repair_center")}
        # A category of this run's own: a database reused from an earlier run (PostgreSQL)
        # holds that run's centers, and routing would send jobs to them (404 for ours).
        category = f"audio-{uuid.uuid4().hex[:8]}"
        await self.http.put(
            "/v1/repair-centers/me",
            headers=self.bench,
            json={
                "categories": [category],
                "regions": ["US"],
                "daily_capacity": 100_000,
                "labor_rate": "60.00",
                "address": self.address,
            },
        )
        await self.http.post(
            "/v1/products",
            headers=self.shop,
            json={
                "sku": "BENCH-1",
                "name": "Bench speaker",
                "category": category,
                "unit_price": "99.00",
                "warranty_months": 24,
            },
        )

    async def _org(self, kind: str) -> str:
        made = await self.http.post(
            "/v1/orgs", json={"name": kind, "kind": kind}, headers=self.admin
        )
        key = await self.http.post(f"/v1/orgs/{made.json()['id']}/api-keys", headers=self.admin)
        return f"Bearer {key.json()['key']}"

    async def step(self, name: str, i: int) -> None:
        """Step `name` of job `i`."""
        match name:
            case "create":
                await self.create(i)
            case "received" | "diagnosing" | "quality_check":
                await self.status(i, name)
            case "diagnosis":
                diagnosis = {"fault_code": "E1", "labor_minutes": 30, "repairable": True}
                await self._ok(
                    await self.http.post(
                        f"{self.paths[i]}/diagnosis", headers=self.bench, json=diagnosis
                    ),
                    "repairing",
                )
            case "qa pass":
                done = await self._ok(
                    await self.http.post(
                        f"{self.paths[i]}/qa", headers=self.bench, json={"passed": True}
                    ),
                    "ready_to_ship",
                )
                shipments = done["shipments"]
                assert isinstance(shipments, list)
                self.tracking[i] = next(
                    s["tracking_number"] for s in shipments if s["direction"] == "outbound"
                )
            case "scan picked_up" | "scan delivered":
                await self.scan(self.tracking[i], name.split()[1])
            case "get":
                await self.get(i)

    async def create(self, i: int) -> None:
        unit = {"sku": "BENCH-1", "serial": uuid.uuid4().hex, "purchased_at": self.purchased}
        customer = {"name": "Bench Customer", "email": "b@example.com", "address": self.address}
        created = await self._ok(
            await self.http.post(
                "/v1/repairs",
                headers=self.shop,
                json={"unit": unit, "fault": "no sound", "customer": customer},
            ),
            "awaiting_unit",
        )
        self.paths[i] = f"/v1/repairs/{created['id']}"

    async def status(self, i: int, status: str) -> None:
        await self._ok(
            await self.http.post(
                f"{self.paths[i]}/status", headers=self.bench, json={"status": status}
            ),
            status,
        )

    async def scan(self, tracking: str, status: str) -> None:
        raw = json.dumps(
            {
                "event_id": uuid.uuid4().hex,
                "tracking_number": tracking,
                "status": status,
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        ).encode()
        headers = {
            "X-Carrier-Signature": sign(self.secret, raw, int(time.time())),
            "Content-Type": "application/json",
        }
        await self._ok(await self.http.post("/v1/carrier-events", content=raw, headers=headers))

    async def get(self, i: int) -> str:
        body = await self._ok(await self.http.get(self.paths[i], headers=self.bench))
        return str(body["status"])

    async def job(self, i: int) -> str:
        """A whole job, until it reads `completed`: the workflow ID of the job."""
        for name in self.NAMES[:-1]:
            await self.step(name, i)
        if self.temporal is not None:
            # The job's last projection commits before its workflow closes: one GET then.
            workflow_id = repair_workflow_id(self.paths[i].rsplit("/", 1)[1])
            closing = self.temporal.get_workflow_handle(workflow_id).fetch_history_events(
                wait_new_event=True, event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT
            )
            async for _ in closing:
                break
            self.polls += 1
            if await self.get(i) != "completed":
                raise RuntimeError(f"{self.paths[i]} closed but does not read completed")
            self.tracking.pop(i)
            self.paths.pop(i)
            return workflow_id
        for _ in range(480):  # a delivered scan completes the job shortly after
            self.polls += 1
            if await self.get(i) == "completed":
                self.tracking.pop(i)
                return repair_workflow_id(self.paths.pop(i).rsplit("/", 1)[1])
            await asyncio.sleep(0.25)
        raise RuntimeError(f"{self.paths[i]} did not complete")

    @staticmethod
    async def _ok(response: httpx.Response, status: str | None = None) -> dict[str, object]:
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code} {response.text}")
        body: dict[str, object] = response.json()
        if status is not None and body.get("status") != status:
            raise RuntimeError(f"expected {status}, got {body.get('status')}")
        return body


async def api_flow_rate(
    env: dict[str, str],
    seconds: float,
    in_flight: int,
    profile: str | None = None,
    poll: bool = False,
) -> tuple[float, dict[str, float], str]:
    """Repair jobs per second, their CPU per job by process (`cpu_per`), and the workflow
    ID of one completed before the measured run. Each job waits for its workflow to close
    and reads itself once; with `poll`, it reads itself every 0.25 s until `completed`."""
    temporal = None if poll else await Client.connect(env["AFTERSALES_TEMPORAL_ADDRESS"])
    async with api_client(env, in_flight * 2) as http:
        steps = RepairSteps(http, env, temporal)
        await steps.set_up()

        async def job(i: int) -> str:
            return await steps.job(i)

        first = await job(-1)  # warm up; its history is the floor's shape
        meter = CpuMeter(env)
        await meter.start()
        with profiling(env, profile):
            steps.polls = 0
            per_second, jobs = await rate(job, seconds, in_flight)
            cpu = await meter.per_case(jobs)
        polls = steps.polls / jobs
    print(cpu_line("repair job", cpu))
    print(f"GETs per job until it read completed: {polls:.1f}")
    return per_second, cpu, first


async def cpu_by_step(env: dict[str, str], jobs: int, in_flight: int = 4) -> None:
    """Where a job's CPU goes: every job takes one step before any takes the next, and each
    process's CPU is read once the step has settled, so each row is that step's own cost
    (per job, in ms). Without polls: the last row is one `GET` of a completed job."""
    async with api_client(env) as http:
        steps = RepairSteps(http, env)
        await steps.set_up()
        await steps.job(-1)  # warm up
        gate = asyncio.Semaphore(in_flight)
        totals: dict[str, float] = {}

        async def one(name: str, i: int) -> None:
            async with gate:
                await steps.step(name, i)

        print(f"CPU per step ({jobs} jobs, {in_flight} at a time), ms per job:")
        for name in RepairSteps.NAMES:
            before = cpu_seconds(env)
            await asyncio.gather(*(one(name, i) for i in range(jobs)))
            after = await settled_cpu_seconds(env)
            per = {p: 1000 * (after[p] - before[p]) / jobs for p in after}
            for process, ms in per.items():
                totals[process] = totals.get(process, 0.0) + ms
            print(f"  {name:<15}" + _cells(per))
        print(f"  {'all steps':<15}" + _cells(totals))


async def cpu_by_step_compared(
    envs: dict[str, dict[str, str]], jobs: int, rounds: int, in_flight: int = 4
) -> None:
    """`cpu_by_step` for two systems side by side (this checkout and another), each step
    taken by one system's jobs and then the other's, first one then the other in turn: both
    see the machine as it is at that moment, so a change of a few percent shows through the
    drift of the machine's speed, which separate runs cannot tell apart from it."""
    async with contextlib.AsyncExitStack() as stack:
        steps: dict[str, RepairSteps] = {}
        for label, env in envs.items():
            http = await stack.enter_async_context(api_client(env))
            steps[label] = RepairSteps(http, env)
            await steps[label].set_up()
            await steps[label].job(-1)  # warm up
        gate = asyncio.Semaphore(in_flight)
        totals = {label: {name: 0.0 for name in RepairSteps.NAMES} for label in envs}
        order = list(envs)
        for r in range(rounds):
            for name in RepairSteps.NAMES:
                order.reverse()
                for label in order:
                    ids = range(r * jobs, (r + 1) * jobs)

                    async def one(i: int, of: RepairSteps = steps[label], step: str = name) -> None:
                        async with gate:
                            await of.step(step, i)

                    before = cpu_seconds(envs[label])
                    await asyncio.gather(*(one(i) for i in ids))
                    after = await settled_cpu_seconds(envs[label])
                    used = sum(after[p] - before[p] for p in after)
                    totals[label][name] += 1000 * used / (jobs * rounds)
    a, b = envs
    print(f"CPU per step, all processes, ms per job ({rounds} rounds of {jobs} jobs):")
    print(f"  {'step':<15}{a:>10}{b:>10}  change")
    for name in (*RepairSteps.NAMES, "all steps"):
        ms = {
            label: sum(per.values()) if name == "all steps" else per[name]
            for label, per in totals.items()
        }
        print(f"  {name:<15}{ms[a]:10.1f}{ms[b]:10.1f}  {100 * (ms[b] / ms[a] - 1):+.1f} %")


def _cells(per: dict[str, float]) -> str:
    return "".join(f"{p} {ms:5.1f}  " for p, ms in per.items()) + f"all {sum(per.values()):5.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", metavar="DIR", help="py-spy the worker and the API")
    parser.add_argument(
        "--no-sandbox", action="store_true", help="AFTERSALES_WORKFLOW_SANDBOX=false"
    )
    parser.add_argument(
        "--poll",
        action="store_true",
        help="each job reads itself every 0.25 s until completed (as sittings before the "
        "eleventh measured), not once when its workflow closes",
    )
    parser.add_argument(
        "--steps",
        type=int,
        metavar="JOBS",
        help="only the CPU of each step, JOBS jobs taking each step in turn",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="CHECKOUT",
        help="this tree and another checkout (a `git worktree` of an earlier commit), each "
        "with its own processes, measured in alternating rounds (--rounds, default 3); "
        "with --steps, each step's CPU side by side",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="the raw, ours and floor measurements taken in turn this many times, each "
        "--seconds long, and the ratios taken of their means (default 1); with --compare, "
        "the rounds of each step (default 3)",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="CASES",
        help="that many earlier cases in the read model first (bench/history.py)",
    )
    args = parser.parse_args()
    settings = {"AFTERSALES_WORKFLOW_SANDBOX": "false"} if args.no_sandbox else {}
    if args.compare:
        with (
            system(
                args.database_url, settings, root=args.compare.resolve(), history=args.history
            ) as before,
            system(args.database_url, settings, history=args.history) as now,
        ):
            envs = {"compared": before, "this": now}
            if args.steps:
                await cpu_by_step_compared(envs, args.steps, args.rounds or 3)
                return
            trees = await alternate(
                envs, args.rounds or 3, lambda env, rounds: measure_round(env, args, rounds)
            )
        report_trees(trees, args.compare, "repair_flow", "repair job", TARGET, FLOOR_TARGET)
        return
    with system(args.database_url, settings, history=args.history) as env:
        if args.steps:
            await cpu_by_step(env, args.steps)
            return
        rounds = Rounds()
        for _ in range(args.rounds or 1):
            await measure_round(env, args, rounds)
    rounds.report("repair_flow", "repair job", TARGET, FLOOR_TARGET)


async def measure_round(env: dict[str, str], args: argparse.Namespace, rounds: Rounds) -> None:
    """Raw, ours and the floor, one after the other, each `--seconds` long."""
    address = env["AFTERSALES_TEMPORAL_ADDRESS"]
    backend = "PostgreSQL" if args.database_url else "SQLite"
    flight = f"{args.in_flight} in flight"
    raw = await raw_flow_rate(address, args.seconds, args.in_flight)
    print(f"raw start + {STEPS - 1} updates: {raw:.1f} jobs/s ({flight})")
    api, cpu, first = await api_flow_rate(
        env, args.seconds, args.in_flight, args.profile, args.poll
    )
    print(f"repair jobs over HTTP: {api:.1f} jobs/s ({flight}, {backend})")
    floor, shape = await floor_rate(address, first, args.seconds, args.in_flight, env)
    print(
        f"floor (a repair job's history shape, no-op bodies: {shape.describe()}): "
        f"{floor:.1f} jobs/s"
    )
    rounds.add(raw, api, cpu, floor)


if __name__ == "__main__":
    run_bench(main)
