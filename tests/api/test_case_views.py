"""A case is shown per viewer (api.md), for every case type over HTTP: its retailer sees the
tracking token and the customer's contact; the repair center or provider working it sees
neither (the token would let it act as the customer), in details, lists and the answers to
its own commands. Another partner sees nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.api.test_foundation import assert_problem
from tests.api.world import CUSTOMER, World
from tests.support import Stack


def assert_owner_view(body: dict[str, Any]) -> None:
    assert body["tracking_token"], body
    shown = body["customer"]
    assert (shown["name"], shown["email"], shown["phone"]) == (
        CUSTOMER["name"],
        CUSTOMER["email"],
        CUSTOMER["phone"],
    )
    assert shown["address"]["line1"] == CUSTOMER["address"]["line1"]


def assert_worker_view(body: dict[str, Any], world: World) -> None:
    """No token, and the customer as the name and the address the work is for."""
    assert body["tracking_token"] is None, body
    shown = body["customer"]
    assert shown.keys() == {"name", "address"}, shown
    assert shown["name"] == CUSTOMER["name"]
    assert shown["address"]["line1"] == CUSTOMER["address"]["line1"]
    text = json.dumps(body)
    for secret in world.secrets():
        assert secret not in text, f"{secret!r} shown to the worker"


def ok(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def listed(answer: httpx.Response, case_id: str) -> dict[str, Any]:
    return next(item for item in ok(answer)["items"] if item["id"] == case_id)


async def test_rma_per_viewer(stack: Stack, world: World) -> None:
    rma_id = world.cases["rma"]["id"]
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["rma"])
        assert_owner_view(ok(await shop.get(f"/v1/rmas/{rma_id}")))
        assert_owner_view(listed(await shop.get("/v1/rmas"), rma_id))
    async with stack.http(world.center.key) as bench:
        assert_worker_view(ok(await bench.get(f"/v1/rmas/{rma_id}")), world)
        assert_worker_view(listed(await bench.get("/v1/rmas"), rma_id), world)
    # The answer to the center's own `receive`.
    assert world.worker_answers["rma"]["status"] == "received"
    assert_worker_view(world.worker_answers["rma"], world)
    async with stack.http(world.other_center.key) as stranger:
        assert_problem(await stranger.get(f"/v1/rmas/{rma_id}"), 404, "not_found")


async def test_repair_per_viewer(stack: Stack, world: World) -> None:
    repair_id = world.cases["repair"]["id"]
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["repair"])
        assert_owner_view(ok(await shop.get(f"/v1/repairs/{repair_id}")))
        assert_owner_view(listed(await shop.get("/v1/repairs"), repair_id))
    async with stack.http(world.center.key) as bench:
        assert_worker_view(ok(await bench.get(f"/v1/repairs/{repair_id}")), world)
        assert_worker_view(listed(await bench.get("/v1/repairs"), repair_id), world)
    assert world.worker_answers["repair"]["status"] == "beyond_repair"
    assert_worker_view(world.worker_answers["repair"], world)
    async with stack.http(world.other_center.key) as stranger:
        assert_problem(await stranger.get(f"/v1/repairs/{repair_id}"), 404, "not_found")


async def test_replacement_per_viewer(stack: Stack, world: World) -> None:
    """The center whose job ended beyond repair follows the replacement it started."""
    replacement_id = world.cases["replacement"]["id"]
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["replacement"])
        assert_owner_view(ok(await shop.get(f"/v1/replacements/{replacement_id}")))
        assert_owner_view(listed(await shop.get("/v1/replacements"), replacement_id))
    async with stack.http(world.center.key) as bench:
        assert_worker_view(ok(await bench.get(f"/v1/replacements/{replacement_id}")), world)
    async with stack.http(world.other_center.key) as stranger:
        path = f"/v1/replacements/{replacement_id}"
        assert_problem(await stranger.get(path), 404, "not_found")


async def test_relocation_per_viewer(stack: Stack, world: World) -> None:
    relocation_id = world.cases["relocation"]["id"]
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["relocation"])
        assert_owner_view(ok(await shop.get(f"/v1/relocations/{relocation_id}")))
        assert_owner_view(listed(await shop.get("/v1/relocations"), relocation_id))
    async with stack.http(world.center.key) as provider:
        assert_worker_view(ok(await provider.get(f"/v1/relocations/{relocation_id}")), world)
        assert_worker_view(listed(await provider.get("/v1/relocations"), relocation_id), world)
    # The answer to the provider's booking.
    assert world.worker_answers["relocation"]["status"] == "uninstall_scheduled"
    assert_worker_view(world.worker_answers["relocation"], world)
    async with stack.http(world.other_center.key) as stranger:
        path = f"/v1/relocations/{relocation_id}"
        assert_problem(await stranger.get(path), 404, "not_found")


async def test_installation_per_viewer(stack: Stack, world: World) -> None:
    installation_id = world.cases["installation"]["id"]
    path = f"/v1/installations/{installation_id}"
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["installation"])
        assert_owner_view(ok(await shop.get(path)))
        assert_owner_view(listed(await shop.get("/v1/installations"), installation_id))
    async with stack.http(world.center.key) as provider:
        assert_worker_view(ok(await provider.get(path)), world)
        assert_worker_view(listed(await provider.get("/v1/installations"), installation_id), world)
    # The answer to the provider's booking.
    assert world.worker_answers["installation"]["status"] == "scheduled"
    assert_worker_view(world.worker_answers["installation"], world)
    async with stack.http(world.other_center.key) as stranger:
        assert_problem(await stranger.get(path), 404, "not_found")


async def test_service_plan_per_viewer(stack: Stack, world: World) -> None:
    """A plan is the retailer's alone: no partner works it, so none is shown it."""
    plan_id = world.cases["service_plan"]["id"]
    async with stack.http(world.retailer.key) as shop:
        assert_owner_view(world.cases["service_plan"])
        assert_owner_view(ok(await shop.get(f"/v1/service-plans/{plan_id}")))
        assert_owner_view(listed(await shop.get("/v1/service-plans"), plan_id))
    for partner in (world.center, world.other_center):
        async with stack.http(partner.key) as http:
            assert_problem(await http.get(f"/v1/service-plans/{plan_id}"), 403, "forbidden")
            assert_problem(await http.get("/v1/service-plans"), 403, "forbidden")
