"""Case commands with an `Idempotency-Key`, end to end on SQLite and PostgreSQL: a command
retried (five identical requests at once, as a client retrying after a timeout would send
them) has one effect and every retry gets the first answer; the same key with another body
is a 409; without a key nothing changes."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.helpers import add_product, customer, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_plans import plan
from tests.api.test_relocation_e2e import FROM_SITE, TO_SITE, soon
from tests.api.test_rma_e2e import new_retailer, rma_body, wait_until, with_label
from tests.support import Stack

RETRIES = 5


async def retried(
    http: httpx.AsyncClient, path: str, key: str, body: dict[str, Any] | None = None
) -> list[httpx.Response]:
    """The same command sent RETRIES times at once with one key."""
    headers = {"Idempotency-Key": key}
    return list(
        await asyncio.gather(*(http.post(path, json=body, headers=headers) for _ in range(RETRIES)))
    )


def one_answer(responses: list[httpx.Response], status: int) -> dict[str, Any]:
    assert [r.status_code for r in responses] == [status] * RETRIES, [r.text for r in responses]
    answers = [r.json() for r in responses]
    assert all(a == answers[0] for a in answers), answers
    first: dict[str, Any] = answers[0]
    return first


def events(body: dict[str, Any]) -> Counter[str]:
    return Counter(e["event"] for e in body["timeline"])


async def test_a_retried_claim_charges_one_deductible_and_starts_one_repair(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    product = await add_product(
        stack, retailer, category=f"none-{uuid.uuid4().hex[:6]}", warranty_months=3
    )
    code = f"CARE-{uuid.uuid4().hex[:6]}"
    async with stack.http(retailer.key) as shop:
        created = await shop.post(
            "/v1/plans", json=plan(code, waiting_period="PT0S", claim_limit=10)
        )
        assert created.status_code == 201, created.text
        enrolled = await shop.post(
            "/v1/service-plans",
            json={
                "plan_code": code,
                "unit": {
                    "sku": product["sku"],
                    "serial": f"SN-{uuid.uuid4().hex[:8]}",
                    "purchased_at": (datetime.now(UTC) - timedelta(days=200)).isoformat(),
                },
                "customer": customer(),
                "payment_method": "pm_ok",
            },
        )
        assert enrolled.status_code == 201, enrolled.text
        path = f"/v1/service-plans/{enrolled.json()['id']}"
        claim = {"type": "repair", "incident": "breakdown", "description": "no sound"}

        answer = one_answer(await retried(shop, f"{path}/claims", "claim-1", claim), 201)
        assert answer["decision"] == "approved" and answer["repair_id"]

        detail = (await shop.get(path)).json()
        assert detail["claims_used"] == 1
        assert [c["decision"] for c in detail["claims"]] == ["approved"]
        deductibles = [p for p in detail["payments"] if p["kind"] == "deductible"]
        assert [(p["amount"]["amount"], p["status"]) for p in deductibles] == [
            ("49.00", "succeeded")
        ]
        repairs = (await shop.get("/v1/repairs", params={"limit": 200})).json()["items"]
        assert [r["id"] for r in repairs] == [answer["repair_id"]]

        # Later, once answered, the key still gives the first answer and no second claim.
        again = await shop.post(
            f"{path}/claims", json=claim, headers={"Idempotency-Key": "claim-1"}
        )
        assert again.status_code == 201 and again.json() == answer
        # The same key with another body is a client error, not a second claim.
        other = {**claim, "type": "replacement"}
        conflict = await shop.post(
            f"{path}/claims", json=other, headers={"Idempotency-Key": "claim-1"}
        )
        assert_problem(conflict, 409, "idempotency_conflict")
        # Without a key, a second claim is a second claim, as before.
        second = await shop.post(f"{path}/claims", json=claim)
        assert second.status_code == 201, second.text
        assert second.json()["repair_id"] not in (None, answer["repair_id"])
        assert (await shop.get(path)).json()["claims_used"] == 2


async def test_a_retried_cancel_cancels_once(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        rma = (await http.post("/v1/rmas", json=rma_body(sku))).json()
        await wait_until(http, rma["id"], with_label)
        body = {"reason": "changed_mind"}
        path = f"/v1/rmas/{rma['id']}/cancel"

        answer = one_answer(await retried(http, path, "cancel-1", body), 200)
        assert answer["status"] == "cancelled"
        assert events(answer)["cancelled"] == 1
        stored = (await http.get(f"/v1/rmas/{rma['id']}")).json()
        assert events(stored)["cancelled"] == 1
        # The workflow has ended: a retry still answers the first answer, not a 409.
        late = await http.post(path, json=body, headers={"Idempotency-Key": "cancel-1"})
        assert late.status_code == 200 and late.json() == answer
        # Another organisation's key with the same Idempotency-Key sees nothing of it.
        stranger, _ = await new_retailer(stack)
        async with stack.http(stranger.key) as other:
            missing = await other.post(path, json=body, headers={"Idempotency-Key": "cancel-1"})
            assert_problem(missing, 404, "not_found")
        # Without a key the command is refused as before: the case is over.
        assert_problem(await http.post(path, json=body), 409, "invalid_transition")


async def test_a_retried_inspection_resolves_once(stack: Stack) -> None:
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        rma = (await http.post("/v1/rmas", json=rma_body(sku))).json()
        await wait_until(http, rma["id"], with_label)
        received = await http.post(f"/v1/rmas/{rma['id']}/receive")
        assert received.status_code == 200, received.text
        inspection = {"grade": "B", "serial_matches": True, "notes": "scuffed"}
        path = f"/v1/rmas/{rma['id']}/inspection"

        answer = one_answer(await retried(http, path, "inspect-1", inspection), 200)
        assert answer["status"] in ("resolving", "completed")
        done = await wait_until(http, rma["id"], lambda b: b["status"] == "completed")
        counted = events(done)
        assert counted["inspected"] == 1, done["timeline"]
        assert done["refund"] == {"amount": "102.00", "currency": "USD"}
        assert sum(1 for e in done["timeline"] if e["event"] == "refunded") == 1

        changed = {**inspection, "grade": "A"}
        conflict = await http.post(path, json=changed, headers={"Idempotency-Key": "inspect-1"})
        assert_problem(conflict, 409, "idempotency_conflict")
        # A key reused for another command on the case is refused the same way.
        reused = await http.post(
            f"/v1/rmas/{rma['id']}/receive", headers={"Idempotency-Key": "inspect-1"}
        )
        assert_problem(reused, 409, "idempotency_conflict")


async def test_a_resent_tracking_page_form_reschedules_once(stack: Stack) -> None:
    """Browsers send no headers of their own: each rendered form carries its key, so a
    double-clicked or resent form is one request to the workflow."""
    retailer = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, category="kiosk")
    provider = await make_org(stack, "repair_center")
    async with stack.http(retailer.key) as shop:
        assert (await shop.put("/v1/policy", json={"max_reschedules": 2})).status_code == 200
        created = await shop.post(
            "/v1/relocations",
            json={
                "asset": {"sku": product["sku"], "serial": f"K-{uuid.uuid4().hex[:8]}"},
                "provider_org_id": provider.id,
                "from_site": FROM_SITE,
                "to_site": TO_SITE,
                "customer": customer(),
            },
        )
        assert created.status_code == 201, created.text
        token, path = created.json()["tracking_token"], f"/v1/relocations/{created.json()['id']}"
    appointment = {"stage": "uninstall", "starts_at": soon(4), "technician": "Sam"}
    async with stack.http(provider.key) as provider_http:
        booked = await provider_http.post(f"{path}/appointments", json=appointment)
        assert booked.status_code == 200, booked.text

    async with stack.http() as person:
        html = (await person.get(f"/track/{token}")).text
        match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
        assert match, "the reschedule form carries its key"
        form = {"stage": "uninstall", "idempotency_key": match.group(1)}
        sent = await asyncio.gather(
            *(person.post(f"/track/{token}/reschedule", data=form) for _ in range(RETRIES))
        )
        assert [r.status_code for r in sent] == [303] * RETRIES, [r.text for r in sent]
        # A fresh render is a new form with a new key.
        again = (await person.get(f"/track/{token}")).text
        assert match.group(1) not in again
    async with stack.http(retailer.key) as shop:
        relocation = (await shop.get(path)).json()
        assert relocation["reschedules_used"] == 1
        assert events(relocation)["reschedule_requested"] == 1, relocation["timeline"]
