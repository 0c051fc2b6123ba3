"""API keys over HTTP and from the command line: listed without the key, used keys show
when, a revoked key answers 401 from then on and the others keep working."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from tests.api.helpers import make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_health_and_cli import _cli
from tests.support import ADMIN_KEY, Stack


async def test_keys_are_listed_without_the_key_and_a_revoked_key_is_refused(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http(ADMIN_KEY) as admin:
        second = await admin.post(f"/v1/orgs/{retailer.id}/api-keys")
        assert second.status_code == 201, second.text
        unused_id, unused_key = second.json()["id"], second.json()["key"]

        async with stack.http(retailer.key) as shop:
            assert (await shop.get("/v1/policy")).status_code == 200
        listed = await admin.get(f"/v1/orgs/{retailer.id}/api-keys")
        assert listed.status_code == 200, listed.text
        rows = {row["id"]: row for row in listed.json()}
        assert len(rows) == 2
        assert unused_id in rows
        (used_id,) = set(rows) - {unused_id}
        # Only what tells keys apart: never the key, nor its hash.
        for row in rows.values():
            assert set(row) == {"id", "prefix", "created_at", "last_used_at", "revoked_at"}
            assert row["revoked_at"] is None
        assert retailer.key.startswith(rows[used_id]["prefix"])
        assert retailer.key not in listed.text and unused_key not in listed.text
        assert rows[unused_id]["last_used_at"] is None
        first_use = rows[used_id]["last_used_at"]
        assert first_use is not None
        assert datetime.fromisoformat(first_use) >= datetime.fromisoformat(
            rows[used_id]["created_at"]
        )
        # Used again within the minute: not written again.
        async with stack.http(retailer.key) as shop:
            assert (await shop.get("/v1/policy")).status_code == 200
        again = {r["id"]: r for r in (await admin.get(f"/v1/orgs/{retailer.id}/api-keys")).json()}
        assert again[used_id]["last_used_at"] == first_use

        revoked = await admin.delete(f"/v1/orgs/{retailer.id}/api-keys/{used_id}")
        assert revoked.status_code == 204, revoked.text
        async with stack.http(retailer.key) as shop:
            assert_problem(await shop.get("/v1/policy"), 401, "unauthorized")
        async with stack.http(unused_key) as shop:
            assert (await shop.get("/v1/policy")).status_code == 200
        after = {r["id"]: r for r in (await admin.get(f"/v1/orgs/{retailer.id}/api-keys")).json()}
        revoked_at = after[used_id]["revoked_at"]
        assert revoked_at is not None and after[unused_id]["revoked_at"] is None
        # Revoking twice is fine and keeps the first moment.
        twice = await admin.delete(f"/v1/orgs/{retailer.id}/api-keys/{used_id}")
        assert twice.status_code == 204
        final = {r["id"]: r for r in (await admin.get(f"/v1/orgs/{retailer.id}/api-keys")).json()}
        assert final[used_id]["revoked_at"] == revoked_at

        # Another organisation's key under this one's path, or no such key: 404.
        other = await make_org(stack, "retailer")
        other_keys = (await admin.get(f"/v1/orgs/{other.id}/api-keys")).json()
        assert_problem(
            await admin.delete(f"/v1/orgs/{retailer.id}/api-keys/{other_keys[0]['id']}"),
            404,
            "not_found",
        )
        assert_problem(
            await admin.delete(f"/v1/orgs/{retailer.id}/api-keys/{uuid.uuid4().hex}"),
            404,
            "not_found",
        )
        assert_problem(await admin.get(f"/v1/orgs/{uuid.uuid4().hex}/api-keys"), 404, "not_found")
        async with stack.http(other.key) as still_working:
            assert (await still_working.get("/v1/policy")).status_code == 200

    # Only the admin lists or revokes keys, even an organisation's own.
    async with stack.http(unused_key) as shop:
        assert_problem(await shop.get(f"/v1/orgs/{retailer.id}/api-keys"), 403, "forbidden")
        assert_problem(
            await shop.delete(f"/v1/orgs/{retailer.id}/api-keys/{unused_id}"), 403, "forbidden"
        )


async def test_keys_list_and_revoke_from_the_command_line(stack: Stack) -> None:
    url = stack.settings.database_url
    retailer = await make_org(stack, "retailer")
    listed = await asyncio.to_thread(_cli, "keys", "list", "--org", retailer.id, database_url=url)
    assert listed.returncode == 0, listed.stderr
    assert retailer.key[:12] in listed.stdout and retailer.key not in listed.stdout
    (row,) = [line for line in listed.stdout.splitlines() if retailer.key[:12] in line]
    key_id = row.split()[0]

    done = await asyncio.to_thread(_cli, "keys", "revoke", key_id, database_url=url)
    assert done.returncode == 0, done.stderr
    async with stack.http(retailer.key) as shop:
        assert_problem(await shop.get("/v1/policy"), 401, "unauthorized")
    missing = await asyncio.to_thread(_cli, "keys", "revoke", "nope", database_url=url)
    assert missing.returncode == 1 and "no API key" in missing.stderr
