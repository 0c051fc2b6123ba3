"""The worker's sandbox answers a run's serialization context without its exec detour, and
answers what the SDK's own sandbox answers."""

from __future__ import annotations

import dataclasses
import time

import temporalio.converter
from temporalio.api.common.v1.message_pb2 import Payloads
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1.message_pb2 import Failure
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox._runner import _fake_info
from temporalio.workflow import _Definition

from worker import _ContextAsked, sandboxed_runner
from workflows.repair import RepairWorkflow


def _run() -> WorkflowInstance:
    converter = temporalio.converter.DataConverter.default
    info = dataclasses.replace(_fake_info, namespace="default", workflow_id="repair-1")
    return sandboxed_runner().create_instance(
        WorkflowInstanceDetails(
            payload_converter_factory=converter._new_payload_converter,
            failure_converter_class=converter.failure_converter_class,
            interceptor_classes=[],
            defn=_Definition.must_from_class(RepairWorkflow),
            info=info,
            randomness_seed=1,
            extern_functions={},
            disable_eager_activity_execution=False,
            worker_level_failure_exception_types=[],
            patch_activation_callback=None,
            last_completion_result=Payloads(),
            last_failure=Failure(),
        )
    )


async def test_the_context_is_the_sandboxes_answer_without_its_exec() -> None:
    run = _run()
    assert isinstance(run, _ContextAsked)
    sandboxed = run._sandboxed
    unknown_activity = CommandInfo(CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, 7)
    for command in (None, unknown_activity):
        assert run.get_serialization_context(command) == sandboxed.get_serialization_context(
            command
        )
    assert run.get_serialization_context(None) == temporalio.converter.WorkflowSerializationContext(
        namespace="default", workflow_id="repair-1"
    )
    assert run.get_info() is sandboxed.get_info()

    def cost(ask: WorkflowInstance) -> float:
        started = time.process_time()
        for _ in range(2000):
            ask.get_serialization_context(None)
        return time.process_time() - started

    # The point of it: the sandbox compiles and runs a snippet per question (~60 us here).
    assert cost(run) * 5 < cost(sandboxed)
