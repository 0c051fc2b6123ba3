"""Integrations over HTTP: a retailer sets its carrier and payment provider, reads them back
without a secret, sees no other organisation's, and bad input is a 422 with its code. In
the database the keys are ciphertext that the configured key opens."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from db import models
from db.secret_box import SecretBox
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.support import Stack

# Shaped like the real ones, unique per run, so a leak is found by searching for them.
EASYPOST_KEY = f"EZTK{uuid.uuid4().hex}"
EASYPOST_HOOK = f"ephook_{uuid.uuid4().hex}"
STRIPE_KEY = f"sk_test_{uuid.uuid4().hex}"
STRIPE_HOOK = f"whsec_{uuid.uuid4().hex}"
SECRETS = (EASYPOST_KEY, EASYPOST_HOOK, STRIPE_KEY, STRIPE_HOOK)

CARRIER = {
    "provider": "easypost",
    "api_key": EASYPOST_KEY,
    "webhook_secret": EASYPOST_HOOK,
    "services": ["Ground", "Priority"],
}
PAYMENTS = {"provider": "stripe", "secret_key": STRIPE_KEY, "webhook_secret": STRIPE_HOOK}


def _no_secret(response: httpx.Response) -> None:
    assert all(secret not in response.text for secret in SECRETS), response.text


async def test_a_retailer_sets_its_providers_and_never_reads_a_secret_back(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    async with stack.http(shop.key) as http:
        before = await http.get("/v1/integrations")
        assert before.status_code == 200, before.text
        # Nothing configured: the built-in carrier and gateway.
        assert before.json() == {
            kind: {
                "kind": kind,
                "provider": "builtin",
                "key_last4": None,
                "webhook_secret_set": False,
                "services": None,
                "updated_at": None,
            }
            for kind in ("carrier", "payments")
        }

        carrier = await http.put("/v1/integrations/carrier", json=CARRIER)
        assert carrier.status_code == 200, carrier.text
        _no_secret(carrier)
        assert carrier.json()["provider"] == "easypost"
        assert carrier.json()["key_last4"] == EASYPOST_KEY[-4:]
        assert carrier.json()["webhook_secret_set"] is True
        assert carrier.json()["services"] == ["Ground", "Priority"]

        payments = await http.put("/v1/integrations/payments", json=PAYMENTS)
        assert payments.status_code == 200, payments.text
        _no_secret(payments)
        assert payments.json()["key_last4"] == STRIPE_KEY[-4:]

        listed = await http.get("/v1/integrations")
        _no_secret(listed)
        assert listed.json()["carrier"] == carrier.json()
        assert listed.json()["payments"] == payments.json()

        # The same PUT again changes nothing, not even the moment of the last change.
        again = await http.put("/v1/integrations/carrier", json=CARRIER)
        assert again.status_code == 200, again.text
        assert again.json() == carrier.json()

        # Back to the built-in gateway: the keys are dropped, not kept aside.
        builtin = await http.put("/v1/integrations/payments", json={"provider": "builtin"})
        assert builtin.status_code == 200, builtin.text
        assert builtin.json()["provider"] == "builtin"
        assert builtin.json()["key_last4"] is None
        assert builtin.json()["webhook_secret_set"] is False
    rows = await _stored(stack, shop.id)
    assert rows["payments"].api_key_encrypted is None
    assert rows["payments"].webhook_secret_encrypted is None


async def test_keys_are_stored_encrypted(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    async with stack.http(shop.key) as http:
        assert (await http.put("/v1/integrations/carrier", json=CARRIER)).status_code == 200
        assert (await http.put("/v1/integrations/payments", json=PAYMENTS)).status_code == 200
    rows = await _stored(stack, shop.id)
    columns = [
        rows["carrier"].api_key_encrypted,
        rows["carrier"].webhook_secret_encrypted,
        rows["payments"].api_key_encrypted,
        rows["payments"].webhook_secret_encrypted,
    ]
    assert all(column and secret not in column for column in columns for secret in SECRETS)
    box = SecretBox.from_setting(stack.settings.required_secrets_key)
    assert [box.decrypt(c or "") for c in columns] == [
        EASYPOST_KEY,
        EASYPOST_HOOK,
        STRIPE_KEY,
        STRIPE_HOOK,
    ]


async def test_another_organisations_integrations_are_invisible(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    other = await make_org(stack, "retailer")
    async with stack.http(shop.key) as http:
        assert (await http.put("/v1/integrations/carrier", json=CARRIER)).status_code == 200
    async with stack.http(other.key) as http:
        theirs = await http.get("/v1/integrations")
        assert theirs.status_code == 200, theirs.text
        assert theirs.json()["carrier"]["provider"] == "builtin"
        assert theirs.json()["carrier"]["key_last4"] is None
    # Only retailers have integrations.
    center = await make_org(stack, "repair_center")
    async with stack.http(center.key) as http:
        assert_problem(await http.get("/v1/integrations"), 403, "forbidden")
        assert_problem(await http.put("/v1/integrations/carrier", json=CARRIER), 403, "forbidden")
    async with stack.http() as anonymous:
        assert_problem(await anonymous.get("/v1/integrations"), 401, "unauthorized")


async def test_bad_input_is_refused_with_its_code_and_without_echoing_a_key(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    bad: list[tuple[str, dict[str, Any]]] = [
        ("/v1/integrations/carrier", {**CARRIER, "provider": "fedex-direct"}),
        ("/v1/integrations/carrier", {**CARRIER, "provider": "stripe"}),
        ("/v1/integrations/payments", {**PAYMENTS, "provider": "easypost"}),
        ("/v1/integrations/carrier", {"provider": "easypost", "webhook_secret": EASYPOST_HOOK}),
        ("/v1/integrations/carrier", {"provider": "easypost", "api_key": EASYPOST_KEY}),
        ("/v1/integrations/payments", {"provider": "stripe", "webhook_secret": STRIPE_HOOK}),
        ("/v1/integrations/carrier", {**CARRIER, "api_key": EASYPOST_KEY + "\x00"}),
        ("/v1/integrations/carrier", {**CARRIER, "api_key": EASYPOST_KEY + " x"}),
        ("/v1/integrations/carrier", {**CARRIER, "api_key": "E" * 201}),
        ("/v1/integrations/carrier", {**CARRIER, "api_key": "short"}),
        ("/v1/integrations/carrier", {**CARRIER, "services": []}),
        ("/v1/integrations/carrier", {**CARRIER, "services": ["Ground\nX"]}),
        ("/v1/integrations/carrier", {**CARRIER, "services": ["S" * 65]}),
        ("/v1/integrations/carrier", {**CARRIER, "extra": 1}),
        ("/v1/integrations/payments", {**PAYMENTS, "api_key": STRIPE_KEY}),
    ]
    async with stack.http(shop.key) as http:
        for path, body in bad:
            refused = await http.put(path, json=body)
            assert_problem(refused, 422, "validation_error")
            _no_secret(refused)
        assert_problem(
            await http.put(
                "/v1/integrations/carrier",
                content=b"{not json",
                headers={"Content-Type": "application/json"},
            ),
            422,
            "malformed_json",
        )
        assert_problem(await http.put("/v1/integrations/shipping", json=CARRIER), 404, "not_found")
        # Nothing was stored by any of them.
        assert (await http.get("/v1/integrations")).json()["carrier"]["provider"] == "builtin"


async def _stored(stack: Stack, org_id: str) -> dict[str, models.Integration]:
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.scalars(
                select(models.Integration).where(models.Integration.org_id == org_id)
            )
            return {row.kind: row for row in rows.all()}
    finally:
        await engine.dispose()
