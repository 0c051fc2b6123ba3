"""/healthz names the failing part with a 503; `aftersales keys create` makes a working key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx

from cli import ROOT
from tests.support import PAYLOAD_KEY, SECRETS_KEY, Stack, free_port, serve_api


async def _health(settings_update: dict[str, object], stack: Stack) -> httpx.Response:
    settings = stack.settings.model_copy(update={**settings_update, "api_port": free_port()})
    async with (
        serve_api(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        return await http.get("/healthz")


async def test_health_is_503_when_temporal_is_unreachable(stack: Stack) -> None:
    response = await _health({"temporal_address": f"127.0.0.1:{free_port()}"}, stack)
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("degraded", "ok")
    assert body["temporal"].startswith("error")


async def test_health_is_503_when_the_database_is_unreachable(stack: Stack) -> None:
    response = await _health(
        {"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, stack
    )
    assert response.status_code == 503
    assert response.json()["database"].startswith("error")
    assert response.json()["temporal"] == "ok"


async def test_a_request_while_the_database_is_unreachable_is_503_not_500(stack: Stack) -> None:
    settings = stack.settings.model_copy(
        update={
            "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "api_port": free_port(),
        }
    )
    async with (
        serve_api(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        response = await http.get("/v1/policy", headers={"Authorization": "Bearer ask_x"})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"]


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AFTERSALES_ENV": "test",
        "AFTERSALES_DATABASE_URL": database_url,
        "AFTERSALES_ADMIN_KEY": "x",
        "AFTERSALES_CARRIER_SECRET": "y",
        "AFTERSALES_PAYLOAD_KEY": PAYLOAD_KEY,
        "AFTERSALES_SECRETS_KEY": SECRETS_KEY,
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_keys_create_from_the_command_line(stack: Stack) -> None:
    url = stack.settings.database_url
    done = await asyncio.to_thread(
        _cli, "keys", "create", "--org", "CLI Shop", "--kind", "retailer", database_url=url
    )
    assert done.returncode == 0, done.stderr
    key = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("key "))
    async with stack.http(key) as http:
        response = await http.get("/v1/policy")
    assert response.status_code == 200, response.text
    refused = await asyncio.to_thread(
        _cli, "keys", "create", "--org", "X", "--kind", "wizard", database_url=url
    )
    assert refused.returncode != 0
    assert "invalid choice" in refused.stderr
