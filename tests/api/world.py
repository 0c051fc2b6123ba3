"""One retailer's world over HTTP, for the tests of who sees what: a retailer ("A") with a
case of every type, worked where a partner works it by one repair center, and the
strangers (another retailer, another repair center) who must see none of it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.helpers import Org, add_product, customer, make_org, wait_for
from tests.api.test_plans import plan
from tests.api.test_relocation_e2e import FROM_SITE, TO_SITE
from tests.api.test_repair_e2e import new_center, repair_body
from tests.api.test_rma_e2e import rma_body, with_label
from tests.api.test_service_plan_e2e import enrolment
from tests.api.webhook_receiver import Receiver, webhook_receiver
from tests.support import ADMIN_KEY, Stack, eventually

# The customer every case of the world is for; what a worker must never be shown of them.
CUSTOMER = customer("Ada Lovelace")
CONTACT = (CUSTOMER["email"], CUSTOMER["phone"])


@dataclass
class World:
    retailer: Org
    # Works A's RMA, its direct repair (and that repair's replacement), relocation and
    # installation.
    center: Org
    other_retailer: Org
    other_center: Org
    sku: str
    plan_code: str
    key_id: str  # an API key of A's besides `retailer.key`
    # The owner's answers as created, by case type.
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What the center was answered when it commanded a case it works, by case type.
    worker_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_id: str = ""
    delivery_id: str = ""
    document_id: str = ""
    verification_code: str = ""
    asset_id: str = ""
    campaign_id: str = ""
    user_id: str = ""  # a console user of A's
    order_ref: str = ""
    # A low rating of an ended RMA of A's (not one of `cases`, which stay open).
    feedback_id: str = ""

    def secrets(self) -> list[str]:
        """Strings only A and its customer may be shown: its tracking tokens and the
        customer's contact details."""
        tokens = [c["tracking_token"] for c in self.cases.values()]
        return [*tokens, *CONTACT]


def created(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code in (200, 201), answer.text
    body: dict[str, Any] = answer.json()
    return body


async def build_world(stack: Stack, receiver: Receiver) -> World:
    category = f"world-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    center = await new_center(stack, category)
    product = await add_product(stack, retailer, price="120.00", category=category)
    sku = product["sku"]
    async with stack.http(ADMIN_KEY) as admin:
        key = created(await admin.post(f"/v1/orgs/{retailer.id}/api-keys"))
    world = World(
        retailer=retailer,
        center=center,
        other_retailer=await make_org(stack, "retailer"),
        other_center=await new_center(stack, category, regions=["FR"]),
        sku=sku,
        plan_code=f"CARE-{uuid.uuid4().hex[:6]}",
        key_id=key["id"],
    )
    async with stack.http(retailer.key) as shop, stack.http(center.key) as bench:
        hook = await shop.post(
            "/v1/webhooks", json={"url": receiver.url("/ok/world"), "events": ["rma.*"]}
        )
        world.webhook_id = created(hook)["id"]

        # An RMA resolved by repair: the center receives the unit.
        body = rma_body(sku, resolution="repair")
        body["customer"] = CUSTOMER
        rma = created(await shop.post("/v1/rmas", json=body))
        rma_path = f"/v1/rmas/{rma['id']}"
        await eventually(lambda: shop.get(rma_path), lambda a: with_label(a.json()), every=0.1)
        world.cases["rma"] = rma
        await eventually(lambda: bench.get(rma_path), lambda a: a.status_code == 200, every=0.1)
        world.worker_answers["rma"] = created(await bench.post(f"{rma_path}/receive"))

        # A direct repair found beyond repair: it starts a replacement the center can follow.
        body = repair_body(sku)
        body["customer"] = CUSTOMER
        repair = created(await shop.post("/v1/repairs", json=body))
        repair_path = f"/v1/repairs/{repair['id']}"
        world.cases["repair"] = repair
        for status in ("received", "diagnosing"):
            created(await bench.post(f"{repair_path}/status", json={"status": status}))
        unrepairable = {
            "fault_code": "E-BOARD",
            "findings": "Main board burnt",
            "parts": [],
            "labor_minutes": 10,
            "repairable": False,
        }
        world.worker_answers["repair"] = created(
            await bench.post(f"{repair_path}/diagnosis", json=unrepairable)
        )
        replacement_id = world.worker_answers["repair"]["replacement_id"]
        replacement = await eventually(
            lambda: shop.get(f"/v1/replacements/{replacement_id}"),
            lambda a: a.status_code == 200,
            every=0.1,
        )
        world.cases["replacement"] = replacement.json()

        relocation = created(
            await shop.post(
                "/v1/relocations",
                json={
                    "asset": {"sku": sku, "serial": f"LAB-{uuid.uuid4().hex[:8]}"},
                    "provider_org_id": center.id,
                    "from_site": FROM_SITE,
                    "to_site": TO_SITE,
                    "customer": CUSTOMER,
                },
            )
        )
        world.cases["relocation"] = relocation
        world.asset_id = relocation["asset_id"]
        starts_at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        world.worker_answers["relocation"] = created(
            await bench.post(
                f"/v1/relocations/{relocation['id']}/appointments",
                json={"stage": "uninstall", "starts_at": starts_at, "technician": "Sam"},
            )
        )

        installation = created(
            await shop.post(
                "/v1/installations",
                json={
                    "asset": {"sku": sku, "serial": f"INS-{uuid.uuid4().hex[:8]}"},
                    "provider_org_id": center.id,
                    "site": TO_SITE,
                    "customer": CUSTOMER,
                    "training": True,
                },
            )
        )
        world.cases["installation"] = installation
        world.worker_answers["installation"] = created(
            await bench.post(
                f"/v1/installations/{installation['id']}/appointments",
                json={"starts_at": starts_at, "technician": "Sam"},
            )
        )

        created(
            await shop.post(
                "/v1/plans", json=plan(world.plan_code, waiting_period="PT0S", claim_limit=1)
            )
        )
        body = enrolment(world.plan_code, sku, f"SN-{uuid.uuid4().hex[:8]}")
        body["customer"] = CUSTOMER
        service_plan = created(await shop.post("/v1/service-plans", json=body))
        assert service_plan["status"] == "active", service_plan
        world.cases["service_plan"] = service_plan
        certificate = next(
            d for d in service_plan["documents"] if d["kind"] == "coverage_certificate"
        )
        world.document_id = certificate["id"]
        world.verification_code = certificate["verification_code"]

        user = {
            "email": f"clerk-{uuid.uuid4().hex[:8]}@example.com",
            "name": "World Clerk",
            "role": "staff",
            "password": "world-password-1",
        }
        world.user_id = created(await shop.post(f"/v1/orgs/{retailer.id}/users", json=user))["id"]
        world.order_ref = f"SO-{uuid.uuid4().hex[:8]}"
        order = {
            "order_ref": world.order_ref,
            "placed_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
            "customer": CUSTOMER,
            "lines": [{"sku": sku, "serial": f"ORD-{uuid.uuid4().hex[:8]}", "quantity": 1}],
        }
        created(await shop.post("/v1/orders", json=order))
        world.feedback_id = await low_rating(shop, sku)

        campaign = {"name": "World recall", "sku": sku, "subject": "Recall", "message": "Hi"}
        world.campaign_id = created(await shop.post("/v1/campaigns", json=campaign))["id"]

        deliveries = await eventually(
            lambda: shop.get(f"/v1/webhooks/{world.webhook_id}/deliveries"),
            lambda a: bool(a.json()["items"]),
            every=0.1,
        )
        world.delivery_id = deliveries.json()["items"][0]["id"]
    return world


async def low_rating(shop: httpx.AsyncClient, sku: str) -> str:
    """An RMA cancelled and rated 1 by its customer: the feedback's id."""
    rma = created(await shop.post("/v1/rmas", json=rma_body(sku)))
    created(await shop.post(f"/v1/rmas/{rma['id']}/cancel"))
    await wait_for(shop, f"/v1/rmas/{rma['id']}", lambda b: b["status"] == "cancelled")
    rating = {"rating": 1, "comment": "Nobody answered the phone."}
    given = await shop.post(f"/v1/track/{rma['tracking_token']}/feedback", json=rating)
    feedback_id: str = created(given)["id"]
    return feedback_id


@pytest.fixture(scope="session")
async def world(stack: Stack) -> AsyncIterator[World]:
    """Built once per backend (tests/api/conftest.py shares it between modules): tests that
    use it only read it, or are refused."""
    async with webhook_receiver() as receiver:
        yield await build_world(stack, receiver)
