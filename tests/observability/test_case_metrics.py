"""Cases started and ended by type and outcome, and SLA breaches, are counted from what the
read model stores for the first time, once the transaction commits: a retried projection,
an entry in a case already closed and a transaction that rolled back count nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event
from sqlalchemy.orm import Session

from domain.contracts.store import CaseProjection, NewCase, TimelineEntry
from tests.support import ReadModel, migrated_read_model

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def read_model(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReadModel]:
    async with migrated_read_model(
        tmp_path_factory.mktemp("case-metrics"), "Metrics Retailer"
    ) as model:
        yield model


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def new_case(read_model: ReadModel, case_type: str, status: str = "created") -> NewCase:
    return read_model.new_case(case_type, status, at=AT, event=status)


def moved(case: NewCase, seq: int, status: str, event: str) -> CaseProjection:
    at = AT + timedelta(minutes=seq)
    return CaseProjection(
        case.case_id, status, at, timeline=[TimelineEntry(seq, at, status, event, "system")]
    )


async def test_a_case_is_started_once_and_ended_once_however_often_retried(
    read_model: ReadModel,
) -> None:
    started = counted("aftersales_cases_started_total", case_type="rma")
    ended = counted("aftersales_cases_ended_total", case_type="rma", outcome="cancelled")
    case = new_case(read_model, "rma", "awaiting_return")
    for _ in range(2):  # a retried activity
        await read_model.store.record_case(case)
    assert counted("aftersales_cases_started_total", case_type="rma") == started + 1

    await read_model.store.project(moved(case, 2, "in_transit", "picked_up"))
    assert counted("aftersales_cases_ended_total", case_type="rma", outcome="cancelled") == ended
    for _ in range(2):
        await read_model.store.project(moved(case, 3, "cancelled", "cancelled"))
    assert (
        counted("aftersales_cases_ended_total", case_type="rma", outcome="cancelled") == ended + 1
    )
    # A later entry of a closed case (a refund recorded after) does not end it again.
    await read_model.store.project(moved(case, 4, "cancelled", "refund_issued"))
    assert (
        counted("aftersales_cases_ended_total", case_type="rma", outcome="cancelled") == ended + 1
    )


async def test_a_case_recorded_closed_is_started_and_ended(read_model: ReadModel) -> None:
    started = counted("aftersales_cases_started_total", case_type="rma")
    ended = counted("aftersales_cases_ended_total", case_type="rma", outcome="rejected")
    await read_model.store.record_case(new_case(read_model, "rma", "rejected"))
    assert counted("aftersales_cases_started_total", case_type="rma") == started + 1
    assert counted("aftersales_cases_ended_total", case_type="rma", outcome="rejected") == ended + 1


async def test_an_sla_breach_is_counted_once(read_model: ReadModel) -> None:
    breaches = counted("aftersales_sla_breaches_total", case_type="repair")
    case = new_case(read_model, "repair", "in_repair")
    await read_model.store.record_case(case)
    for _ in range(2):
        await read_model.store.project(moved(case, 2, "in_repair", "sla_breached"))
    assert counted("aftersales_sla_breaches_total", case_type="repair") == breaches + 1


async def test_a_transaction_that_rolled_back_counts_nothing(read_model: ReadModel) -> None:
    started = counted("aftersales_cases_started_total", case_type="relocation")
    case = new_case(read_model, "relocation")

    def lost_at_commit(session: Session) -> None:
        raise ConnectionError("the database went away at commit")

    # Everything is written and noted, then the commit fails: the activity is retried.
    event.listen(Session, "before_commit", lost_at_commit)
    try:
        with pytest.raises(ConnectionError):
            await read_model.store.record_case(case)
    finally:
        event.remove(Session, "before_commit", lost_at_commit)
    assert counted("aftersales_cases_started_total", case_type="relocation") == started
    await read_model.store.record_case(case)
    assert counted("aftersales_cases_started_total", case_type="relocation") == started + 1
