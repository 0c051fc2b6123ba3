"""Organisations, keys, auth, tenancy, policy, products, errors and health over real HTTP."""

from __future__ import annotations

import uuid

import httpx

from tests.api.helpers import add_product, make_org
from tests.support import ADMIN_KEY, Stack


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()


async def test_health_checks_database_and_temporal(stack: Stack) -> None:
    async with stack.http() as http:
        response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "temporal": "ok"}


async def test_openapi_schema_lists_the_contract(stack: Stack) -> None:
    async with stack.http() as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    for path in (
        "/v1/orgs",
        "/v1/orgs/{org_id}/api-keys",
        "/v1/policy",
        "/v1/products",
        "/v1/rmas",
        "/v1/rmas/{rma_id}/inspection",
        "/v1/carrier-events",
        "/v1/track/{token}",
        "/v1/documents/{document_id}",
        "/healthz",
    ):
        assert path in paths


async def test_org_and_key_creation_and_the_key_works(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    assert retailer.key.startswith("ask_")
    async with stack.http(retailer.key) as http:
        assert (await http.get("/v1/policy")).status_code == 200


async def test_keys_are_stored_hashed(stack: Stack) -> None:
    from sqlalchemy import select

    from db import models
    from db.session import make_engine, make_sessionmaker

    retailer = await make_org(stack, "retailer")
    engine = make_engine(stack.settings.database_url)
    async with make_sessionmaker(engine)() as session:
        stored = (
            await session.scalars(
                select(models.ApiKey.key_hash).where(models.ApiKey.org_id == retailer.id)
            )
        ).all()
    await engine.dispose()
    assert stored and retailer.key not in stored
    assert all(len(h) == 64 for h in stored)


async def test_auth_refusals(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    center = await make_org(stack, "repair_center")
    async with stack.http() as anonymous:
        assert_problem(await anonymous.get("/v1/policy"), 401, "unauthorized")
        assert_problem(
            await anonymous.post("/v1/orgs", json={"name": "x", "kind": "retailer"}),
            401,
            "unauthorized",
        )
    async with stack.http("ask_not-a-real-key") as bad:
        assert_problem(await bad.get("/v1/policy"), 401, "unauthorized")
    async with httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Basic {retailer.key}"}
    ) as wrong:
        assert_problem(await wrong.get("/v1/policy"), 401, "unauthorized")
    async with stack.http(retailer.key) as http:
        # A retailer is not an admin.
        assert_problem(
            await http.post("/v1/orgs", json={"name": "x", "kind": "retailer"}), 403, "forbidden"
        )
        assert_problem(await http.post(f"/v1/orgs/{retailer.id}/api-keys"), 403, "forbidden")
    async with stack.http(center.key) as http:
        # A repair center has no retailer policy.
        assert_problem(await http.get("/v1/policy"), 403, "forbidden")
    async with stack.http(ADMIN_KEY) as admin:
        assert_problem(await admin.post(f"/v1/orgs/{uuid.uuid4().hex}/api-keys"), 404, "not_found")


async def test_policy_round_trip_with_defaults(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        defaults = (await http.get("/v1/policy")).json()
        assert defaults["return_window"] == "P30D"
        assert defaults["review_threshold"] == "1000.00"
        assert defaults["review_timeout"] == "P7D"
        assert defaults["return_ship_by"] == "P14D"
        assert defaults["restocking_fee_percent"] == 15
        assert defaults["quote_valid_for"] == "P14D"
        assert defaults["repair_turnaround"] == "P5D"
        assert defaults["backorder_max"] == "P14D"
        assert defaults["core_return_within"] == "P30D"
        assert defaults["max_reschedules"] == 2
        assert defaults["dunning"] == ["P1D", "P3D", "P7D"]
        assert defaults["grace_period"] == "P14D"
        assert defaults["currency"] == "USD"

        put = await http.put(
            "/v1/policy",
            json={"return_window": "P45D", "restocking_fee_percent": 10, "review_timeout": "PT30S"},
        )
        assert put.status_code == 200, put.text
        got = (await http.get("/v1/policy")).json()
        assert got == put.json()
        assert got["return_window"] == "P45D"
        assert got["review_timeout"] == "PT30S"
        assert got["restocking_fee_percent"] == 10
        assert got["return_ship_by"] == "P14D"  # left out, so the default

        for bad in (
            {"return_window": "thirty days"},
            {"restocking_fee_percent": 150},
            {"return_window": "-P1D"},
            {"currency": "dollars"},
            {"unknown_field": 1},
            {"max_reschedules": "many"},
        ):
            assert_problem(await http.put("/v1/policy", json=bad), 422, "validation_error")
        assert (await http.get("/v1/policy")).json() == got  # nothing changed


async def test_policies_are_per_retailer(stack: Stack) -> None:
    first = await make_org(stack, "retailer")
    second = await make_org(stack, "retailer")
    async with stack.http(first.key) as http:
        await http.put("/v1/policy", json={"return_window": "P60D"})
    async with stack.http(second.key) as http:
        assert (await http.get("/v1/policy")).json()["return_window"] == "P30D"


async def test_products_and_duplicate_sku(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    other = await make_org(stack, "retailer")
    product = await add_product(stack, retailer, sku="HEADPHONES-1", price="249.50")
    assert product["unit_price"] == {"amount": "249.50", "currency": "USD"}
    async with stack.http(retailer.key) as http:
        again = await http.post(
            "/v1/products",
            json={
                "sku": "HEADPHONES-1",
                "name": "Again",
                "category": "audio",
                "unit_price": "1.00",
                "warranty_months": 0,
            },
        )
        assert_problem(again, 409, "duplicate_sku")
        assert (await http.get("/v1/products/HEADPHONES-1")).json()["name"] == product["name"]
    # Another retailer's catalog is its own: the same sku is fine there, and ours is hidden.
    await add_product(stack, other, sku="HEADPHONES-1")
    async with stack.http(other.key) as http:
        assert (await http.get("/v1/products/HEADPHONES-1")).json()["id"] != product["id"]


async def test_malformed_json_and_wrong_types_are_422(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        broken = await http.post(
            "/v1/products", content=b'{"sku": "A",', headers={"Content-Type": "application/json"}
        )
        assert_problem(broken, 422, "malformed_json")
        wrong = await http.post(
            "/v1/products",
            json={
                "sku": "A",
                "name": "A",
                "category": "x",
                "unit_price": "cheap",
                "warranty_months": "twelve",
            },
        )
        assert_problem(wrong, 422, "validation_error")
        locs = {tuple(e["loc"]) for e in wrong.json()["errors"]}
        assert ("body", "warranty_months") in locs
        assert_problem(await http.post("/v1/products", json=[1, 2]), 422, "validation_error")
        assert (await http.get("/v1/products/A")).status_code == 404  # nothing was created


async def test_unknown_route_is_a_problem(stack: Stack) -> None:
    async with stack.http() as http:
        assert_problem(await http.get("/v1/nothing-here"), 404, "not_found")
