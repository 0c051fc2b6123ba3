"""What the benchmarks share: a dev server, the API and worker as real processes, timing."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvloop  # noqa: E402

from tests.support import free_port  # noqa: E402

BIN = Path(sys.executable).parent


def run_bench(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a bench on uvloop, the loop the worker and the API run on, so that the baselines
    and floors the bench's own process runs (a raw worker and its client) are measured on
    the same loop as ours."""
    uvloop.run(main())


def api_client(env: dict[str, str], connections: int = 100) -> httpx.AsyncClient:
    """A client of the `system()`'s API. Its idle connections expire well before uvicorn
    closes them (5 s): a connection reused at the moment the server closes it fails the
    request with a `ReadError`, which ended a bench run once."""
    return httpx.AsyncClient(
        base_url=env["AFTERSALES_PUBLIC_BASE_URL"],
        timeout=120,
        limits=httpx.Limits(max_connections=connections, keepalive_expiry=1.0),
    )


async def rate(
    make_one: Callable[[int], Awaitable[object]], seconds: float, concurrency: int
) -> tuple[float, int]:
    """Operations per second with `concurrency` callers for about `seconds`."""
    count = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()

    async def caller(worker: int) -> None:
        nonlocal count
        i = worker
        while time.perf_counter() < deadline:
            await make_one(i)
            count += 1
            i += concurrency

    await asyncio.gather(*(caller(w) for w in range(concurrency)))
    return count / (time.perf_counter() - started), count


@dataclass
class Rounds:
    """The rates of a bench's rounds (raw, ours, floor, measured in turn): a machine whose
    speed drifts during a run (a shared host) moves all three alike within a round, so the
    ratios are taken of the rounds' means rather than of one measurement each."""

    raw: list[float] = field(default_factory=list)
    ours: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    # Our case's CPU per process (`cpu_per`), each round's.
    cpu: list[dict[str, float]] = field(default_factory=list)

    def add(self, raw: float, ours: float, cpu: dict[str, float], floor: float) -> None:
        self.raw.append(raw)
        self.ours.append(ours)
        self.cpu.append(cpu)
        self.floor.append(floor)

    def report(self, name: str, case: str, target: float, floor_target: float) -> None:
        """Each round's ratios and the mean CPU per case (with more than one round), then
        `NAME ratio` and `NAME floor ratio` of the means. Three decimals: at two, 0.1985
        would print as the 0.20 it misses."""
        if len(self.raw) > 1:
            rounds = zip(self.raw, self.ours, self.floor, strict=True)
            for i, (raw, ours, floor) in enumerate(rounds, 1):
                print(f"round {i}: ratio {ours / raw:.3f}, floor ratio {ours / floor:.3f}")
            mean = {process: fmean(cpu[process] for cpu in self.cpu) for process in self.cpu[0]}
            print(cpu_line(f"{case}, mean of {len(self.cpu)} rounds", mean))
        raw, ours, floor = fmean(self.raw), fmean(self.ours), fmean(self.floor)
        print(f"{name} ratio: {ours / raw:.3f} (target >= {target})")
        print(f"{name} floor ratio: {ours / floor:.3f} (target >= {floor_target})")


async def alternate(
    envs: dict[str, dict[str, str]],
    count: int,
    measure: Callable[[dict[str, str], Rounds], Awaitable[None]],
) -> dict[str, Rounds]:
    """`count` rounds of `measure` on each of two (or more) systems in turn (each label's
    `system()`), so that a drift of the machine's speed falls on every tree alike."""
    trees = {label: Rounds() for label in envs}
    for i in range(count):
        for label, env in envs.items():
            print(f"-- round {i + 1}, {label} tree")
            await measure(env, trees[label])
    return trees


def report_trees(
    trees: dict[str, Rounds], compared: Path, name: str, case: str, target: float, floor: float
) -> None:
    """`Rounds.report` for each tree of an `alternate` run, under its label."""
    for label, rounds in trees.items():
        print(f"== {label} tree{f' ({compared})' if label == 'compared' else ''}")
        rounds.report(name, case, target, floor)


@contextmanager
def system(
    database_url: str | None = None,
    settings: dict[str, str] | None = None,
    root: Path = ROOT,
    history: int = 0,
) -> Iterator[dict[str, str]]:
    """Dev server, worker and API as separate processes, as `make run` has them; `settings`
    adds AFTERSALES_* variables of the run's own. The worker and API run from the checkout
    at `root` (another one, such as a `git worktree` of an earlier commit, to compare).
    With `history`, the read model holds that many earlier cases before they start
    (bench/history.py)."""
    with tempfile.TemporaryDirectory() as tmp:
        port, temporal_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
        env.update(
            {
                "AFTERSALES_ENV": "development",
                "AFTERSALES_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp}/bench.db",
                "AFTERSALES_DOCUMENT_DIR": f"{tmp}/documents",
                "AFTERSALES_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
                "AFTERSALES_API_PORT": str(port),
                "AFTERSALES_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "AFTERSALES_ADMIN_KEY": "bench-admin",
                "AFTERSALES_CARRIER_SECRET": "bench-carrier",
                # Encrypted payloads, as production has them: the codec's cost is measured.
                "AFTERSALES_PAYLOAD_KEY": f"bench:{secrets.token_urlsafe(32)}",
                "AFTERSALES_LOG_LEVEL": "WARNING",
                **(settings or {}),
            }
        )
        procs = [
            subprocess.Popen(
                [
                    str(BIN / "temporal"),
                    "server",
                    "start-dev",
                    "--headless",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(temporal_port),
                    "--log-level",
                    "error",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        ]
        try:
            _wait(f"127.0.0.1:{temporal_port}", None)
            subprocess.run(
                [sys.executable, str(root / "cli.py"), "migrate"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            if history:
                subprocess.run(
                    [
                        sys.executable,
                        str(ROOT / "bench" / "history.py"),
                        env["AFTERSALES_DATABASE_URL"],
                        str(history),
                    ],
                    env=env,
                    check=True,
                )
            # The children's logs go to a file: under load the worker warns about slow
            # workflow tasks, which would bury the figures.
            log = open(Path(tmp) / "processes.log", "ab")  # noqa: SIM115
            for command in ("worker", "api"):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, str(root / "cli.py"), command],
                        env=env,
                        stdout=log,
                        stderr=log,
                    )
                )
            _wait(None, f"http://127.0.0.1:{port}/healthz")
            env["BENCH_PIDS"] = ",".join(
                f"{name}={proc.pid}"
                for name, proc in zip(("temporal", "worker", "api"), procs, strict=True)
            )
            yield env
        finally:
            for proc in reversed(procs):
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


def _wait(address: str | None, url: str | None) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if address:
                host, port = address.split(":")
                socket.create_connection((host, int(port)), timeout=0.5).close()
                return
            if url and httpx.get(url, timeout=2).status_code == 200:
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{address or url} did not come up")


def cpu_seconds(env: dict[str, str]) -> dict[str, float]:
    """CPU time (user + system) each process of `system()` has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pair in env["BENCH_PIDS"].split(","):
        name, pid = pair.split("=")
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


# How long after a run the server still owes work for the cases it started. Each workflow
# task and activity arms a timeout timer on the server (a workflow task's 10 s by default,
# our bookings' and the floor's activities' 10 s), and each timer fires whether or not its
# task finished: the server then loads the case again to check. Measured back to back, one
# run's timers would fire inside the next one's window.
DEFERRED_SECONDS = 11.0


async def after_deferred_work() -> None:
    """Wait out the timers a run just armed, so that their work lands on that run (when the
    caller then takes `settled_cpu_seconds`) and not on the next measurement."""
    await asyncio.sleep(DEFERRED_SECONDS)


async def settled_cpu_seconds(env: dict[str, str], quiet: float = 0.02) -> dict[str, float]:
    """`cpu_seconds` once the processes have finished what the measured run left them: the
    timers it armed (`after_deferred_work`), then labels still rendering and deliveries
    still going out, until a half second passes in which all of them together use less
    than `quiet` seconds of CPU, at most 30 s. The wait adds the idle processes' own CPU,
    about 0.1 s per 10 s, spread over the run's cases."""
    await after_deferred_work()
    used = cpu_seconds(env)
    for _ in range(60):
        await asyncio.sleep(0.5)
        now = cpu_seconds(env)
        if sum(now.values()) - sum(used.values()) < quiet:
            return now
        used = now
    return used


# How long `CpuMeter` watches the processes idle before a run.
IDLE_SECONDS = 5.0


class CpuMeter:
    """The CPU each process of `system()` spends on one measured run: from `start()` until
    the run's work has settled (`settled_cpu_seconds`), less what the process was using
    idle just before, at that rate for as long.

    The idle share is not the run's: the dev server keeps busy after the bench's other
    runs, a thousand raw workflows leaving it at 0.6-0.8 s of CPU per 10 s for as long as
    we watched (40 s, not decaying), and more after each round (0.5, 1.0 and 1.5 s per
    10 s before three rounds). Counted as the RMAs' own, it read as their server cost
    growing from 65 to 103 ms a round; rounds of RMAs alone cost a flat 55-62 ms."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.idle: dict[str, float] = {}
        self.before: dict[str, float] = {}
        self.started = 0.0

    async def start(self) -> None:
        watched, since = cpu_seconds(self.env), time.monotonic()
        await asyncio.sleep(IDLE_SECONDS)
        self.before, self.started = cpu_seconds(self.env), time.monotonic()
        idle_for = self.started - since
        self.idle = {name: (self.before[name] - watched[name]) / idle_for for name in watched}

    async def per_case(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per case by process, `count` cases in the run."""
        after = await settled_cpu_seconds(self.env)
        elapsed = time.monotonic() - self.started
        expected = {name: self.before[name] + self.idle[name] * elapsed for name in after}
        return cpu_per(expected, after, count)


def cpu_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """Milliseconds of CPU per case by process, between two `cpu_seconds`."""
    return {name: 1000 * (after[name] - before[name]) / count for name in after}


def cpu_line(what: str, per: dict[str, float]) -> str:
    """`CPU per <what>: temporal … ms, worker … ms, api … ms, all … ms`."""
    return (
        f"CPU per {what}: "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in per.items())
        + f", all {sum(per.values()):.0f} ms"
    )


@contextmanager
def profiling(env: dict[str, str], directory: str | None) -> Iterator[None]:
    """py-spy on the worker and the API while the block runs, as collapsed stacks (text) in
    `directory`/worker.txt and api.txt; nothing without a directory."""
    if directory is None:
        yield
        return
    pids = dict(p.split("=") for p in env["BENCH_PIDS"].split(","))
    # `--gil`: only the thread holding the GIL, i.e. Python's CPU; idle threads and the
    # SDK core's own threads are left out.
    spy = [str(BIN / "py-spy"), "record", "--rate", "100", "--nonblocking", "--gil"]
    spy += ["--format", "raw"]
    spies = [
        subprocess.Popen(
            [*spy, "--pid", pids[name], "--output", f"{directory}/{name}.txt"],
            stdout=subprocess.DEVNULL,
        )
        for name in ("worker", "api")
    ]
    try:
        yield
    finally:
        for spy_process in spies:
            spy_process.send_signal(signal.SIGINT)  # py-spy writes its samples on Ctrl-C
            spy_process.wait(timeout=60)
