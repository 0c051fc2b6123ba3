"""Insight's answer time over a read model of 100,000 cases, against a plain
`SELECT sku, COUNT(*) … GROUP BY sku` over the same cases in the same run:

    .venv/bin/python bench/insights.py [--cases 100000] [--rounds 15] [--database-url URL]

The API runs in this process (its app called directly, no network, no Temporal: insight
reads the database only); an insight's time is the app's server time for GET
/v1/insights/products (by sku, category and center) and /v1/insights/fault-codes. The
baseline is the plain count of one retailer's cases per sku (cases joined to their items),
run through the same engine. The read model is written directly: one retailer's cases
(40% RMAs, 40% repairs with received and shipped moments, a fault code, some back within
90 days, 10% replacements, 10% service plans) over 40 skus in 5 categories and 3 repair
centers, with 30,000 order lines, 10,000 ratings and 2,000 deflections.

`insights ratio` is the baseline's median over the slowest insight's median (higher is
better). Its target is the baseline's median over 200 ms: the ratio meets it exactly when
every insight answers in under 200 ms, whatever the machine's speed.

The answers come from per-day rollups (db/insights.py, migration 0023) that database
triggers mark stale; before each measured answer the bench opens one more case on the last
seeded day (its busiest), so every answer also brings that day's rollups up to date, as for
a retailer whose cases keep coming. The first read after seeding builds every day's rollups
and is timed on its own line.

Recorded 2026-12-01 on the 2-core machine, 100,000 cases, 5 rounds:

    SQLite      slowest (by sku, csv) 93 ms, baseline 275 ms: ratio 2.939 (target >= 1.373)
    PostgreSQL  slowest (by sku, csv) 144 ms, baseline 85 ms: ratio 0.590 (target >= 0.426)

Before the rollups (every answer aggregated every case) the slowest answer took 1.7-2.2 s:
ratio 0.13 on SQLite and 0.08 on PostgreSQL (docs/benchmarks.md, "Issue #18").
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from console import ADMIN, SECRETS_KEY, Timed, settings_for
from sqlalchemy import func, insert, select, text

from api.app import create_app
from cli import migrate
from db import models
from observability.logging import configure_logging

BOUND_MS = 200.0
SKUS = 40
CATEGORIES = 5
REASONS = ("defective", "damaged", "changed_mind", "wrong_item")
FAULTS = 30
BATCH = 2000
START = datetime(2025, 1, 1, tzinfo=UTC)


async def organisations(http: httpx.AsyncClient) -> tuple[str, str, list[str]]:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    org = await http.post("/v1/orgs", json={"name": "Bench", "kind": "retailer"}, headers=admin)
    org_id = org.json()["id"]
    key = (await http.post(f"/v1/orgs/{org_id}/api-keys", headers=admin)).json()["key"]
    centers = []
    for n in range(3):
        center = await http.post(
            "/v1/orgs", json={"name": f"Center {n}", "kind": "repair_center"}, headers=admin
        )
        centers.append(center.json()["id"])
    return org_id, key, centers


async def seed(sessions: Any, org_id: str, centers: list[str], count: int) -> None:
    start = START
    products = [
        {
            "org_id": org_id,
            "sku": f"SKU-{s:03d}",
            "name": f"Product {s}",
            "category": f"category-{s % CATEGORIES}",
            "unit_price": Decimal("99.00"),
            "warranty_months": 12,
        }
        for s in range(SKUS)
    ]
    cases: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    for n in range(count):
        case_id = f"B-{n:08d}"
        created = start + timedelta(minutes=5 * n)
        sku = f"SKU-{n % SKUS:03d}"
        kind = n % 10
        case_type = (
            "rma" if kind < 4 else "repair" if kind < 8 else "replacement" if kind < 9 else "plan"
        )
        row: dict[str, Any] = {
            "id": case_id,
            "org_id": org_id,
            "case_type": "service_plan" if case_type == "plan" else case_type,
            "workflow_id": f"wf-{case_id}",
            "status": "completed",
            "tracking_token": f"t{n:063d}",
            "coverage": ("goodwill", "warranty", "service_plan", "return_window")[n % 4],
            "created_at": created,
            "updated_at": created,
        }
        if case_type == "repair":
            received = created + timedelta(days=2)
            row |= {
                "receiving_org_id": centers[n % len(centers)],
                "received_at": received,
                "shipped_at": received + timedelta(hours=6 + n % 90),
                "fault_code": f"F{n % FAULTS:02d}",
                "sla_breached": n % 13 == 0,
            }
        cases.append(row)
        # Serials repeat for repairs, so some units come back.
        serial = f"SN-{n % 30_000:06d}" if case_type == "repair" else f"SN-{n:08d}"
        items.append(
            {
                "case_id": case_id,
                "sku": sku,
                "serial": serial,
                "quantity": 1,
                "reason": REASONS[n % len(REASONS)] if case_type == "rma" else case_type,
                "unit_price": Decimal("99.00"),
            }
        )
        if n % 10 == 3:
            feedback.append(
                {
                    "id": f"fb{n:030d}",
                    "org_id": org_id,
                    "case_id": case_id,
                    "case_type": row["case_type"],
                    "rating": 1 + n % 5,
                    "created_at": created + timedelta(days=20),
                }
            )
    orders: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for n in range(15_000):
        order_id = f"o{n:031d}"
        orders.append(
            {
                "id": order_id,
                "org_id": org_id,
                "order_ref": f"SO-{n:06d}",
                "placed_at": start + timedelta(minutes=30 * n),
                "customer_name": "Bench",
                "customer_email": f"c{n}@example.com",
            }
        )
        for position in (1, 2):
            lines.append(
                {
                    "order_id": order_id,
                    "org_id": org_id,
                    "position": position,
                    "sku": f"SKU-{(n + position) % SKUS:03d}",
                    "quantity": 1 + n % 3,
                }
            )
    deflections = [
        {
            "org_id": org_id,
            "order_id": f"o{n:031d}",
            "lookup_id": f"l{n:031d}",
            "sku": f"SKU-{n % SKUS:03d}",
            "step": 1,
            "created_at": start + timedelta(hours=n),
        }
        for n in range(2_000)
    ]
    async with sessions() as session:
        for model, rows in (
            (models.Product, products),
            (models.Case, cases),
            (models.CaseItem, items),
            (models.Feedback, feedback),
            (models.Order, orders),
            (models.OrderLine, lines),
            (models.Deflection, deflections),
        ):
            for first in range(0, len(rows), BATCH):
                await session.execute(insert(model), rows[first : first + BATCH])
                if first == 0:
                    # As autovacuum analyzes a growing table: insight's triggers look rows
                    # up by index, and PostgreSQL's cached plan for a table it believes
                    # empty would scan it for each of the 100,000 rows loaded.
                    await session.execute(text(f"ANALYZE {model.__tablename__}"))
        await session.commit()
        # Statistics of the bulk load, as autovacuum (or a nightly ANALYZE) would have them
        # for a read model that grew to this size.
        await session.execute(text("ANALYZE"))
        await session.commit()


async def arrive(sessions: Any, org_id: str, n: int) -> None:
    """A new RMA on the last seeded day (the busiest rollups have), written as the
    projection writes one."""
    created = START + timedelta(minutes=5 * n)
    case_id = f"B-{n:08d}"
    async with sessions() as session:
        await session.execute(
            insert(models.Case).values(
                id=case_id,
                org_id=org_id,
                case_type="rma",
                workflow_id=f"wf-{case_id}",
                status="requested",
                tracking_token=f"t{n:063d}",
                coverage="warranty",
                created_at=created,
                updated_at=created,
            )
        )
        await session.execute(
            insert(models.CaseItem).values(
                case_id=case_id,
                sku=f"SKU-{n % SKUS:03d}",
                serial=f"SN-{n:08d}",
                quantity=1,
                reason=REASONS[n % len(REASONS)],
                unit_price=Decimal("99.00"),
            )
        )
        await session.commit()


async def baseline_ms(sessions: Any, org_id: str) -> float:
    """The plain count per sku of the retailer's cases."""
    statement = (
        select(models.CaseItem.sku, func.count())
        .join(models.Case, models.Case.id == models.CaseItem.case_id)
        .where(models.Case.org_id == org_id)
        .group_by(models.CaseItem.sku)
    )
    async with sessions() as session:
        started = time.perf_counter()
        rows = (await session.execute(statement)).all()
        elapsed = time.perf_counter() - started
    assert len(rows) == SKUS
    return elapsed * 1000


async def main(cases: int, rounds: int, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{tmp}/insights-bench.db"
        await asyncio.to_thread(migrate, url, SECRETS_KEY)
        settings = settings_for(url, tmp)
        configure_logging(settings)  # warnings only: a line per request would bury the figures
        app = create_app(settings)
        timed = Timed(app)
        async with app.router.lifespan_context(app):
            sessions = app.state.resources.sessions
            transport = httpx.ASGITransport(app=timed)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://insights.bench", timeout=120
            ) as http:
                org_id, key, centers = await organisations(http)
                started = time.perf_counter()
                await seed(sessions, org_id, centers, cases)
                print(f"seeded {cases} cases in {time.perf_counter() - started:.1f} s")
                api = {"Authorization": f"Bearer {key}"}
                pages: dict[str, dict[str, Any]] = {
                    "by sku": {"params": {"group_by": "sku"}},
                    "by category": {"params": {"group_by": "category"}},
                    "by center": {"params": {"group_by": "center"}},
                    "one year": {
                        "params": {"from": "2025-03-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
                    },
                    "fault codes": {"url": "/v1/insights/fault-codes"},
                    "by sku, csv": {"params": {"format": "csv"}},
                }
                times: dict[str, list[float]] = {name: [] for name in pages}
                times["baseline"] = []
                arrivals = 0
                started = time.perf_counter()
                first = await http.get("/v1/insights/products", headers=api)
                assert first.status_code == 200, first.text[:300]
                print(
                    f"first read (every day's rollups built): {time.perf_counter() - started:.1f} s"
                )
                for name, page in pages.items():  # warm, and checked
                    answer = await http.get(
                        page.get("url", "/v1/insights/products"),
                        params=page.get("params"),
                        headers=api,
                    )
                    assert answer.status_code == 200, (name, answer.text[:300])
                await baseline_ms(sessions, org_id)
                for _ in range(rounds):
                    times["baseline"].append(await baseline_ms(sessions, org_id))
                    for name, page in pages.items():
                        # A case opened just before each answer: each answer first brings
                        # that day's rollups up to date, as for a retailer whose cases keep
                        # coming.
                        arrivals += 1
                        await arrive(sessions, org_id, cases + arrivals)
                        await http.get(
                            page.get("url", "/v1/insights/products"),
                            params=page.get("params"),
                            headers=api,
                        )
                        times[name].append(timed.last * 1000)
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"{backend}, {cases} cases, {rounds} rounds, server time (median, max):")
    for name, values in times.items():
        print(f"  {name:12} {medians[name]:8.2f} ms  {max(values):8.2f} ms")
    slowest = max(value for name, value in medians.items() if name != "baseline")
    target = medians["baseline"] / BOUND_MS
    print(f"slowest insight: {slowest:.2f} ms (bound {BOUND_MS:.0f} ms)")
    print(f"insights ratio: {medians['baseline'] / slowest:.3f} (target >= {target:.3f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.cases, arguments.rounds, arguments.database_url))
