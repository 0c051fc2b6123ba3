"""The README's walk-through runs as written: its shell blocks, in order, in one bash, against
a live stack started the way `make run` starts it (`aftersales dev`, on free ports and a data
directory of its own; the blocks read the stack's place from AFTERSALES_URL and
AFTERSALES_DATA_DIR). Then the return is refunded and the repair's certificate verifies, read
back over HTTP; and `aftersales demo` run again makes nothing new."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli import ROOT
from tests.support import free_port

SECTION = "## Walk-through"


def walkthrough_blocks(readme: str) -> list[str]:
    """The ```sh blocks between the walk-through's heading and the next section."""
    start = readme.index(f"\n{SECTION}\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else None]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def _start(data_dir: Path, port: int) -> subprocess.Popen[str]:
    # What `make run RUN_ARGS=…` runs once the virtualenv exists, without make's install step.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
    env["AFTERSALES_WORKER_METRICS_PORT"] = "0"  # a fixed port other tests' workers may hold
    args = [sys.executable, str(ROOT / "cli.py"), "dev", "--data-dir", str(data_dir)]
    args += ["--port", str(port), "--temporal-port", str(free_port())]
    args += ["--ui-port", str(free_port())]
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_healthy(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the stack never became healthy")


def test_the_walkthrough_blocks_exist_and_use_no_jq() -> None:
    blocks = walkthrough_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 5
    script = "\n".join(blocks)
    assert "jq" not in re.findall(r"[\w-]+", script)
    assert "$AFTERSALES_URL" in script and "localhost" not in script
    # A body without its Content-Type is a 422 from FastAPI.
    commands = re.sub(r"\\\n", " ", script).splitlines()
    sending = [c for c in commands if "curl " in c and " -d " in c]
    assert sending
    for command in sending:
        assert "Content-Type: application/json" in command, command


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    try:
        _wait_healthy(base, proc)
        script = "\n".join(walkthrough_blocks((ROOT / "README.md").read_text()))
        script += '\necho "RMA=$RMA REPAIR=$REPAIR"\n'
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")}
        env |= {"AFTERSALES_URL": base, "AFTERSALES_DATA_DIR": str(data_dir)}
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert ran.returncode == 0, f"{ran.stdout}\n{ran.stderr}"
        out = ran.stdout
        assert "awaiting_return return_window" in out
        assert "completed refunded {'amount': '129.99', 'currency': 'USD'}" in out
        assert "True repair_certificate REP-" in out
        ids = dict(p.split("=", 1) for p in out.strip().splitlines()[-1].split())

        keys = json.loads((data_dir / "demo-keys").read_text())
        assert (data_dir / "demo-keys").stat().st_mode & 0o777 == 0o600
        shop = {"Authorization": f"Bearer {keys['retailer']['key']}"}
        rma = httpx.get(f"{base}/v1/rmas/{ids['RMA']}", headers=shop).json()
        assert (rma["status"], rma["outcome"]) == ("completed", "refunded")
        repair = httpx.get(f"{base}/v1/repairs/{ids['REPAIR']}", headers=shop).json()
        assert repair["status"] == "completed"
        assert repair["assigned_center"] == keys["repair_center"]["id"]

        # The demo again: the same keys, and not one case more.
        before = httpx.get(f"{base}/v1/rmas", headers=shop).json()["items"]
        again = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "demo", "--env"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        assert f"SHOP_KEY={keys['retailer']['key']}" in again
        assert f"CENTER_KEY={keys['repair_center']['key']}" in again
        after = httpx.get(f"{base}/v1/rmas", headers=shop).json()["items"]
        assert [r["id"] for r in after] == [r["id"] for r in before]
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
