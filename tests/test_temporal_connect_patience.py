"""A process started beside Temporal waits for it: nothing listening yet, or a frontend that
answers before it is healthy, is waited out (bounded); anything else fails at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from settings import Settings
from temporal_client import connect
from tests.support import (
    ADMIN_KEY,
    CARRIER_SECRET,
    PAYLOAD_KEY,
    SECRETS_KEY,
    TEMPORAL_BIN,
    free_port,
)


def settings_for(port: int) -> Settings:
    return Settings(
        env="test",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        temporal_address=f"127.0.0.1:{port}",
    )


@pytest.mark.timeout(120)
async def test_a_worker_started_before_temporal_connects_once_temporal_is_up(
    tmp_path: Path,
) -> None:
    port = free_port()
    connecting = asyncio.create_task(connect(settings_for(port)))
    await asyncio.sleep(1.5)
    assert not connecting.done(), "connect gave up while Temporal was still starting"
    server = await asyncio.create_subprocess_exec(
        TEMPORAL_BIN,
        *("server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)),
        *("--db-filename", str(tmp_path / "t.db"), "--log-level", "error"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        client = await asyncio.wait_for(connecting, 90)
        assert await client.service_client.check_health()
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)


async def test_a_temporal_that_never_comes_gives_up_after_the_patience() -> None:
    with pytest.raises(RuntimeError, match="Failed client connect"):
        await connect(settings_for(free_port()), patience=1.0)
