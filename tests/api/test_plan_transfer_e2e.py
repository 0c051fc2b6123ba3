"""A plan transfer hands the plan to a new owner with a new tracking token: the previous
owner's link answers 404 from then on (JSON, HTML page and documents), and the new owner's
email carries the new link."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from sqlalchemy import select

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import add_product, customer, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_service_plan_e2e import enrolment
from tests.support import Stack


async def transfer_emails(stack: Stack, plan_id: str, within: float = 20) -> list[models.Email]:
    engine = make_engine(stack.settings.database_url)
    deadline = time.monotonic() + within
    try:
        while True:
            async with make_sessionmaker(engine)() as session:
                found = list(
                    await session.scalars(
                        select(models.Email).where(
                            models.Email.case_id == plan_id,
                            models.Email.notice == "plan_transferred",
                        )
                    )
                )
            if found or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


async def test_a_transfer_issues_a_new_tracking_token(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(
        stack, retailer, category=f"none-{uuid.uuid4().hex[:6]}", warranty_months=3
    )
    code = f"MOVE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        made = await shop.post("/v1/plans", json=plan(code, waiting_period="PT0S"))
        assert made.status_code == 201, made.text
        enrolled = await shop.post(
            "/v1/service-plans",
            json=enrolment(code, product["sku"], f"SN-{uuid.uuid4().hex[:8]}"),
        )
        assert enrolled.status_code == 201, enrolled.text
        plan_id, old_token = enrolled.json()["id"], enrolled.json()["tracking_token"]

        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anyone:
            assert (await anyone.get(f"/v1/track/{old_token}")).status_code == 200
            assert (await anyone.get(f"/track/{old_token}")).status_code == 200

            new_owner = {**customer("Grace Hopper"), "email": "grace@example.com"}
            moved = await shop.post(
                f"/v1/service-plans/{plan_id}/transfer", json={"customer": new_owner}
            )
            assert moved.status_code == 200, moved.text
            new_token = moved.json()["tracking_token"]
            assert new_token and new_token != old_token
            got = await shop.get(f"/v1/service-plans/{plan_id}")
            assert got.json()["tracking_token"] == new_token

            # The previous owner's link opens nothing any more.
            assert_problem(await anyone.get(f"/v1/track/{old_token}"), 404, "not_found")
            assert (await anyone.get(f"/track/{old_token}")).status_code == 404
            (certificate, *_) = [
                d for d in moved.json()["documents"] if d["kind"] == "coverage_certificate"
            ]
            by_old = await anyone.get(
                f"/v1/documents/{certificate['id']}", params={"token": old_token}
            )
            assert by_old.status_code == 404
            by_new = await anyone.get(
                f"/v1/documents/{certificate['id']}", params={"token": new_token}
            )
            assert by_new.status_code == 200
            # The new owner's does.
            tracked = await anyone.get(f"/v1/track/{new_token}")
            assert tracked.status_code == 200 and tracked.json()["id"] == plan_id
            assert (await anyone.get(f"/track/{new_token}")).status_code == 200

    (email,) = await transfer_emails(stack, plan_id)
    assert email.to_address == "grace@example.com"
    assert email.tracking_url == f"{stack.base_url}/track/{new_token}"
    assert email.tracking_url in email.body.splitlines()
    assert old_token not in email.body
    assert email.body.startswith("Hello Grace,")
