"""Small HTTP helpers for the API tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support import ADMIN_KEY, Stack, eventually, run_stack


@dataclass
class Org:
    id: str
    key: str
    kind: str


async def make_org(stack: Stack, kind: str, name: str | None = None) -> Org:
    async with stack.http(ADMIN_KEY) as admin:
        org = await admin.post(
            "/v1/orgs", json={"name": name or f"{kind}-{uuid.uuid4().hex[:6]}", "kind": kind}
        )
        assert org.status_code == 201, org.text
        key = await admin.post(f"/v1/orgs/{org.json()['id']}/api-keys")
        assert key.status_code == 201, key.text
        return Org(org.json()["id"], key.json()["key"], kind)


async def add_product(
    stack: Stack,
    retailer: Org,
    sku: str | None = None,
    price: str = "199.99",
    warranty_months: int = 12,
    category: str = "audio",
) -> dict[str, Any]:
    sku = sku or f"SKU-{uuid.uuid4().hex[:8]}"
    async with stack.http(retailer.key) as http:
        response = await http.post(
            "/v1/products",
            json={
                "sku": sku,
                "name": f"Product {sku}",
                "category": category,
                "unit_price": {"amount": price, "currency": "USD"},
                "warranty_months": warranty_months,
            },
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


def customer(name: str = "Ada Lovelace") -> dict[str, Any]:
    return {
        "name": name,
        "email": "ada@example.com",
        "phone": "+1 555 0100",
        "address": {
            "line1": "12 Analytical Row",
            "city": "London",
            "postal_code": "N1 9GU",
            "country": "GB",
        },
    }


async def wait_for(
    http: httpx.AsyncClient, path: str, ready: Callable[[dict[str, Any]], object]
) -> dict[str, Any]:
    """GET `path` until `ready(body)` holds; that body."""
    answer = await eventually(
        lambda: http.get(path), lambda a: ready(a.json()), what=f"GET {path}", every=0.1
    )
    body: dict[str, Any] = answer.json()
    return body


@contextlib.asynccontextmanager
async def own_stack(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """A stack of a module's own, for a fixture parametrized by backend (`request.param`):
    on SQLite a database file of its own, on PostgreSQL the session's database (its cases
    beside the shared stack's); `overrides` are Settings fields, a stub's API base, say."""
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"{name}-{backend}")
    url = (
        f"sqlite+aiosqlite:///{tmp}/aftersales-{name}.db"
        if backend == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    target = dev_server.client.service_client.config.target_host
    async with run_stack(backend, url, target, dev_server.client, tmp, **overrides) as stack:
        yield stack
