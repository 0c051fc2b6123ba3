"""Insight's per-day rollups stay exact as the read model changes under them: each change a
projection or the API makes (a repair shipped, its unit back, a rating, an order edited, a
product moved to another category, a deflection, an SLA breach) shows in the next answer; a
period's partial first and last days count to the moment; status changes alone leave the
rollups as they are; two readers refreshing at once agree. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from db import models
from db.insights import refresh_rollups
from db.session import make_engine, make_sessionmaker
from tests.api.helpers import Org, add_product, make_org
from tests.api.insight_rows import Writer, at, write
from tests.support import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def figures(stack: Stack, org: Org, **params: str) -> dict[str, dict[str, Any]]:
    async with stack.http(org.key) as http:
        answer = await http.get("/v1/insights/products", params=params)
    assert answer.status_code == 200, answer.text
    return {item.pop("key"): item for item in answer.json()["items"]}


async def change(stack: Stack, *statements: Any) -> None:
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            for statement in statements:
                await session.execute(statement)
    finally:
        await engine.dispose()


async def stale_days(stack: Stack, org: Org) -> list[str]:
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            stale = models.InsightStaleDay
            days = await session.scalars(select(stale.day).where(stale.org_id == org.id))
            return sorted(str(day) for day in days)
    finally:
        await engine.dispose()


async def test_every_change_shows_in_the_next_answer(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    a = (await add_product(stack, retailer, category="audio"))["sku"]
    b = (await add_product(stack, retailer, category="audio"))["sku"]
    w = Writer(retailer.id)
    w.order("2026-02-01T09:00:00", [(a, 4)])
    r1 = w.case(
        "repair", "2026-02-01T00:00:00", [(a, "u1", "repair")],
        received_at=at("2026-02-02T00:00:00"),
    )  # fmt: skip
    w.case("rma", "2026-02-03T00:00:00", [(b, "b1", "defective")])
    await write(stack.settings.database_url, w)

    before = await figures(stack, retailer)
    assert before[a]["sold"] == 4
    assert before[a]["repairs"] == 1
    assert before[a]["first_time_fix_rate"] is None
    assert before[a]["turnaround_p50_hours"] is None
    assert before[b]["reasons"] == {"defective": 1}
    assert await stale_days(stack, retailer) == []

    # The repair is shipped back twelve hours after it arrived.
    cases = models.Case
    await change(
        stack, update(cases).where(cases.id == r1).values(shipped_at=at("2026-02-02T12:00:00"))
    )
    assert await stale_days(stack, retailer) == ["2026-02-01"]
    shipped = (await figures(stack, retailer))[a]
    assert shipped["first_time_fix_rate"] == 1.0
    assert shipped["turnaround_p50_hours"] == shipped["turnaround_p90_hours"] == 12.0

    # Its unit comes back within 90 days; it is rated; the order now holds six.
    again = Writer(retailer.id)
    r2 = again.case("repair", "2026-03-01T00:00:00", [(a, "u1", "repair")])
    again.feedback(r1, "repair", 4)
    await write(stack.settings.database_url, again)
    line = models.OrderLine
    await change(
        stack,
        update(line).where(line.org_id == retailer.id, line.sku == a).values(quantity=6),
    )
    back = (await figures(stack, retailer))[a]
    assert back["repairs"] == 2
    assert back["first_time_fix_rate"] == 0.0
    assert back["csat_avg"] == 4.0
    assert back["feedback_count"] == 1
    assert back["sold"] == 6
    assert back["return_rate"] == 0.0  # repairs are not returns

    # B moves to video; A's return is deflected once; the second repair breaches its SLA.
    product = models.Product
    deflected = Writer(retailer.id)
    deflected.deflection(a, "2026-03-02T00:00:00")
    await write(stack.settings.database_url, deflected)
    await change(
        stack,
        update(product)
        .where(product.org_id == retailer.id, product.sku == b)
        .values(category="video"),
        update(cases).where(cases.id == r2).values(sla_breached=True),
    )
    by_category = await figures(stack, retailer, group_by="category")
    assert set(by_category) == {"audio", "video"}
    assert by_category["video"]["rmas"] == 1
    assert by_category["video"]["reasons"] == {"defective": 1}
    assert by_category["audio"]["rmas"] == 0
    assert by_category["audio"]["deflected"] == 1
    assert by_category["audio"]["sla_breaches"] == 1
    assert (await figures(stack, retailer))[a]["sla_breaches"] == 1


async def test_a_status_change_alone_leaves_the_rollups_alone(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    w = Writer(retailer.id)
    case_id = w.case("rma", "2026-02-01T10:00:00", [(sku, "s1", "defective")])
    await write(stack.settings.database_url, w)
    assert await stale_days(stack, retailer) == ["2026-02-01"]
    await figures(stack, retailer)
    cases = models.Case
    await change(
        stack, update(cases).where(cases.id == case_id).values(status="received", data={"x": 1})
    )
    assert await stale_days(stack, retailer) == []


async def test_a_periods_partial_days_count_to_the_moment(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    w = Writer(retailer.id)
    for opened in ("2026-02-01T06:00:00", "2026-02-03T07:00:00"):  # outside
        w.case("rma", opened, [(sku, f"o-{opened}", "damaged")])
    w.case("rma", "2026-02-03T05:59:59", [(sku, "late", "defective")])
    # A partial first day (read live) and a whole day (from the rollups) in one percentile.
    w.case(
        "repair", "2026-02-01T18:00:00", [(sku, "r1", "repair")],
        received_at=at("2026-02-02T00:00:00"), shipped_at=at("2026-02-02T10:00:00"),
    )  # fmt: skip
    for n, shipped in enumerate(("2026-02-04T06:00:00", "2026-02-04T16:00:00")):  # 30 h, 40 h
        w.case(
            "repair", "2026-02-02T12:00:00", [(sku, f"r{n + 2}", "repair")],
            received_at=at("2026-02-03T00:00:00"), shipped_at=at(shipped),
        )  # fmt: skip
    await write(stack.settings.database_url, w)

    rows = await figures(
        stack, retailer, **{"from": "2026-02-01T14:00:00+02:00", "to": "2026-02-03T06:00:00Z"}
    )
    assert rows[sku]["rmas"] == 1
    assert rows[sku]["reasons"] == {"defective": 1}
    assert rows[sku]["repairs"] == 3
    assert rows[sku]["turnaround_p50_hours"] == 30.0
    assert rows[sku]["turnaround_p90_hours"] == 40.0
    # Within one day: live rows only.
    same_day = await figures(
        stack, retailer, **{"from": "2026-02-01T17:00:00Z", "to": "2026-02-01T19:00:00Z"}
    )
    assert same_day[sku]["repairs"] == 1
    assert same_day[sku]["turnaround_p50_hours"] == 10.0
    assert same_day[sku]["rmas"] == 0
    # Whole days only, then all time.
    whole = await figures(
        stack, retailer, **{"from": "2026-02-02T00:00:00Z", "to": "2026-02-03T00:00:00Z"}
    )
    assert whole[sku]["repairs"] == 2
    assert whole[sku]["turnaround_p50_hours"] == 30.0
    assert (await figures(stack, retailer))[sku]["rmas"] == 3


async def test_two_readers_refreshing_at_once_agree(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    w = Writer(retailer.id)
    for day in range(1, 29):
        w.case("rma", f"2026-02-{day:02d}T12:00:00", [(sku, f"s{day}", "defective")])
    await write(stack.settings.database_url, w)
    engine = make_engine(stack.settings.database_url)
    try:
        sessions = make_sessionmaker(engine)

        async def refresh() -> int:
            async with sessions() as session:
                return await refresh_rollups(session, retailer.id)

        done = await asyncio.gather(refresh(), refresh())
    finally:
        await engine.dispose()
    # One of them recomputed the 28 days; the other found nothing left (or waited for it).
    assert sorted(done) == [0, 28]
    assert (await figures(stack, retailer))[sku]["rmas"] == 28


async def test_the_cli_recomputes_every_stale_day(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    w = Writer(retailer.id)
    for day in (3, 9):
        w.case("rma", f"2026-04-{day:02d}T08:00:00", [(sku, f"s{day}", "damaged")])
    await write(stack.settings.database_url, w)
    assert await stale_days(stack, retailer) == ["2026-04-03", "2026-04-09"]
    env = {
        **os.environ,
        "AFTERSALES_DATABASE_URL": stack.settings.database_url,
        "AFTERSALES_ENV": "development",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cli", "insights", "refresh"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "recomputed" in done.stdout
    assert await stale_days(stack, retailer) == []
    engine = make_engine(stack.settings.database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            rollup = models.InsightDay
            stored = await session.execute(
                select(rollup.day, rollup.rmas).where(
                    rollup.org_id == retailer.id, rollup.group_by == "sku", rollup.key == sku
                )
            )
            assert sorted((str(d), n) for d, n in stored) == [
                ("2026-04-03", 1),
                ("2026-04-09", 1),
            ]
    finally:
        await engine.dispose()


async def test_a_backlog_longer_than_one_run_is_refreshed_by_one_read(stack: Stack) -> None:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    w = Writer(retailer.id)
    first = at("2025-01-01T09:00:00")
    days = 150  # more than two runs of days (each committed on its own)
    for n in range(days):
        opened = (first + timedelta(days=n)).isoformat(timespec="seconds").removesuffix("+00:00")
        w.case("rma", opened, [(sku, f"s{n}", "defective")])
    await write(stack.settings.database_url, w)
    assert len(await stale_days(stack, retailer)) == days
    assert (await figures(stack, retailer))[sku]["rmas"] == days
    assert await stale_days(stack, retailer) == []
