"""Console users over the JSON API and the CLI, on the shared stack (SQLite and PostgreSQL):
who may make and list them (the admin, the organisation's own key; another organisation
gets 404), what each organisation kind's roles are, one account per email whatever its
case or organisation, and a password stored only as an argon2id hash, never shown."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db import models
from db.session import make_engine
from tests.api.helpers import make_org
from tests.console.conftest import ConsoleUsers
from tests.console.support import console_client, sign_in
from tests.support import ADMIN_KEY, Stack

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"


@pytest.fixture
async def database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def new_user(role: str = "staff", email: str | None = None) -> dict[str, str]:
    return {
        "email": email or f"Someone-{uuid.uuid4().hex[:8]}@Example.COM",
        "name": "Grace Hopper",
        "role": role,
        "password": PASSWORD,
    }


async def test_the_admin_and_the_orgs_own_key_make_users_and_no_one_else_sees_them(
    stack: Stack, console_users: ConsoleUsers, database: AsyncEngine
) -> None:
    retailer = console_users.retailer
    path = f"/v1/orgs/{retailer.id}/users"
    stranger = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as own:
        body = new_user()
        made = await own.post(path, json=body)
        assert made.status_code == 201, made.text
        user = made.json()
        assert set(user) == {"id", "email", "name", "role"}
        assert user["email"] == body["email"].lower()
        assert (user["name"], user["role"]) == ("Grace Hopper", "staff")

        listed = await own.get(path)
        assert listed.status_code == 200
        people = {u["email"]: u for u in listed.json()}
        assert {console_users.owner.email, console_users.staff.email, user["email"]} <= set(people)
        assert all(
            set(u) == {"id", "email", "name", "role", "created_at", "disabled_at"}
            for u in listed.json()
        )
        assert PASSWORD not in listed.text and "argon2" not in listed.text

    # Another organisation's key, and a repair center's, find no such organisation.
    for key in (stranger.key, console_users.center.key):
        async with stack.http(key) as other:
            assert (await other.get(path)).status_code == 404
            made = await other.post(path, json=new_user())
            assert made.status_code == 404
            assert made.json()["code"] == "not_found"
            disable = await other.delete(f"{path}/{user['id']}")
            assert disable.status_code == 404
    async with stack.http() as nobody:
        assert (await nobody.get(path)).status_code == 401
    async with stack.http(ADMIN_KEY) as admin:
        assert (await admin.get(path)).status_code == 200
        assert (await admin.get(f"/v1/orgs/{uuid.uuid4().hex}/users")).status_code == 404
        # A user of the retailer is not the stranger's to disable, even for the admin.
        wrong = await admin.delete(f"/v1/orgs/{stranger.id}/users/{user['id']}")
        assert wrong.status_code == 404

    # Stored: the argon2id hash of the password, never the password.
    async with database.connect() as conn:
        stored = (
            await conn.execute(
                select(models.User.password_hash).where(models.User.id == user["id"])
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


async def test_roles_follow_the_organisations_kind(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    cases = [
        (console_users.retailer, "technician", 422),
        (console_users.retailer, "owner", 201),
        (console_users.center, "staff", 422),
        (console_users.center, "technician", 201),
    ]
    async with stack.http(ADMIN_KEY) as admin:
        for org, role, status in cases:
            answer = await admin.post(f"/v1/orgs/{org.id}/users", json=new_user(role))
            assert answer.status_code == status, (org.kind, role, answer.text)
            if status == 422:
                assert answer.json()["code"] == "invalid_role"
        # An organisation of the admin kind has no console at all.
        admin_org = await admin.post("/v1/orgs", json={"name": "Ops", "kind": "admin"})
        assert admin_org.status_code == 201
        refused = await admin.post(
            f"/v1/orgs/{admin_org.json()['id']}/users", json=new_user("owner")
        )
        assert refused.json()["code"] == "invalid_role"


async def test_one_account_per_email_and_bounded_fields(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    taken = console_users.staff.email
    async with stack.http(ADMIN_KEY) as admin:
        for org in (console_users.retailer, console_users.center):
            role = "owner"
            again = await admin.post(
                f"/v1/orgs/{org.id}/users", json=new_user(role, email=taken.upper())
            )
            assert again.status_code == 409
            assert again.json()["code"] == "email_taken"
        path = f"/v1/orgs/{console_users.retailer.id}/users"
        for change in (
            {"email": "not-an-email"},
            {"email": "a@" + "b" * 250 + ".com"},
            {"password": "short"},
            {"password": "x" * 201},
            {"name": ""},
            {"name": "Bobby\x00Tables"},
            {"role": "admin"},
            {"extra": "field"},
        ):
            refused = await admin.post(path, json={**new_user(), **change})
            assert refused.status_code == 422, change
            assert refused.json()["code"] == "validation_error"
        # Two at once with one email: the database lets exactly one in.
        email = f"race-{uuid.uuid4().hex[:8]}@example.com"
        answers = await asyncio.gather(
            *(admin.post(path, json=new_user(email=email)) for _ in range(4))
        )
        assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]


def _cli(stack: Stack, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AFTERSALES_ENV": "development",
        "AFTERSALES_DATABASE_URL": stack.settings.database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def test_the_cli_makes_a_user_who_signs_in_and_never_prints_the_password(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    secret = f"cli-password-{uuid.uuid4().hex}"
    args = ["users", "create", "--org", console_users.center.id, "--email", email]
    made = await asyncio.to_thread(
        _cli,
        stack,
        *args,
        "--name",
        "Sam Rivera",
        "--role",
        "technician",
        "--password-stdin",
        stdin=secret + "\n",
    )
    assert made.returncode == 0, made.stderr
    assert email in made.stdout
    assert secret not in made.stdout + made.stderr

    refused = await asyncio.to_thread(
        _cli, stack, *args, "--name", "Sam", "--role", "staff", "--password-stdin", stdin=secret
    )
    assert refused.returncode != 0
    assert secret not in refused.stdout + refused.stderr

    async with stack.http(console_users.center.key) as http:
        listed = (await http.get(f"/v1/orgs/{console_users.center.id}/users")).json()
    sam = next(u for u in listed if u["email"] == email)
    assert (sam["name"], sam["role"]) == ("Sam Rivera", "technician")
    async with stack.http() as anonymous:
        anonymous.headers.pop("Authorization", None)
        answer = await sign_in(anonymous, email, secret)
        assert answer.status_code == 303


async def test_a_disabled_user_is_listed_as_such_and_signed_out(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    owner = console_users.owner
    async with console_client(stack, owner) as console:
        assert (await console.get("/console/")).status_code == 200
        async with stack.http(console_users.retailer.key) as own:
            path = f"/v1/orgs/{console_users.retailer.id}/users"
            assert (await own.delete(f"{path}/{owner.id}")).status_code == 204
            assert (await own.delete(f"{path}/{owner.id}")).status_code == 204  # still gone
            listed = {u["id"]: u for u in (await own.get(path)).json()}
            assert listed[owner.id]["disabled_at"] is not None
        assert (await console.get("/console/")).status_code == 303
