"""Inputs from outside that used to answer 500, and the size limits, over real HTTP: each is
a 4xx problem with a stable code (on SQLite and on PostgreSQL, which refuses NUL in text)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.limits import MAX_BODY_BYTES
from domain.signatures import sign
from tests.api.helpers import add_product, make_org
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import carrier, scan
from tests.support import ADMIN_KEY, CARRIER_SECRET, Stack, free_port, serve_api

pytestmark = pytest.mark.e2e


# ------------------------------------------------------------------ signatures


async def test_a_non_ascii_signature_is_a_401_not_a_500(stack: Stack) -> None:
    raw = json.dumps(scan("AS0000000000000001", "picked_up")).encode()
    stamp = int(time.time())
    good = sign(CARRIER_SECRET, raw, stamp).split("v1=", 1)[1]
    async with stack.http() as http:
        for v1 in ("é" * 64, good[:-1] + "ÿ"):
            answer = await http.post(
                "/v1/carrier-events",
                content=raw,
                # Bytes: HTTP carries them as they are, and the server reads them as latin-1.
                headers={
                    b"X-Carrier-Signature": f"t={stamp},v1={v1}".encode(),
                    b"Content-Type": b"application/json",
                },
            )
            assert_problem(answer, 401, "invalid_signature")


# ------------------------------------------------------------------ impossible path parameters


async def test_a_path_parameter_with_a_control_character_is_404_on_every_route(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http() as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    templated = {p: ops for p, ops in paths.items() if "{" in p}
    assert len(templated) >= 30  # every resource with an id, token, code or sku
    for bad in ("%00", "RMA%00x", "a%1fb", "%7f"):
        for template, operations in templated.items():
            path = template
            while "{" in path:
                start, end = path.index("{"), path.index("}")
                path = path[:start] + bad + path[end + 1 :]
            key = ADMIN_KEY if template.startswith("/v1/orgs") else retailer.key
            async with stack.http(key) as http:
                for method in operations:
                    body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
                    answer = await http.request(method.upper(), path, json=body)
                    assert answer.status_code == 404, (method, path, answer.text)
                    assert answer.json()["code"] == "not_found", (method, path, answer.text)


# ------------------------------------------------------------------ cursors


def cursor(*keys: str) -> str:
    return base64.urlsafe_b64encode("|".join(keys).encode()).decode()


async def test_a_crafted_cursor_is_a_422_invalid_cursor(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    async with stack.http(retailer.key) as http:
        hook = await http.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["*"]}
        )
        assert hook.status_code == 201, hook.text
        deliveries = f"/v1/webhooks/{hook.json()['id']}/deliveries"
        for path, crafted in (
            ("/v1/rmas", cursor("2026-01-01T00:00:00", "RMA-1")),  # naive
            ("/v1/rmas", cursor("2026-01-01T00:00:00+00:00", "RMA\x001")),
            ("/v1/repairs", cursor("2026-01-01T00:00:00", "REP-1")),
            (deliveries, cursor("2026-01-01T00:00:00", "1", "d")),  # naive
            (deliveries, cursor("2026-01-01T00:00:00+00:00", "9" * 30, "d")),
        ):
            answer = await http.get(path, params={"cursor": crafted})
            assert_problem(answer, 422, "invalid_cursor")
        # One the API gave still pages.
        assert (await http.get("/v1/rmas", params={"limit": 1})).status_code == 200


# ------------------------------------------------------------------ races


async def test_concurrent_first_stock_puts_all_succeed_with_one_result(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    async with stack.http(retailer.key) as http:
        answers = await asyncio.gather(
            *(http.put(f"/v1/inventory/{sku}", json={"quantity": n}) for n in range(1, 9))
        )
        assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
        stock = (await http.get(f"/v1/inventory/{sku}")).json()
    assert stock["quantity"] in range(1, 9) and stock["reserved"] == 0


async def test_concurrent_webhook_creates_with_one_key_make_one_subscription(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    body = {"url": "http://127.0.0.1:9/hook", "events": ["rma.*"]}
    headers = {"Idempotency-Key": f"hook-{uuid.uuid4().hex}"}
    async with stack.http(retailer.key) as http:
        answers = await asyncio.gather(
            *(http.post("/v1/webhooks", json=body, headers=headers) for _ in range(8))
        )
        assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
        assert len({(a.json()["id"], a.json()["secret"]) for a in answers}) == 1
        listed = (await http.get("/v1/webhooks")).json()["items"]
        assert [h["id"] for h in listed] == [answers[0].json()["id"]]
        other = await http.post(
            "/v1/webhooks", json={**body, "events": ["repair.*"]}, headers=headers
        )
        assert_problem(other, 409, "idempotency_conflict")


# ------------------------------------------------------------------ carrier event bounds


async def test_carrier_event_fields_longer_than_their_columns_are_422(stack: Stack) -> None:
    unknown = "AS0000000000000002"
    for field, length in (("location", 201), ("event_id", 101), ("tracking_number", 41)):
        event = {**scan(unknown, "in_transit"), field: "x" * length}
        assert_problem(await carrier(stack, event), 422, "validation_error")
    # At the columns' lengths they are read, and the unknown tracking number is what is wrong.
    fits = {**scan(unknown, "in_transit"), "location": "x" * 200, "event_id": "e" * 100}
    assert_problem(await carrier(stack, fits), 404, "not_found")


# ------------------------------------------------------------------ sizes


async def test_a_body_over_a_mebibyte_is_413_before_parsing_or_signature_checks(
    stack: Stack,
) -> None:
    retailer = await make_org(stack, "retailer")
    too_big = b'{"pad": "' + b" " * MAX_BODY_BYTES + b'"}'
    json_headers = {"Content-Type": "application/json"}

    async def chunked() -> AsyncIterator[bytes]:
        # No Content-Length: the size is only known by counting what arrives.
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    async with stack.http(retailer.key) as http:
        declared = await http.post("/v1/rmas", content=too_big, headers=json_headers)
        assert_problem(declared, 413, "payload_too_large")
        # Unsigned: the size is refused before the signature is looked at.
        unsigned = await http.post("/v1/carrier-events", content=too_big, headers=json_headers)
        assert_problem(unsigned, 413, "payload_too_large")
        streamed = await http.post("/v1/carrier-events", content=chunked(), headers=json_headers)
        assert "content-length" not in streamed.request.headers
        assert_problem(streamed, 413, "payload_too_large")
        # Exactly the limit is read as usual: here, refused for its signature.
        at_limit = json.dumps(scan("AS0000000000000003", "in_transit")).encode()
        at_limit = at_limit + b" " * (MAX_BODY_BYTES - len(at_limit))
        answer = await http.post("/v1/carrier-events", content=at_limit, headers=json_headers)
        assert_problem(answer, 401, "invalid_signature")


async def test_the_webhook_quota_holds_under_concurrent_creates(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    settings = stack.settings.model_copy(update={"webhook_quota": 3, "api_port": free_port()})
    body = {"url": "http://127.0.0.1:9/hook", "events": ["*"]}
    async with (
        serve_api(settings) as base_url,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {retailer.key}"}, timeout=30
        ) as http,
    ):
        answers = await asyncio.gather(*(http.post("/v1/webhooks", json=body) for _ in range(8)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [201] * 3 + [409] * 5, [a.text for a in answers]
        for refused in (a for a in answers if a.status_code == 409):
            assert_problem(refused, 409, "webhook_quota_exceeded")
        # A deleted subscription frees its place.
        first = next(a.json()["id"] for a in answers if a.status_code == 201)
        assert (await http.delete(f"/v1/webhooks/{first}")).status_code == 204
        assert (await http.post("/v1/webhooks", json=body)).status_code == 201
        assert_problem(await http.post("/v1/webhooks", json=body), 409, "webhook_quota_exceeded")


# ------------------------------------------------------------------ webhook targets


async def test_production_refuses_a_name_resolving_inside_without_saying_where(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def dns(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.inside.test":
            return real("10.0.0.7", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    retailer = await make_org(stack, "retailer")
    strict = stack.settings.model_copy(
        update={"webhook_allow_private_targets": False, "api_port": free_port()}
    )
    async with (
        serve_api(strict) as base_url,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {retailer.key}"}
        ) as http,
    ):
        details = set()
        for url in ("http://hooks.inside.test/in", "http://10.0.0.7/in", "http://localhost/in"):
            refused = await http.post("/v1/webhooks", json={"url": url, "events": ["*"]})
            assert_problem(refused, 422, "webhook_target_not_public")
            details.add(refused.json()["detail"])
        assert details == {"webhooks go to public addresses only"}
