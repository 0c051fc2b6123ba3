"""What the return portal's tests share: a retailer with a slug, its products and orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.api.helpers import Org, add_product, customer, make_org
from tests.support import Stack

STEPS = [
    {"title": "Restart it", "body": "Hold the power button for ten seconds, then switch on."},
    {"title": "Reset the settings", "body": "Hold Volume Down and Power together."},
]


@dataclass
class Shop:
    org: Org
    slug: str
    skus: list[str]


def placed(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


async def new_shop(
    stack: Stack, *, products: int = 1, warranty_months: int = 12, price: str = "120.00"
) -> Shop:
    org = await make_org(stack, "retailer", f"Portal Shop {uuid.uuid4().hex[:6]}")
    skus = [
        (await add_product(stack, org, price=price, warranty_months=warranty_months))["sku"]
        for _ in range(products)
    ]
    # The retailer names its own portal (PATCH with its own key).
    slug = f"shop-{uuid.uuid4().hex[:10]}"
    async with stack.http(org.key) as http:
        answer = await http.patch(f"/v1/orgs/{org.id}", json={"slug": slug})
    assert answer.status_code == 200, answer.text
    assert answer.json()["slug"] == slug
    return Shop(org, slug, skus)


def order_body(
    lines: list[dict[str, Any]],
    *,
    order_ref: str | None = None,
    days_ago: int = 3,
    email: str = "Ada@Example.com",
) -> dict[str, Any]:
    buyer = customer()
    buyer["email"] = email
    return {
        "order_ref": order_ref or f"WEB-{uuid.uuid4().hex[:8]}",
        "placed_at": placed(days_ago),
        "customer": buyer,
        "lines": lines,
    }


def serial() -> str:
    return f"SN-{uuid.uuid4().hex[:10]}"


async def put_order(stack: Stack, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
    async with stack.http(shop.org.key) as http:
        answer = await http.post("/v1/orders", json=body)
    assert answer.status_code in (200, 201), answer.text
    stored: dict[str, Any] = answer.json()
    return stored


async def lookup(
    http: httpx.AsyncClient, slug: str, order_ref: str, email: str = "ada@example.com"
) -> httpx.Response:
    return await http.post(
        f"/v1/portal/{slug}/lookup", json={"order_ref": order_ref, "email": email}
    )


async def opened(http: httpx.AsyncClient, slug: str, order_ref: str) -> dict[str, Any]:
    answer = await lookup(http, slug, order_ref)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body
