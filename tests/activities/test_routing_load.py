"""Routing a repair weighs each candidate center by its open jobs, counted from the read
model: jobs a center has closed do not count, and the count is an index seek per center and
open status, so routing costs the same with 40,000 repairs recorded as with 40 (it read
every repair case ever before migration 0024)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from db import models
from db.repair_centers import _OPEN_JOBS, open_jobs, route_job
from tests.support import ReadModel, migrated_read_model

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def read_model(tmp_path: Path) -> AsyncIterator[ReadModel]:
    async with migrated_read_model(tmp_path, "Shop") as model:
        yield model


async def center(read_model: ReadModel, name: str, categories: list[str]) -> str:
    async with read_model.sessions.begin() as session:
        org = models.Organisation(name=name, kind="repair_center")
        session.add(org)
        await session.flush()
        session.add(
            models.RepairCenter(
                org_id=org.id,
                categories=categories,
                regions=["US"],
                daily_capacity=10,
                labor_rate=Decimal("60.00"),
                address={
                    "line1": "2 Bench Rd",
                    "city": "Town",
                    "postal_code": "1",
                    "country": "US",
                },
            )
        )
    return org.id


async def jobs(read_model: ReadModel, center_id: str, status: str, count: int) -> None:
    for _ in range(count):
        job = read_model.new_case("repair", status, at=AT, receiving_org_id=center_id)
        await read_model.store.record_case(job)


async def test_closed_jobs_do_not_weigh_on_a_center(read_model: ReadModel) -> None:
    busy_before = await center(read_model, "Once busy", ["audio"])
    busy_now = await center(read_model, "Busy now", ["audio"])
    elsewhere = await center(read_model, "Other trade", ["kitchen"])
    await jobs(read_model, busy_before, "completed", 3)
    await jobs(read_model, busy_before, "beyond_repair", 1)
    await jobs(read_model, busy_before, "repairing", 1)
    await jobs(read_model, busy_now, "awaiting_unit", 1)
    await jobs(read_model, busy_now, "shipped", 1)
    await jobs(read_model, elsewhere, "diagnosing", 5)
    async with read_model.sessions() as session:
        assert await open_jobs(session, busy_before) == 1
        assert await open_jobs(session, busy_now) == 2
        assert await open_jobs(session, elsewhere) == 5
        chosen = await route_job(session, "audio", "US", read_model.org_id)
    # One open job against two: the center whose four closed jobs are history gets it.
    assert chosen is not None and chosen.org_id == busy_before
    assert chosen.name == "Once busy"
    await jobs(read_model, busy_before, "received", 2)
    async with read_model.sessions() as session:
        chosen = await route_job(session, "audio", "US", read_model.org_id)
    assert chosen is not None and chosen.org_id == busy_now


async def test_open_jobs_are_counted_by_index_not_by_reading_every_case(
    read_model: ReadModel,
) -> None:
    async with read_model.sessions() as session:
        connection = await session.connection()
        statement = _OPEN_JOBS.params(centers=["a", "b"]).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}")
        details = [str(row[-1]) for row in plan]
    assert any("ix_cases_receiving_type_status" in line for line in details), details
    assert not any(line.startswith("SCAN cases") for line in details), details
