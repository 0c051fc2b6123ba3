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
    args = (
        f"--data-dir {data_dir} --port {port} --temporal-port {temporal_port} --ui-port {ui_port}"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return subprocess.Popen(
        ["make", "--no-print-directory", "run", f"RUN_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


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
        admin = {"Authorization": f"Bearer {admin_key}"}
        org = httpx.post(
            f"{base}/v1/orgs", json={"name": "Shop", "kind": "retailer"}, headers=admin
        )
        assert org.status_code == 201, org.text
        key = httpx.post(f"{base}/v1/orgs/{org.json()['id']}/api-keys", headers=admin)
        retailer = {"Authorization": f"Bearer {key.json()['key']}"}
        httpx.post(
            f"{base}/v1/products",
            headers=retailer,
            json={
                "sku": "SPK-1",
                "name": "Speaker",
                "category": "audio",
                "unit_price": "10.00",
                "warranty_months": 12,
            },
        )
        rma = httpx.post(
            f"{base}/v1/rmas",
            headers=retailer,
            timeout=30,
            json={
                "order_ref": "SO-1",
                "purchased_at": "2026-01-01T00:00:00Z",
                "resolution": "repair",
                "items": [{"sku": "SPK-1", "serial": "SN-1", "reason": "defective"}],
                "customer": {
                    "name": "Ada L",
                    "email": "a@example.com",
                    "address": {
                        "line1": "1 Way",
                        "city": "Town",
                        "postal_code": "1",
                        "country": "US",
                    },
                },
            },
        )
        assert rma.status_code == 201, rma.text
        assert rma.json()["status"] == "awaiting_return"
    finally:
        out = _interrupt(proc)
    assert f"{base}/docs" in out
    assert f"http://127.0.0.1:{ui_port}" in out
    assert admin_key in out
    assert _processes_mentioning(str(data_dir)) == []
    assert (data_dir / "temporal.db").exists() and (data_dir / "aftersales.db").exists()

    # A second run finds everything where the first left it: keys, the read model, and the
    # open workflow in Temporal's SQLite file, which takes the next command.
    proc = _start(data_dir, port, temporal_port, ui_port)
    try:
        _wait_healthy(base, proc)
        received = httpx.post(
            f"{base}/v1/rmas/{rma.json()['id']}/receive", headers=retailer, timeout=30
        )
        assert received.status_code == 200, received.text
        assert received.json()["status"] == "received"
    finally:
        _interrupt(proc)
    assert _processes_mentioning(str(data_dir)) == []
