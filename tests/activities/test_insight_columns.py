"""A repair's projection fills insight's typed columns from what the workflow writes (its
facts' SLA clock and diagnosis, its timeline), through the store activity on a migrated
read model: received and shipped are the first such moments however often a projection is
retried or repeated, a breach stays, and other lifecycles are left alone. Migration 0020
fills them in for repairs recorded before it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from db import models
from db.session import sync_url
from domain.contracts.facts import DiagnosisFacts, RepairFacts, SlaFacts
from domain.contracts.store import CaseProjection, NewCase, TimelineEntry
from tests.support import ReadModel, migrated_read_model
from tests.test_migrations import _config

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def read_model(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReadModel]:
    async with migrated_read_model(
        tmp_path_factory.mktemp("insight-columns"), "Insight Retailer"
    ) as model:
        yield model


def new_case(read_model: ReadModel, case_type: str) -> NewCase:
    return read_model.new_case(case_type, "awaiting_unit", at=AT)


def step(
    case: NewCase, seq: int, status: str, event: str, facts: RepairFacts | None = None
) -> CaseProjection:
    at = AT + timedelta(hours=seq)
    return CaseProjection(
        case.case_id,
        status,
        at,
        timeline=[TimelineEntry(seq, at, status, event, "system")],
        data={} if facts is None else facts.to_data(),
    )


async def columns(read_model: ReadModel, case_id: str) -> tuple[object, ...]:
    c = models.Case
    async with read_model.sessions() as session:
        row = (
            await session.execute(
                select(c.received_at, c.shipped_at, c.fault_code, c.sla_breached).where(
                    c.id == case_id
                )
            )
        ).one()
    return tuple(row)


async def test_a_repairs_projection_fills_the_insight_columns(read_model: ReadModel) -> None:
    case = new_case(read_model, "repair")
    await read_model.store.record_case(case)
    assert await columns(read_model, case.case_id) == (None, None, None, False)

    received = AT + timedelta(hours=2)
    clock = SlaFacts(received_at=received, turnaround_seconds=72 * 3600)
    for _ in range(2):  # a retried activity
        await read_model.store.project(
            step(case, 2, "received", "received", RepairFacts(sla=clock))
        )
    diagnosis = DiagnosisFacts("E42", "pump seized", 30, True)
    await read_model.store.project(
        step(case, 3, "diagnosing", "diagnosed", RepairFacts(sla=clock, diagnosis=diagnosis))
    )
    late = SlaFacts(received_at=received, turnaround_seconds=72 * 3600, breached=True)
    await read_model.store.project(
        step(case, 4, "repairing", "sla_breached", RepairFacts(sla=late, diagnosis=diagnosis))
    )
    assert await columns(read_model, case.case_id) == (received, None, "E42", True)

    await read_model.store.project(step(case, 5, "shipped", "picked_up"))
    # A later scan in `shipped` is not the moment it was shipped; the breach stays.
    await read_model.store.project(
        step(case, 6, "shipped", "in_transit", RepairFacts(sla=clock, diagnosis=diagnosis))
    )
    assert await columns(read_model, case.case_id) == (
        received,
        AT + timedelta(hours=5),
        "E42",
        True,
    )


async def test_other_lifecycles_leave_the_columns_alone(read_model: ReadModel) -> None:
    case = new_case(read_model, "rma")
    await read_model.store.record_case(case)
    await read_model.store.project(step(case, 2, "received", "received"))
    await read_model.store.project(step(case, 3, "shipped", "shipped"))
    assert await columns(read_model, case.case_id) == (None, None, None, False)


def test_0020_fills_in_the_repairs_recorded_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.db"
    config = _config(url)
    command.upgrade(config, "0019")
    engine = create_engine(sync_url(url))
    data = {
        "diagnosis": {"fault_code": "E7", "findings": "", "labor_minutes": 5},
        "sla": {"received_at": "2026-01-02T08:00:00+00:00", "breached": False},
    }
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO organisations (id, name, kind, slug, created_at) "
                "VALUES ('org1', 'Shop', 'retailer', 'shop', '2026-01-01 00:00:00')"
            )
        )
        for case_id, case_type, facts in (
            ("REP-1", "repair", data),
            ("REP-2", "repair", {}),
            ("RMA-1", "rma", data),
        ):
            conn.execute(
                text(
                    "INSERT INTO cases (id, org_id, case_type, workflow_id, status, "
                    "tracking_token, order_ref, currency, links, data, created_at, updated_at) "
                    "VALUES (:id, 'org1', :type, :id, 'completed', :id, '', 'USD', '{}', :data, "
                    "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": case_id, "type": case_type, "data": json.dumps(facts)},
            )
        for seq, (case_id, status, event, at) in enumerate(
            (
                ("REP-1", "shipped", "picked_up", "2026-01-03 10:00:00"),
                ("REP-1", "shipped", "in_transit", "2026-01-03 12:00:00"),
                ("REP-2", "received", "received", "2026-01-04 09:00:00"),
                ("REP-2", "repairing", "sla_breached", "2026-01-09 09:00:00"),
                ("RMA-1", "shipped", "picked_up", "2026-01-03 10:00:00"),
            ),
            1,
        ):
            conn.execute(
                text(
                    "INSERT INTO timeline_events (case_id, seq, at, status, event, actor, "
                    "detail) VALUES (:c, :s, :at, :status, :event, 'system', '{}')"
                ),
                {"c": case_id, "s": seq, "at": at, "status": status, "event": event},
            )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, received_at, shipped_at, fault_code, sla_breached FROM cases "
                "ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [(r[0], str(r[1])[:19], str(r[2])[:19], r[3], bool(r[4])) for r in rows] == [
        ("REP-1", "2026-01-02 08:00:00", "2026-01-03 10:00:00", "E7", False),
        ("REP-2", "2026-01-04 09:00:00", "None", None, True),
        ("RMA-1", "None", "None", None, False),
    ]
