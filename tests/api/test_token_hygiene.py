"""The customer's tracking token stays out of caches, referrers and logs: the JSON tracking
answers and documents fetched by token say `no-store` and `no-referrer`, and the API served
by `aftersales api` writes no token in its access log."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from cli import ROOT
from tests.api.test_rma_e2e import new_retailer, rma_body, wait_until, with_label
from tests.support import Stack, free_port


async def rma_with_label(stack: Stack) -> dict[str, Any]:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as shop:
        created = await shop.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        return await wait_until(shop, created.json()["id"], with_label)


def assert_kept_private(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_tracking_answers_and_documents_by_token_are_not_cached(stack: Stack) -> None:
    rma = await rma_with_label(stack)
    token = rma["tracking_token"]
    async with stack.http() as customer:
        tracking = await customer.get(f"/v1/track/{token}")
        assert_kept_private(tracking)
        label = next(d for d in tracking.json()["documents"] if d["kind"] == "return_label")
        assert f"token={token}" in label["url"]
        pdf = await customer.get(label["url"])
        assert_kept_private(pdf)
        assert pdf.headers["Content-Type"] == "application/pdf"


async def test_refusals_at_a_token_url_are_not_cached_either(stack: Stack) -> None:
    """A 404 or 409 at a token's URL still names the token: it is kept as the answers are."""
    rma = await rma_with_label(stack)
    token = rma["tracking_token"]
    label = next(d for d in rma["documents"] if d["kind"] == "return_label")
    async with stack.http() as customer:
        for refused in (
            await customer.get("/v1/track/no-such-token"),
            await customer.get("/track/no-such-token"),
            await customer.post(f"/v1/track/{token}/quote", json={"approve": True}),
            await customer.get(f"/v1/documents/{label['id']}?token=not-{token}"),
        ):
            assert_kept_private(refused, refused.status_code)
            assert refused.status_code in (404, 409), refused.text


def _api_environment(stack: Stack, port: int) -> dict[str, str]:
    """The stack's own settings (database, Temporal, secrets) for a served API process."""
    env = dict(os.environ)
    for name, value in stack.settings.model_dump().items():
        if isinstance(value, str | int | float | Path) and not isinstance(value, bool):
            env[f"AFTERSALES_{name.upper()}"] = str(value)
    env.update(AFTERSALES_API_PORT=str(port), AFTERSALES_LOG_LEVEL="INFO")
    return env


async def _up(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        while True:
            assert process.returncode is None, "the API exited"
            try:
                await http.get("/healthz")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


async def test_the_served_api_logs_no_token(stack: Stack, tmp_path: Path) -> None:
    rma = await rma_with_label(stack)
    token = rma["tracking_token"]
    label = next(d for d in rma["documents"] if d["kind"] == "return_label")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "cli.py"),
            "api",
            env=_api_environment(stack, port),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await _up(base_url, process)
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as customer:
                answers = [
                    await customer.get(f"/v1/track/{token}"),
                    await customer.get(f"/track/{token}"),
                    await customer.get(f"/v1/documents/{label['id']}", params={"token": token}),
                    await customer.post(f"/v1/track/{token}/quote", json={"approve": True}),
                ]
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 30)
    assert [a.status_code for a in answers] == [200, 200, 200, 409]
    written = log.read_text()
    # The requests were logged, each without its token.
    assert written.count("/track/[redacted]") == 3, written
    assert f"/v1/documents/{label['id']}?token=[redacted]" in written, written
    assert token not in written
