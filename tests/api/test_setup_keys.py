"""`Idempotency-Key` on the rest of the setup commands: products (and their troubleshooting
steps), the policy, the integrations, organisations, their API keys and users, and webhook
subscriptions with their secret's rotation. Each, end to end on SQLite and PostgreSQL: the
same key again gets the first answer and has no second effect (a change made in between
stays), and the same key with another body is 409 `idempotency_conflict`.

An answer holding a secret is never kept in clear in `idempotency_records`: an API key is
shown to the first request only (a retry is 409 `conflict` naming the key), a webhook's
secret is read back from the subscription where it is kept encrypted, and a password or a
provider's key is hashed into the record only as a keyed fingerprint."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from api import idempotency
from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import Org, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_setup_idempotency import keyed, same_answer
from tests.support import ADMIN_KEY, Stack


async def records_of(stack: Stack, org_id: str) -> list[str]:
    """Every idempotency record filed under the organisation, as the text it stores."""
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            table = models.IdempotencyRecord
            rows = await session.scalars(select(table).where(table.org_id == org_id))
            return [
                f"{r.key} {r.request_hash} {r.resource_type} {r.resource_id} {r.response}"
                for r in rows.all()
            ]
    finally:
        await engine.dispose()


async def no_secret_kept(stack: Stack, org_id: str, *secrets: str) -> None:
    records = await records_of(stack, org_id)
    assert records, "the key's record is there"
    for secret in secrets:
        assert all(secret not in record for record in records), secret


def product(sku: str, name: str = "Speaker", price: str = "49.00") -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "category": "audio",
        "unit_price": {"amount": price, "currency": "USD"},
        "warranty_months": 12,
    }


async def test_a_product_added_changed_and_its_steps_set_once_per_key(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    async with stack.http(retailer.key) as http:
        first = await http.post("/v1/products", json=product(sku), headers=keyed("p-1"))
        again = await http.post("/v1/products", json=product(sku), headers=keyed("p-1"))
        added = same_answer(first, again, 201)
        conflict = await http.post("/v1/products", json=product(f"{sku}-2"), headers=keyed("p-1"))
        assert_problem(conflict, 409, "idempotency_conflict")
        assert (await http.get(f"/v1/products/{sku}-2")).status_code == 404
        # Without a key the SKU is still taken, as before.
        assert_problem(await http.post("/v1/products", json=product(sku)), 409, "duplicate_sku")
        assert (await http.get(f"/v1/products/{sku}")).json()["id"] == added["id"]

        path = f"/v1/products/{sku}"
        body = {k: v for k, v in product(sku, name="Speaker II").items() if k != "sku"}
        first = await http.put(path, json=body, headers=keyed("put-1"))
        changed = await http.put(path, json={**body, "name": "Speaker III"})
        assert changed.status_code == 200, changed.text
        again = await http.put(path, json=body, headers=keyed("put-1"))
        assert same_answer(first, again, 200)["name"] == "Speaker II"
        assert (await http.get(path)).json()["name"] == "Speaker III"
        conflict = await http.put(
            path, json={**body, "warranty_months": 24}, headers=keyed("put-1")
        )
        assert_problem(conflict, 409, "idempotency_conflict")

        steps = f"{path}/troubleshooting"
        one = {"steps": [{"title": "Restart it", "body": "Hold the button for ten seconds."}]}
        first = await http.put(steps, json=one, headers=keyed("steps-1"))
        cleared = await http.put(steps, json={"steps": []})
        assert cleared.status_code == 200, cleared.text
        again = await http.put(steps, json=one, headers=keyed("steps-1"))
        assert same_answer(first, again, 200) == one
        assert (await http.get(steps)).json() == {"steps": []}
        conflict = await http.put(steps, json={"steps": []}, headers=keyed("steps-1"))
        assert_problem(conflict, 409, "idempotency_conflict")


async def test_the_policy_set_once_per_key(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        first = await http.put(
            "/v1/policy", json={"restocking_fee_percent": 10}, headers=keyed("pol-1")
        )
        changed = await http.put("/v1/policy", json={"restocking_fee_percent": 20})
        assert changed.status_code == 200, changed.text
        again = await http.put(
            "/v1/policy", json={"restocking_fee_percent": 10}, headers=keyed("pol-1")
        )
        assert same_answer(first, again, 200)["restocking_fee_percent"] == 10
        assert (await http.get("/v1/policy")).json()["restocking_fee_percent"] == 20
        conflict = await http.put(
            "/v1/policy", json={"restocking_fee_percent": 11}, headers=keyed("pol-1")
        )
        assert_problem(conflict, 409, "idempotency_conflict")


async def test_an_integration_set_once_per_key_its_keys_never_in_the_record(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    api_key, hook = f"EZTK{uuid.uuid4().hex}", f"ephook_{uuid.uuid4().hex}"
    carrier = {"provider": "easypost", "api_key": api_key, "webhook_secret": hook}
    async with stack.http(retailer.key) as http:
        first = await http.put("/v1/integrations/carrier", json=carrier, headers=keyed("c-1"))
        builtin = await http.put("/v1/integrations/carrier", json={"provider": "builtin"})
        assert builtin.status_code == 200, builtin.text
        again = await http.put("/v1/integrations/carrier", json=carrier, headers=keyed("c-1"))
        assert same_answer(first, again, 200)["provider"] == "easypost"
        shown = (await http.get("/v1/integrations")).json()["carrier"]
        assert shown["provider"] == "builtin"
        # Only the key differs: still another request.
        other = {**carrier, "api_key": f"EZTK{uuid.uuid4().hex}"}
        conflict = await http.put("/v1/integrations/carrier", json=other, headers=keyed("c-1"))
        assert_problem(conflict, 409, "idempotency_conflict")

        stripe_key, stripe_hook = f"sk_test_{uuid.uuid4().hex}", f"whsec_{uuid.uuid4().hex}"
        payments = {"provider": "stripe", "secret_key": stripe_key, "webhook_secret": stripe_hook}
        first = await http.put("/v1/integrations/payments", json=payments, headers=keyed("s-1"))
        again = await http.put("/v1/integrations/payments", json=payments, headers=keyed("s-1"))
        same_answer(first, again, 200)
    await no_secret_kept(stack, retailer.id, api_key, hook, stripe_key, stripe_hook)


async def test_an_organisation_made_and_changed_once_per_key(stack: Stack) -> None:
    name = f"Keyed {uuid.uuid4().hex[:6]}"
    key = f"org-{uuid.uuid4().hex}"
    async with stack.http(ADMIN_KEY) as admin:
        body = {"name": name, "kind": "retailer"}
        first = await admin.post("/v1/orgs", json=body, headers=keyed(key))
        again = await admin.post("/v1/orgs", json=body, headers=keyed(key))
        made = same_answer(first, again, 201)
        conflict = await admin.post(
            "/v1/orgs", json={"name": f"{name} 2", "kind": "retailer"}, headers=keyed(key)
        )
        assert_problem(conflict, 409, "idempotency_conflict")
        # Without a key, another organisation of the same name, as before.
        plain = await admin.post("/v1/orgs", json=body)
        assert plain.status_code == 201 and plain.json()["id"] != made["id"]

        path = f"/v1/orgs/{made['id']}"
        first = await admin.patch(path, json={"name": f"{name} Ltd"}, headers=keyed("rename-1"))
        renamed = await admin.patch(path, json={"name": f"{name} plc"})
        assert renamed.status_code == 200, renamed.text
        again = await admin.patch(path, json={"name": f"{name} Ltd"}, headers=keyed("rename-1"))
        assert same_answer(first, again, 200)["name"] == f"{name} Ltd"
        conflict = await admin.patch(path, json={"name": f"{name} GmbH"}, headers=keyed("rename-1"))
        assert_problem(conflict, 409, "idempotency_conflict")
        # The same key for another organisation's change is another request.
        other = await admin.patch(
            f"/v1/orgs/{plain.json()['id']}", json={"name": f"{name} Ltd"}, headers=keyed(key)
        )
        assert other.status_code == 200, other.text

        retry = await admin.post("/v1/orgs", json=body, headers=keyed(key))
        assert retry.status_code == 201 and retry.json()["name"] == f"{name} plc"  # as it is now

    # The organisation's own key may rename it too; its key is not the admin's.
    own = await make_org(stack, "retailer")
    async with stack.http(own.key) as http:
        mine = await http.patch(f"/v1/orgs/{own.id}", json={"name": "Mine"}, headers=keyed(key))
        assert mine.status_code == 200, mine.text


async def test_an_api_key_made_once_per_key_and_never_kept_in_the_record(stack: Stack) -> None:
    org = await make_org(stack, "retailer")
    path = f"/v1/orgs/{org.id}/api-keys"
    async with stack.http(ADMIN_KEY) as admin:
        before = (await admin.get(path)).json()
        first = await admin.post(path, headers=keyed("key-1"))
        assert first.status_code == 201, first.text
        made = first.json()
        # The key is stored hashed: a retry cannot show it again, and makes no second one.
        again = await admin.post(path, headers=keyed("key-1"))
        assert_problem(again, 409, "conflict")
        assert again.json()["api_key_id"] == made["id"]
        assert made["key"] not in again.text
        after = (await admin.get(path)).json()
        assert [k["id"] for k in after] == [k["id"] for k in before] + [made["id"]]
        # The same key for another organisation's key is another request.
        other = await make_org(stack, "retailer")
        elsewhere = await admin.post(f"/v1/orgs/{other.id}/api-keys", headers=keyed("key-1"))
        assert elsewhere.status_code == 201, elsewhere.text
    async with stack.http(made["key"]) as http:
        assert (await http.get("/v1/policy")).status_code == 200
    await no_secret_kept(stack, org.id, made["key"], made["key"][12:])


def user(email: str, password: str = "correct horse battery") -> dict[str, Any]:
    return {"email": email, "name": "Ada", "role": "staff", "password": password}


async def test_a_user_made_once_per_key_the_password_never_in_the_record(stack: Stack) -> None:
    org = await make_org(stack, "retailer")
    path = f"/v1/orgs/{org.id}/users"
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    async with stack.http(org.key) as http:
        first = await http.post(path, json=user(email), headers=keyed("user-1"))
        again = await http.post(path, json=user(email), headers=keyed("user-1"))
        made = same_answer(first, again, 201)
        assert [u["id"] for u in (await http.get(path)).json()] == [made["id"]]
        conflict = await http.post(
            path, json=user(email, "another horse battery"), headers=keyed("user-1")
        )
        assert_problem(conflict, 409, "idempotency_conflict")
        # Without a key the email is still taken, as before; and under another key too.
        assert_problem(await http.post(path, json=user(email)), 409, "email_taken")
        taken = await http.post(path, json=user(email), headers=keyed("user-2"))
        assert_problem(taken, 409, "email_taken")
    # The admin's key with the same name is the admin's, not the organisation's.
    async with stack.http(ADMIN_KEY) as admin:
        other = f"bob-{uuid.uuid4().hex[:8]}@example.com"
        by_admin = await admin.post(path, json=user(other), headers=keyed("user-1"))
        assert by_admin.status_code == 201, by_admin.text

    records = await records_of(stack, org.id)
    await no_secret_kept(stack, org.id, "correct horse battery")
    # Nor a bare hash of the body with it, which a guess could be tested against.
    bare = idempotency.request_hash(
        {"command": "add_user", "body": {"org_id": org.id, **user(email)}}
    )
    assert all(bare not in record for record in records)


async def subscribe(http: Any, url: str, key: str) -> Any:
    return await http.post(
        "/v1/webhooks", json={"url": url, "events": ["rma.*"]}, headers=keyed(key)
    )


async def test_a_webhook_and_its_rotation_once_per_key_no_secret_in_the_record(
    stack: Stack,
) -> None:
    retailer: Org = await make_org(stack, "retailer")
    url = f"https://example.com/hooks/{uuid.uuid4().hex}"
    async with stack.http(retailer.key) as http:
        first = await subscribe(http, url, "hook-1")
        again = await subscribe(http, url, "hook-1")
        hook = same_answer(first, again, 201)
        assert len((await http.get("/v1/webhooks")).json()["items"]) == 1
        conflict = await subscribe(http, f"{url}/2", "hook-1")
        assert_problem(conflict, 409, "idempotency_conflict")

        rotate = f"/v1/webhooks/{hook['id']}/rotate-secret"
        first = await http.post(rotate, headers=keyed("rot-1"))
        again = await http.post(rotate, headers=keyed("rot-1"))
        rotated = same_answer(first, again, 200)
        assert rotated["secret"] != hook["secret"]
        # Rotated once: the retry answered the first rotation's secret and expiry. Another
        # rotation since, and the first one's secret is not the current one: not shown.
        later = await http.post(rotate, headers=keyed("rot-2"))
        assert later.status_code == 200, later.text
        stale = await http.post(rotate, headers=keyed("rot-1"))
        assert_problem(stale, 409, "conflict")
        assert rotated["secret"] not in stale.text
        # The same key on another subscription is another request.
        other = await subscribe(http, f"{url}/3", "hook-3")
        assert other.status_code == 201, other.text
        elsewhere = await http.post(
            f"/v1/webhooks/{other.json()['id']}/rotate-secret", headers=keyed("rot-1")
        )
        assert_problem(elsewhere, 409, "idempotency_conflict")
    await no_secret_kept(
        stack, retailer.id, hook["secret"], rotated["secret"], later.json()["secret"]
    )
