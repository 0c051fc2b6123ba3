"""A retailer console list page's server time against the JSON list endpoint's, in the same
run, over the same read model of 10,000 RMAs:

    .venv/bin/python bench/console.py [--cases 10000] [--rounds 60] [--database-url URL]

The API runs in this process (its app called directly, no network, no Temporal: lists
read the database only); "server time" is the app's time from the request's first byte in
to its last byte out, timed around the ASGI call. The two pages are asked alternately, a
page of 50 each (the JSON list's default), so that other load on the machine hits both
alike. The read model is written directly (not through workflows): 10,000 RMAs of one
retailer, each with its customer, item, three timeline entries, a shipment and two
documents, as a labelled return has them.

Also timed, and printed: the console list filtered by status, and a search by customer
email (what a clerk types most). `console ratio` is the JSON list's median over the
console list's (higher is better; target >= 0.5), and the console page's median is held
to 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert

from api.app import create_app
from cli import migrate
from db import models
from observability.logging import configure_logging
from settings import Settings

TARGET = 0.5
PAGE_TARGET_MS = 50.0
ADMIN = "bench-admin"
SECRETS_KEY = "bench:YmVuY2ggc2VjcmV0cyBrZXksIDMyIGJ5dGVzIGxvbmc="
STATUSES = ("awaiting_return", "in_transit", "received", "completed", "pending_review")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Timed:
    """The app, with the time of each request it answered (seconds, the last one)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.last = time.perf_counter() - started


def settings_for(database_url: str, tmp: str) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        document_dir=Path(tmp) / "documents",
        admin_key=ADMIN,
        carrier_secret="bench-carrier",
        payload_key="bench:dGVzdCBwYXlsb2FkIGtleSwgMzIgYnl0ZXMgbG9uZyE=",
        secrets_key=SECRETS_KEY,
        public_base_url="http://console.bench",
        log_level="WARNING",
    )


async def seed(sessions: Any, org_id: str, count: int) -> str:
    """`count` RMAs of `org_id`, one per second back from now; a customer email to search."""
    now = datetime.now(UTC)
    cases, customers, items, events, shipments, documents = [], [], [], [], [], []
    for n in range(count):
        case_id = f"RMA-2026-B{n:07d}"
        customer_id = uuid.uuid4().hex
        created = now - timedelta(seconds=n)
        status = STATUSES[n % len(STATUSES)]
        customers.append(
            {
                "id": customer_id,
                "org_id": org_id,
                "name": f"Customer {n}",
                "email": f"customer{n}@example.com",
                "phone": "+1 555 0100",
                "address": {"line1": f"{n} Main St", "city": "Springfield", "country": "US"},
                "created_at": created,
            }
        )
        cases.append(
            {
                "id": case_id,
                "org_id": org_id,
                "case_type": "rma",
                "workflow_id": f"rma:{case_id}",
                "status": status,
                "tracking_token": uuid.uuid4().hex + uuid.uuid4().hex[:10],
                "customer_id": customer_id,
                "order_ref": f"SO-{n:06d}",
                "resolution": "refund",
                "coverage": "return_window",
                "currency": "USD",
                "links": {},
                "data": {},
                "created_at": created,
                "updated_at": created,
            }
        )
        items.append(
            {
                "case_id": case_id,
                "sku": "SKU-BENCH",
                "serial": f"SN-{n:08d}",
                "quantity": 1,
                "reason": "defective",
                "unit_price": Decimal("120.00"),
                "notes": "crackles",
            }
        )
        for seq, (event, state) in enumerate(
            (("created", "pending_review"), ("approved", "awaiting_return"), ("label", status))
        ):
            events.append(
                {
                    "case_id": case_id,
                    "seq": seq + 1,
                    "at": created,
                    "status": state,
                    "event": event,
                    "actor": f"retailer:{org_id}",
                    "detail": {"note": "bench"},
                }
            )
        shipments.append(
            {
                "id": uuid.uuid4().hex,
                "org_id": org_id,
                "case_id": case_id,
                "workflow_id": f"rma:{case_id}",
                "direction": "inbound",
                "carrier": "aftersales-post",
                "service": "Ground",
                "tracking_number": f"AS{n:016d}",
                "status": "delivered" if status == "in_transit" else "label_created",
                "idempotency_key": f"bench-ship-{case_id}",
                "created_at": created,
                "updated_at": created,
            }
        )
        for kind in ("return_label", "packing_slip"):
            documents.append(
                {
                    "id": uuid.uuid4().hex,
                    "org_id": org_id,
                    "case_id": case_id,
                    "kind": kind,
                    "sha256": "0" * 64,
                    "size": 1000,
                    "storage_key": f"bench/{case_id}/{kind}",
                    "idempotency_key": f"bench-doc-{case_id}-{kind}",
                    "created_at": created,
                }
            )
    async with sessions() as session:
        for model, rows in (
            (models.CustomerRecord, customers),
            (models.Case, cases),
            (models.CaseItem, items),
            (models.TimelineEvent, events),
            (models.Shipment, shipments),
            (models.Document, documents),
        ):
            for start in range(0, len(rows), 2000):
                await session.execute(insert(model), rows[start : start + 2000])
        await session.commit()
    return f"customer{count // 2}@example.com"


async def sign_up(http: httpx.AsyncClient) -> tuple[str, str]:
    """A retailer with an API key and a signed-in console user (cookies kept by `http`)."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    org = await http.post("/v1/orgs", json={"name": "Bench", "kind": "retailer"}, headers=admin)
    org_id = org.json()["id"]
    key = (await http.post(f"/v1/orgs/{org_id}/api-keys", headers=admin)).json()["key"]
    user = {"email": "clerk@bench.example", "name": "Clerk", "role": "staff", "password": "x" * 16}
    made = await http.post(f"/v1/orgs/{org_id}/users", json=user, headers=admin)
    assert made.status_code == 201, made.text
    login = await http.get("/console/login")
    token = _CSRF.search(login.text)
    assert token, login.text
    signed = await http.post(
        "/console/login",
        data={"email": user["email"], "password": user["password"], "csrf_token": token.group(1)},
    )
    assert signed.status_code == 303, signed.text
    return org_id, key


async def time_pages(
    http: httpx.AsyncClient, timed: Timed, pages: dict[str, dict[str, Any]], rounds: int
) -> dict[str, list[float]]:
    """Each page `rounds` times, in turn; server milliseconds per page."""
    times: dict[str, list[float]] = {name: [] for name in pages}
    for name, request in pages.items():  # warm: the key and session are known from here
        answer = await http.get(**request)
        assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
    for _ in range(rounds):
        for name, request in pages.items():
            await http.get(**request)
            times[name].append(timed.last * 1000)
    return times


async def main(cases: int, rounds: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/console-bench.db"
        await asyncio.to_thread(migrate, url, SECRETS_KEY)
        settings = settings_for(url, tmp)
        configure_logging(settings)  # warnings only: a line per request would bury the figures
        app = create_app(settings)
        timed = Timed(app)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=timed)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://console.bench", timeout=60
            ) as http:
                org_id, key = await sign_up(http)
                started = time.perf_counter()
                email = await seed(app.state.resources.sessions, org_id, cases)
                print(f"seeded {cases} RMAs in {time.perf_counter() - started:.1f} s")
                api = {"Authorization": f"Bearer {key}"}
                pages: dict[str, dict[str, Any]] = {
                    "json": {"url": "/v1/rmas", "params": {"limit": 50}, "headers": api},
                    "console": {"url": "/console/rmas"},
                    "console status": {"url": "/console/rmas", "params": {"status": "received"}},
                    "console search": {"url": "/console/rmas", "params": {"q": email}},
                    "console csv": {"url": "/console/rmas", "params": {"format": "csv"}},
                }
                times = await time_pages(http, timed, pages, rounds)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{backend}, {cases} RMAs, {rounds} rounds, a page of 50, server time (median, p90):")
    for name, values in times.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"  {name:15} {medians[name]:7.2f} ms  {p90:7.2f} ms")
    print(
        f"console page: {medians['console']:.2f} ms "
        f"(target < {PAGE_TARGET_MS:.0f} ms; search {medians['console search']:.2f} ms)"
    )
    print(f"console ratio: {medians['json'] / medians['console']:.2f} (target >= {TARGET})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    asyncio.run(main(args.cases, args.rounds, args.database_url))
