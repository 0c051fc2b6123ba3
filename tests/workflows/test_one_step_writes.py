"""The combined read-model steps (issue #14: one local activity where several ran in a row):
a case's claim and record in one transaction, a parcel's documents and their transition in
another. Each is retried as any local activity is, so a retry must store nothing twice and
answer what the first attempt stored; a refusal for bad data stores nothing at all."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.documents import DocumentActivities
from activities.store import StoreActivities
from db import models
from db.document_store import LocalDocumentStore
from db.outbox import OutboxConfig
from domain.common import INVALID_DATA, Address
from domain.contracts.documents import DocumentsAndProjection, LabelRequest
from domain.contracts.store import (
    CaseItemRecord,
    CaseProjection,
    ClaimingCase,
    IfHeld,
    NewCase,
    TimelineEntry,
)
from domain.documents import LabelData
from domain.ids import new_tracking_token, rma_workflow_id
from tests.workflows.kit import CUSTOMER, Harness, case_id, now, rma_start, serial, typed
from workflows.rma import RmaWorkflow

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADDRESS = Address(line1="1 Main St", city="Springfield", postal_code="12345", country="US")


def claiming(h: Harness, unit: str) -> ClaimingCase:
    case = case_id("RMA")
    entry = TimelineEntry(1, AT, "awaiting_return", "authorized", "system")
    new = NewCase(
        case_id=case,
        org_id=h.org_id,
        case_type="rma",
        workflow_id=f"wf-{case}",
        status="awaiting_return",
        tracking_token=new_tracking_token(),
        customer=CUSTOMER,
        created_at=AT,
        currency="USD",
        coverage="return_window",
        items=[CaseItemRecord("SKU-1", unit, 1, Decimal("10.00"))],
        timeline=[entry],
    )
    refusal = dataclasses.replace(
        entry, status="rejected", event="rejected", detail={"reason": "duplicate_open_case"}
    )
    return ClaimingCase(new, [unit], IfHeld("rejected", "duplicate_open_case", None, refusal))


async def claims_of(h: Harness, case: str) -> list[str]:
    async with h.sessions() as session:
        rows = await session.scalars(
            select(models.OpenSerial.serial).where(models.OpenSerial.case_id == case)
        )
        return list(rows)


async def stored_case(h: Harness, case: str) -> tuple[str, str | None, str | None, list[str]]:
    async with h.sessions() as session:
        row = await session.get(models.Case, case)
        assert row is not None
        events = await session.scalars(
            select(models.TimelineEvent.event)
            .where(models.TimelineEvent.case_id == case)
            .order_by(models.TimelineEvent.seq)
        )
        return row.status, row.reason, row.coverage, list(events)


async def test_a_claiming_case_is_stored_with_its_claim_once_however_often_retried(
    harness: Harness,
) -> None:
    store = StoreActivities(harness.sessions, OutboxConfig("http://x", send_email=False))
    unit = serial()
    first = claiming(harness, unit)
    answers = [await store.record_claiming(first) for _ in range(2)]
    assert [a.held_by for a in answers] == [None, None]
    assert await claims_of(harness, first.new.case_id) == [unit]
    stored = await stored_case(harness, first.new.case_id)
    assert stored == ("awaiting_return", None, "return_window", ["authorized"])

    # A second case for the same unit is stored refused, claiming nothing; its retry says so.
    second = claiming(harness, unit)
    answers = [await store.record_claiming(second) for _ in range(2)]
    assert [a.held_by for a in answers] == [first.new.case_id] * 2
    assert await claims_of(harness, second.new.case_id) == []
    stored = await stored_case(harness, second.new.case_id)
    assert stored == ("rejected", "duplicate_open_case", None, ["rejected"])


async def test_a_case_is_stored_once_however_often_recorded(harness: Harness) -> None:
    """`record_case` writes at once and looks only when that fails: its retry after the
    commit leaves one case, one customer record and its first entries once."""
    store = StoreActivities(harness.sessions, OutboxConfig("http://x", send_email=False))
    new = claiming(harness, serial()).new
    for _ in range(3):
        await store.record_case(new)
    assert await stored_case(harness, new.case_id) == (
        "awaiting_return",
        None,
        "return_window",
        ["authorized"],
    )
    async with harness.sessions() as session:
        customers = await session.scalar(
            select(func.count())
            .select_from(models.CustomerRecord)
            .join(models.Case, models.Case.customer_id == models.CustomerRecord.id, isouter=True)
            .where(models.CustomerRecord.org_id == new.org_id, models.Case.id.is_(None))
        )
    assert customers == 0, "a retry left a customer record of no case behind"


async def test_an_rma_whose_data_is_refused_stores_nothing_and_claims_nothing(
    harness: Harness,
) -> None:
    # An organisation the read model does not know: the claim and the case break a foreign
    # key, and retrying cannot help.
    start = dataclasses.replace(rma_start(harness, now=await now(harness)), org_id="no-such-org")
    handle = await harness.env.client.start_workflow(
        RmaWorkflow.run,
        start,
        id=rma_workflow_id(start.rma_id),
        task_queue=harness.settings.task_queue,
    )
    try:
        await asyncio.wait_for(handle.execute_update(typed(RmaWorkflow.authorize)), timeout=30)
    except WorkflowUpdateFailedError as refused:
        assert isinstance(refused.cause, ApplicationError)
        assert refused.cause.type == INVALID_DATA
    else:
        raise AssertionError("the create call answered although nothing was stored")
    assert await claims_of(harness, start.rma_id) == []
    async with harness.sessions() as session:
        assert await session.get(models.Case, start.rma_id) is None


@dataclasses.dataclass
class LabelStep:
    """A recorded case's label step: the activities, the case, and the request with its key."""

    documents: DocumentActivities
    case_id: str
    key: str
    request: DocumentsAndProjection


async def label_step(harness: Harness, tracking_number: str) -> LabelStep:
    store = StoreActivities(harness.sessions, OutboxConfig("http://x", send_email=False))
    documents = DocumentActivities(
        harness.sessions, LocalDocumentStore(harness.settings.document_dir), store
    )
    case = claiming(harness, serial()).new
    await store.record_case(case)
    label = LabelData(
        carrier="c",
        service="s",
        tracking_number=tracking_number,
        case_number=case.case_id,
        from_address=ADDRESS,
        to_address=ADDRESS,
        tracking_url="http://x/track/t",
    )
    key = f"{case.case_id}/{uuid.uuid4().hex}/label"
    request = DocumentsAndProjection(
        labels=[LabelRequest(key, case.org_id, case.case_id, label)],
        slips=[],
        projection=CaseProjection(
            case.case_id,
            "awaiting_return",
            AT,
            timeline=[TimelineEntry(2, AT, "awaiting_return", "label_created", "system")],
        ),
    )
    return LabelStep(documents, case.case_id, key, request)


async def stored_once(harness: Harness, step: LabelStep) -> None:
    """The label is stored once, and the transition it came with once."""
    async with harness.sessions() as session:
        count = await session.scalar(
            select(func.count()).where(models.Document.idempotency_key == step.key)
        )
        assert count == 1
    assert (await stored_case(harness, step.case_id))[3] == ["authorized", "label_created"]


async def test_documents_and_their_transition_are_stored_once_however_often_retried(
    harness: Harness,
) -> None:
    step = await label_step(harness, "1Z999")
    answers = [await step.documents.render_and_project(step.request) for _ in range(2)]
    assert answers[0] == answers[1]
    [ref] = answers[0]
    assert ref.kind == "return_label"
    await stored_once(harness, step)


async def test_two_attempts_at_once_store_each_document_once_and_answer_alike(
    harness: Harness,
) -> None:
    """An attempt that outlives its timeout runs beside its retry: however their reads,
    renders and writes interleave, the label is stored once and both answer it."""
    step = await label_step(harness, "1Z998")
    first, second = await asyncio.gather(
        step.documents.render_and_project(step.request),
        step.documents.render_and_project(step.request),
    )
    assert first == second
    await stored_once(harness, step)
