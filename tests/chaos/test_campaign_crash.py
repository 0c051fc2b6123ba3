"""A campaign to 200 owners survives its worker killed with SIGKILL halfway: the real
`aftersales worker` process and Temporal dev server, the API in this process. Once
restarted, the campaign completes and each owner has exactly one email (the outbox row
written with the recipient's `sent` mark, one per customer and serial by its unique event
id), whatever page was in flight when the worker died."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import add_product, customer, make_org
from tests.chaos.test_crash_recovery import running_system
from tests.support import eventually

pytestmark = pytest.mark.e2e

OWNERS = 200


async def test_a_campaign_survives_a_worker_kill_with_each_email_once(tmp_path: Path) -> None:
    async with running_system(tmp_path) as system:
        stack = system.stack
        shop = await make_org(stack, "retailer")
        sku = (await add_product(stack, shop))["sku"]
        placed = (datetime.now(UTC) - timedelta(days=20)).isoformat()
        async with stack.http(shop.key) as http:
            for n in range(OWNERS):
                who = customer(f"Owner{n} Smith")
                who["email"] = f"owner{n}@example.com"
                order = {
                    "order_ref": f"SO-{n}-{uuid.uuid4().hex[:6]}",
                    "placed_at": placed,
                    "customer": who,
                    "lines": [{"sku": sku, "serial": f"SN-{n:04}"}],
                }
                answer = await http.post("/v1/orders", json=order)
                assert answer.status_code in (200, 201), answer.text
            created = await http.post(
                "/v1/campaigns",
                json={
                    "name": "Pump recall",
                    "sku": sku,
                    "subject": "A free repair for your unit",
                    "message": "A pump in some units may leak.",
                    "offer": "repair",
                },
            )
            assert created.status_code == 201, created.text
            campaign = created.json()
            assert campaign["recipients"] == OWNERS
            path = f"/v1/campaigns/{campaign['id']}"

            async def progress() -> dict[str, Any]:
                body: dict[str, Any] = (await http.get(path)).json()
                return body

            halfway = await eventually(
                progress, lambda b: b["sent"] >= OWNERS // 3, what="a third sent", every=0.05
            )
            system.worker.kill()
            assert halfway["sent"] < OWNERS, "the worker was killed after the campaign ended"
            await asyncio.sleep(1)
            system.worker.start()
            done = await eventually(
                progress,
                lambda b: b["status"] == "completed",
                what="the campaign completed after the restart",
                within=120,
                every=0.2,
            )
        assert (done["recipients"], done["sent"]) == (OWNERS, OWNERS)

        engine = make_engine(stack.settings.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                emails = list(
                    await session.scalars(
                        select(models.Email).where(models.Email.case_id == campaign["id"])
                    )
                )
                recipients = list(
                    await session.scalars(
                        select(models.CampaignRecipient).where(
                            models.CampaignRecipient.campaign_id == campaign["id"]
                        )
                    )
                )
        finally:
            await engine.dispose()
        by_address = Counter(e.to_address for e in emails)
        assert len(emails) == OWNERS
        assert set(by_address.values()) == {1}
        assert set(by_address) == {f"owner{n}@example.com" for n in range(OWNERS)}
        assert {r.status for r in recipients} == {"sent"}
        assert len({r.token_hash for r in recipients}) == OWNERS
        # Each email carries its own offer link, which is the one its recipient's token opens.
        assert all(e.tracking_url and e.tracking_url in e.body for e in emails)
        print(f"killed at {halfway['sent']} of {OWNERS} sent")
