"""The retailer console's home "claims" tile over real HTTP on the shared stack (SQLite and
PostgreSQL): it counts the open cases a service-plan claim started, repairs and
replacements alike, and nothing else (a refused claim, a replacement sold on its own); its
queue lists each kind on that kind's list."""

from __future__ import annotations

import re
import uuid

from tests.api.helpers import wait_for
from tests.api.test_plans import plan
from tests.api.test_replacement_e2e import replacement_body
from tests.api.test_service_plan_e2e import enrolment
from tests.console.conftest import ConsoleUsers
from tests.console.support import console_client
from tests.support import Stack

_CLAIMS_TILE = re.compile(r'href="/console/repairs\?queue=claims"><strong class="count">(\d+)<')


async def test_the_claims_tile_counts_repair_and_replacement_claims(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    sku, code = console_users.sku, f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(console_users.retailer.key) as shop:
        put = await shop.put(f"/v1/inventory/{sku}", json={"quantity": 5})
        assert put.status_code == 200, put.text
        created = await shop.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert created.status_code == 201, created.text
        enrolled = await shop.post(
            "/v1/service-plans", json=enrolment(code, sku, f"SN-{uuid.uuid4().hex[:8]}")
        )
        assert enrolled.status_code == 201, enrolled.text
        path = f"/v1/service-plans/{enrolled.json()['id']}/claims"
        repair = await shop.post(path, json={"type": "repair", "incident": "breakdown"})
        replacement = await shop.post(
            path, json={"type": "replacement", "incident": "accidental_damage"}
        )
        refused = await shop.post(path, json={"type": "repair", "incident": "theft"})
        assert refused.json()["decision"] == "refused"
        repair_id, replacement_id = repair.json()["repair_id"], replacement.json()["replacement_id"]
        assert repair_id and replacement_id, (repair.text, replacement.text)
        # Each claim's case is recorded by its own workflow a moment later.
        await wait_for(shop, f"/v1/repairs/{repair_id}", lambda b: b.get("id") == repair_id)
        await wait_for(
            shop, f"/v1/replacements/{replacement_id}", lambda b: b.get("id") == replacement_id
        )
        # A replacement sold on its own is no claim.
        alone = await shop.post("/v1/replacements", json=replacement_body(sku))
        assert alone.status_code == 201, alone.text

    async with console_client(stack, console_users.staff) as console:
        home = await console.get("/console/")
        assert home.status_code == 200
        tile = _CLAIMS_TILE.search(home.text)
        assert tile, home.text
        assert tile.group(1) == "2"
        assert "Service-plan claims in progress" in home.text

        repairs = await console.get("/console/repairs", params={"queue": "claims"})
        assert repairs.status_code == 200, repairs.text
        assert f'href="/console/repairs/{repair_id}"' in repairs.text
        replacements = await console.get("/console/replacements", params={"queue": "claims"})
        assert replacements.status_code == 200, replacements.text
        assert f'href="/console/replacements/{replacement_id}"' in replacements.text
        assert alone.json()["id"] not in replacements.text
        wrong = await console.get("/console/rmas", params={"queue": "claims"})
        assert wrong.status_code == 422
