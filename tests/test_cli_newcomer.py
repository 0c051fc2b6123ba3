"""The CLI a newcomer meets first: `--version`, `api --host --port`, and the development
tools refusing clearly when there is no stack to talk to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import httpx

from cli import ROOT
from tests.support import free_port

CLI = [sys.executable, str(ROOT / "cli.py")]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    return env | extra


def test_version_is_the_package_version() -> None:
    shown = subprocess.run(
        [*CLI, "--version"], capture_output=True, text=True, check=True, env=_clean_env()
    )
    assert shown.stdout.strip() == f"aftersales {version('aftersales')}"


def test_api_listens_where_its_flags_say(tmp_path: Path) -> None:
    port = free_port()
    env = _clean_env(
        AFTERSALES_ENV="development",
        AFTERSALES_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/api.db",
        AFTERSALES_API_PORT="1",  # the flag wins over the setting
    )
    proc = subprocess.Popen(
        [*CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the API never listened on --port"
                time.sleep(0.3)
        assert answer.status_code == 200
        assert answer.json()["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)


def test_simulate_without_a_stack_says_where_it_looked(tmp_path: Path) -> None:
    ran = subprocess.run(
        [*CLI, "simulate", "scan", "AS123", "delivered", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=False,
    )
    assert ran.returncode != 0
    assert "AFTERSALES_CARRIER_SECRET" in ran.stderr and str(tmp_path) in ran.stderr
