"""Scaling by count: two workers and two API processes (real OS processes, as a deployment
runs them) share one Temporal dev server and one database. Cases of four kinds are created
and driven through both APIs; midway one worker is killed with SIGKILL and not restarted.
The other worker picks up what the dead one held (its sticky workflows, its activities
once they time out), every case ends as it should, and each payment, parcel, document,
timeline entry and email exists once: nothing is tied to one process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli import ROOT, migrate
from settings import Settings
from temporal_client import connect
from tests.api.test_rma_e2e import rma_body
from tests.chaos.test_crash_recovery import (
    DRIVERS,
    Outcome,
    Process,
    System,
    World,
    _wait_for_port,
    database,
    effects_once,
    prepare,
    process_log,
    send,
    settings_env,
    temporal_process,
)
from tests.support import (
    ADMIN_KEY,
    CARRIER_SECRET,
    PAYLOAD_KEY,
    SECRETS_KEY,
    Stack,
    free_port,
)

# Per API: few enough to stay well under a minute on a shared two-core machine, every kind.
CASES_PER_KIND_PER_API = 1
DRIVE_BUDGET = 50.0


@dataclass
class Cluster:
    temporal: Process
    workers: list[Process]
    apis: list[Process]
    # One view of the system per API process: the same settings, its own base URL.
    systems: list[System]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = settings_env(settings)
    # Two workers on one machine: no /metrics port of their own to fight over.
    env["AFTERSALES_WORKER_METRICS_PORT"] = "0"
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def running_cluster(tmp: Path) -> AsyncIterator[Cluster]:
    temporal_port = free_port()
    api_ports = [free_port(), free_port()]
    with database(tmp) as url, process_log(tmp) as log:
        settings = Settings(
            env="test",
            database_url=url,
            temporal_address=f"127.0.0.1:{temporal_port}",
            task_queue=f"scale-{uuid.uuid4().hex[:6]}",
            # What a load balancer in front of both APIs would be; labels print it.
            public_base_url=f"http://127.0.0.1:{api_ports[0]}",
            document_dir=tmp / "documents",  # a volume both workers and APIs mount
            admin_key=ADMIN_KEY,
            carrier_secret=CARRIER_SECRET,
            payload_key=PAYLOAD_KEY,
            secrets_key=SECRETS_KEY,
        )
        python, cli = sys.executable, str(ROOT / "cli.py")
        temporal = temporal_process(tmp, temporal_port, log)
        workers = [
            Process(f"worker-{n}", [python, cli, "worker"], log, process_env(settings))
            for n in (1, 2)
        ]
        apis = [
            Process(
                f"api-{n}",
                [python, cli, "api"],
                log,
                process_env(settings, AFTERSALES_API_PORT=str(port)),
            )
            for n, port in enumerate(api_ports, start=1)
        ]
        try:
            await asyncio.gather(asyncio.to_thread(migrate, url), asyncio.to_thread(temporal.start))
            # Started together, then waited for: four interpreters start in parallel.
            for process in (*workers, *apis):
                process.start()
            for port in api_ports:
                await asyncio.to_thread(_wait_for_port, port, 60)
            client = await connect(settings)
            systems = [
                System(
                    Stack("scale-out", settings, client, f"http://127.0.0.1:{port}"), temporal, w
                )
                for port, w in zip(api_ports, workers, strict=True)
            ]
            yield Cluster(temporal, workers, apis, systems)
        finally:
            for process in (*apis, *workers, temporal):
                process.stop()


@pytest.mark.timeout(120)
async def test_two_workers_and_two_apis_survive_a_worker_killed_mid_run(tmp_path: Path) -> None:
    async with running_cluster(tmp_path) as cluster:
        first = await prepare(cluster.systems[0])
        # The same retailer and catalogue seen through the second API; one list of errors.
        worlds = [first, dataclasses.replace(first, system=cluster.systems[1])]
        kinds = [kind for kind in DRIVERS for _ in range(CASES_PER_KIND_PER_API)]
        drivers: list[asyncio.Task[Outcome]] = [
            asyncio.create_task(DRIVERS[kind](world, n))
            for n, (world, kind) in enumerate((world, kind) for world in worlds for kind in kinds)
        ]
        # Midway: cases are created and under way once the first label is rendered.
        await until_a_document(Path(first.system.stack.settings.document_dir), DRIVE_BUDGET)
        doomed, survivor = cluster.workers
        doomed.kill()
        killed_at = time.monotonic()
        try:
            outcomes = await asyncio.wait_for(asyncio.gather(*drivers), DRIVE_BUDGET)
        except TimeoutError:
            raise AssertionError(f"cases never settled: {first.waiting}") from None
        finally:
            for task in drivers:
                task.cancel()

        after = sorted(round(o.settled_at - killed_at, 1) for o in outcomes)
        print(f"{len(outcomes)} cases settled, seconds after the kill: {after}")
        assert first.server_errors == []
        assert len(outcomes) == 2 * len(kinds)
        # Cases were still moving when the worker died, and the survivor finished them alone.
        assert any(o.settled_at > killed_at for o in outcomes)
        assert doomed.kills == 1 and doomed.process is not None
        assert survivor.process is not None and survivor.process.poll() is None
        assert all(api.process is not None and api.process.poll() is None for api in cluster.apis)
        # A client retrying on the other API process gets the same case back.
        await same_case_through_both_apis(worlds)
        await effects_once(first.system.stack.settings.database_url, outcomes)


async def same_case_through_both_apis(worlds: list[World]) -> None:
    body = rma_body(worlds[0].sku)
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    answers = []
    for world in worlds:
        async with world.system.stack.http(world.retailer.key) as http:
            answer = await send(world, http, "POST", "/v1/rmas", json=body, headers=headers)
            assert answer.status_code == 201, answer.text
            answers.append(answer.json()["id"])
    assert answers[0] == answers[1]


async def until_a_document(documents: Path, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(lambda: any(documents.rglob("*.pdf"))):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no document rendered within {within:.0f}s")
