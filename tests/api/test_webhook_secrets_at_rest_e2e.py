"""Webhook signing secrets are stored encrypted: the database holds a token the secrets key
opens, never the secret the API handed out; a retried subscription answers the first
secret, and a rotation keeps the previous one encrypted too. (That deliveries are signed
with the secret handed out is test_webhook_signatures_e2e.)"""

from __future__ import annotations

from db import models
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import make_org
from tests.support import SECRET_BOX, Stack


async def _stored(stack: Stack, sub_id: str) -> models.WebhookSubscription:
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            row = await session.get(models.WebhookSubscription, sub_id)
            assert row is not None
            return row
    finally:
        await engine.dispose()


async def test_webhook_secrets_are_encrypted_at_rest(stack: Stack) -> None:
    shop = await make_org(stack, "retailer")
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    headers = {"Idempotency-Key": "hook-at-rest"}
    async with stack.http(shop.key) as http:
        created = await http.post("/v1/webhooks", json=body, headers=headers)
        assert created.status_code == 201, created.text
        first = created.json()["secret"]
        retried = await http.post("/v1/webhooks", json=body, headers=headers)
        assert retried.json()["id"] == created.json()["id"]
        assert retried.json()["secret"] == first
        row = await _stored(stack, created.json()["id"])
        assert first not in row.secret
        assert SECRET_BOX.decrypt(row.secret) == first

        rotated = await http.post(f"/v1/webhooks/{created.json()['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()["secret"]
        assert second != first
    row = await _stored(stack, created.json()["id"])
    assert row.previous_secret is not None
    assert first not in row.previous_secret and second not in row.secret
    assert SECRET_BOX.decrypt(row.secret) == second
    assert SECRET_BOX.decrypt(row.previous_secret) == first
