"""What a new case reads before it starts, each in one statement: the retailer's name with
its policy document (`name_and_policy`), and which of the units are already in an open case
or covered by an active plan (`serials_held`). Their rules are the ones the RMA's decision
and the return portal rely on: a closed case, a plan, another retailer's case and the case
itself do not hold a unit; only an active plan covers one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from db import models
from db.policies import name_and_policy
from db.queries import serials_held
from domain.contracts.store import CaseItemRecord
from tests.support import ReadModel, migrated_read_model

AT = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def read_model(tmp_path: Path) -> AsyncIterator[ReadModel]:
    async with migrated_read_model(tmp_path, "Shop") as model:
        yield model


async def case_of(
    read_model: ReadModel, case_type: str, status: str, serial: str, org_id: str = ""
) -> str:
    case = read_model.new_case(
        case_type,
        status,
        at=AT,
        items=[CaseItemRecord("SKU-1", serial, 1, Decimal("10.00"))],
    )
    if org_id:
        case.org_id = org_id
    await read_model.store.record_case(case)
    return case.case_id


async def test_the_units_held_by_open_cases_and_covered_by_active_plans(
    read_model: ReadModel,
) -> None:
    async with read_model.sessions.begin() as session:
        other = models.Organisation(name="Other shop", kind="retailer")
        session.add(other)
    await case_of(read_model, "rma", "awaiting_return", "OPEN-RMA")
    await case_of(read_model, "repair", "diagnosing", "OPEN-REPAIR")
    await case_of(read_model, "rma", "completed", "CLOSED")
    await case_of(read_model, "service_plan", "active", "PLANNED")
    await case_of(read_model, "service_plan", "waiting_period", "PLAN-WAITING")
    await case_of(read_model, "rma", "awaiting_return", "OTHER-SHOP", org_id=other.id)
    itself = await case_of(read_model, "rma", "pending_review", "ITSELF")
    asked = ["OPEN-RMA", "OPEN-REPAIR", "CLOSED", "PLANNED", "PLAN-WAITING", "OTHER-SHOP"]
    async with read_model.sessions() as session:
        in_open_cases, with_active_plans = await serials_held(
            session, read_model.org_id, [*asked, "ITSELF", "UNKNOWN"], itself
        )
        nothing = await serials_held(session, read_model.org_id, ["UNKNOWN"], "")
        own_case_counts = await serials_held(session, read_model.org_id, ["ITSELF"], "")
    assert in_open_cases == ["OPEN-REPAIR", "OPEN-RMA"]
    assert with_active_plans == ["PLANNED"]
    assert nothing == ([], [])
    assert own_case_counts == (["ITSELF"], [])


async def test_the_name_and_policy_a_case_copies(read_model: ReadModel) -> None:
    async with read_model.sessions() as session:
        assert await name_and_policy(session, read_model.org_id) == ("Shop", {})
        assert await name_and_policy(session, "no-such-org") is None
    document = {"currency": "EUR", "restocking_fee_percent": "10"}
    async with read_model.sessions.begin() as session:
        session.add(models.RetailerPolicy(org_id=read_model.org_id, document=document))
    async with read_model.sessions() as session:
        assert await name_and_policy(session, read_model.org_id) == ("Shop", document)
