"""A case started on this code generation (the start memo the API and parent cases give)
records no patch marker, and no search-attribute upsert beside one: each is an event the
server stores and a visibility write. Its history replays, as does one whose markers a
worker of the generation before wrote; a case started before the memo still marks where it
took each change."""

from __future__ import annotations

from pathlib import Path

from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from domain.common import CODE_GENERATION_MEMO, start_memo
from temporal_client import make_data_converter
from tests.support import PAYLOAD_KEY, replayer
from tests.workflows.kit import Harness, refunded_rma
from workflows import patches
from workflows.patches import BATCHED_STEPS_PATCH, OPEN_SERIAL_PATCH

PATCH_MARKER = "core_patch"


def _patches_marked(history: WorkflowHistory) -> list[str]:
    converter = make_data_converter(PAYLOAD_KEY).payload_converter
    marked = []
    for event in history.events:
        if not event.HasField("marker_recorded_event_attributes"):
            continue
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == PATCH_MARKER:
            (detail,) = marker.details["patch-data"].payloads
            marked.append(converter.from_payload(detail)["id"])
    return marked


def _upserts(history: WorkflowHistory) -> list[HistoryEvent]:
    return [
        e
        for e in history.events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]


async def test_a_case_of_this_generation_marks_no_patch_and_replays(harness: Harness) -> None:
    history = await refunded_rma(harness, start_memo())
    assert _patches_marked(history) == []
    assert _upserts(history) == []
    await replayer().replay_workflow(history)


async def test_a_case_started_before_the_memo_marks_its_patches(harness: Harness) -> None:
    history = await refunded_rma(harness, None)
    marked = _patches_marked(history)
    assert {OPEN_SERIAL_PATCH, BATCHED_STEPS_PATCH} <= set(marked)
    assert len(_upserts(history)) == len(marked)
    await replayer().replay_workflow(history)


async def test_markers_a_worker_of_the_generation_before_wrote_replay(
    harness: Harness,
) -> None:
    """The API deployed first starts a case on this generation; a worker not yet updated
    runs it and marks each change it takes. The updated worker replays that history."""
    recorded = await refunded_rma(harness, None)
    assert _patches_marked(recorded)
    events = list(recorded.events)
    started = events[0].workflow_execution_started_event_attributes
    (generation,) = make_data_converter(PAYLOAD_KEY).payload_converter.to_payloads(
        [start_memo()[CODE_GENERATION_MEMO]]
    )
    started.memo.fields[CODE_GENERATION_MEMO].CopyFrom(generation)
    await replayer().replay_workflow(WorkflowHistory(recorded.workflow_id, events))


def test_every_patch_is_asked_through_the_one_gate() -> None:
    """A `workflow.patched` call of its own would mark its change in every case, settled
    or not, and its id could be missing from `SETTLED`."""
    workflows = Path(__file__).parents[2] / "workflows"
    asking = [
        path.name
        for path in sorted(workflows.glob("*.py"))
        if path.name != "patches.py" and "workflow.patched(" in path.read_text()
    ]
    assert asking == []
    patch_ids = {
        value
        for name, value in vars(patches).items()
        if name.endswith("_PATCH") and isinstance(value, str)
    }
    assert patch_ids == patches.SETTLED[1]
