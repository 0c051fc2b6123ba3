"""`make run` itself: it comes up healthy, a second run finds the data, and SIGINT stops
every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from cli import ROOT
from tests.support import free_port


def _processes_mentioning(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found


def _start(data_dir: Path, port: int, temporal_port: int, ui_port: int) -> subprocess.Popen[str]:
    args = (f"--data-dir {data_dir} --port {port} --temporal-port {temporal_port} "
            f"--ui-port {ui_port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return subprocess.Popen(["make", "--no-print-directory", "run", f"RUN_ARGS={args}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _wait_healthy(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("make run never became healthy")


def _interrupt(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
    out, _ = proc.communicate(timeout=60)
    return out


def test_make_run_starts_prints_and_stops_cleanly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port, temporal_port, ui_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port, temporal_port, ui_port)
    try:
        _wait_healthy(base, proc)
        admin_key = (data_dir / "admin-key").read_text().strip()
        org = httpx.post(f"{base}/v1/orgs", json={"name": "Shop", "kind": "retailer"},
                         headers={"Authorization": f"Bearer {admin_key}"})
        assert org.status_code == 201, org.text
    finally:
        out = _interrupt(proc)
    assert f"{base}/docs" in out
    assert f"http://127.0.0.1:{ui_port}" in out
    assert admin_key in out
    assert _processes_mentioning(str(data_dir)) == []
    assert (data_dir / "temporal.db").exists() and (data_dir / "aftersales.db").exists()

    # A second run finds everything where the first left it.
    proc = _start(data_dir, port, temporal_port, ui_port)
    try:
        _wait_healthy(base, proc)
        key = httpx.post(f"{base}/v1/orgs/{org.json()['id']}/api-keys",
                         headers={"Authorization": f"Bearer {admin_key}"})
        assert key.status_code == 201, key.text
    finally:
        _interrupt(proc)
    assert _processes_mentioning(str(data_dir)) == []
