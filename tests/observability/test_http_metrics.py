"""The request middleware's labels: the route template the router matched, never the path
(ids and tokens stay out of /metrics); a path no route matched, or a refusal answered before
routing, is `unmatched`; a method outside HTTP's own is `other`; an app that raises is a 500.

And the API's /metrics itself: out of the OpenAPI schema, open unless a token is set."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.types import ASGIApp, Receive, Scope, Send

from api.app import create_app
from api.errors import problem_response
from observability.http_metrics import RequestMetrics
from settings import Settings
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY

ID = "order-7f3a9c"


def requests(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("aftersales_http_requests_total", labels) or 0.0


def timed(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("aftersales_http_request_duration_seconds_count", labels) or 0


class RefuseLargeBodies:
    """Like api.limits.BodyLimit: answers before the router sees the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and dict(scope["headers"]).get(b"x-too-large"):
            await problem_response(413, "payload_too_large", "too large")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def small_app() -> FastAPI:
    app = FastAPI()

    @app.get("/metrics-test/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    @app.get("/metrics-test/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_middleware(RefuseLargeBodies)
    app.add_middleware(RequestMetrics)
    return app


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_a_request_is_counted_under_its_route_template(http: httpx.AsyncClient) -> None:
    template = "/metrics-test/orders/{order_id}"
    before, before_timed = requests("GET", template, 200), timed("GET", template)
    assert (await http.get(f"/metrics-test/orders/{ID}")).status_code == 200
    assert requests("GET", template, 200) == before + 1
    assert timed("GET", template) == before_timed + 1
    # The method that the route does not take: its template, with the 405.
    before = requests("DELETE", template, 405)
    assert (await http.delete(f"/metrics-test/orders/{ID}")).status_code == 405
    assert requests("DELETE", template, 405) == before + 1


async def test_paths_no_route_matched_are_one_bucket(http: httpx.AsyncClient) -> None:
    before = requests("GET", "unmatched", 404)
    for path in ("/metrics-test/nothing-here", f"/{ID}", "/metrics-test/orders"):
        assert (await http.get(path)).status_code == 404
    assert requests("GET", "unmatched", 404) == before + 3
    before = requests("POST", "unmatched", 413)
    refused = await http.post(f"/metrics-test/orders/{ID}", headers={"x-too-large": "1"})
    assert refused.status_code == 413
    assert requests("POST", "unmatched", 413) == before + 1


async def test_an_unknown_method_and_a_crash_are_labelled(http: httpx.AsyncClient) -> None:
    before = requests("other", "unmatched", 404)
    assert (await http.request("BREW", "/metrics-test/pot")).status_code == 404
    assert requests("other", "unmatched", 404) == before + 1
    before = requests("GET", "/metrics-test/broken", 500)
    assert (await http.get("/metrics-test/broken")).status_code == 500
    assert requests("GET", "/metrics-test/broken", 500) == before + 1


async def test_no_path_is_ever_a_label(http: httpx.AsyncClient) -> None:
    await http.get(f"/metrics-test/orders/{ID}")
    await http.get(f"/metrics-test/{ID}/unknown")
    exposition = b"".join(
        line.encode() + b"\n"
        for family in REGISTRY.collect()
        for line in (str(sample) for sample in family.samples)
    )
    assert ID.encode() not in exposition


def settings_for(tmp: Path, **overrides: str) -> Settings:
    return Settings(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp}/unused.db",
        document_dir=tmp / "documents",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        **overrides,  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real API application in this process, its lifespan run (no HTTP server)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        yield client


async def test_the_api_serves_metrics_outside_its_schema(tmp_path: Path) -> None:
    async with serving(settings_for(tmp_path)) as api:
        answer = await api.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "aftersales_http_requests_total" in answer.text
        # The Temporal SDK's exporter runs in this process too (its metrics appear once used).
        assert "aftersales_temporal_sdk_metrics_up 1.0" in answer.text
        assert "/metrics" not in (await api.get("/openapi.json")).json()["paths"]


async def test_a_metrics_token_is_asked_for_when_set(tmp_path: Path) -> None:
    async with serving(settings_for(tmp_path, metrics_token="scrape-secret")) as api:
        assert (await api.get("/metrics")).status_code == 401
        wrong = await api.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "unauthorized"
        right = await api.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert right.status_code == 200
