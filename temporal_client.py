"""The one way every process connects to Temporal: same address, namespace and converter."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter

from domain.delivery import (
    DELIVERY_QUEUE_WORKFLOW,
    ENQUEUE_SIGNAL,
    DeliveryQueueStart,
    QueuedDelivery,
)
from settings import Settings

# One cache of pydantic type adapters per process. The workflow sandbox builds a new payload
# converter for every workflow run, so the converter's own cache started empty each time and
# rebuilding the adapter of a workflow's input took a fifth of the worker's CPU
# (bench/start_rate.py, py-spy). Workflow message types are imported once per process (see
# worker.py), so they are stable keys.
_shared_type_adapters: functools._lru_cache_wrapper[TypeAdapter[Any]] = functools.lru_cache(
    maxsize=1024
)(TypeAdapter)


class PayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON (Decimal, datetime, timedelta, dataclasses) with a process-wide cache."""

    def __init__(self) -> None:
        super().__init__()
        for converter in self.converters.values():
            if isinstance(converter, PydanticJSONPlainPayloadConverter):
                converter._type_adapter = _shared_type_adapters


data_converter = DataConverter(payload_converter_class=PayloadConverter)


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
    )


async def enqueue_delivery(
    client: Client, task_queue: str, queue_id: str, start: DeliveryQueueStart, item: QueuedDelivery
) -> None:
    """Hand one delivery to its queue workflow, starting the queue if none runs (the worker
    hands over new outbox rows, the API redeliveries)."""
    await client.start_workflow(
        DELIVERY_QUEUE_WORKFLOW,
        start,
        id=queue_id,
        task_queue=task_queue,
        start_signal=ENQUEUE_SIGNAL,
        start_signal_args=[item],
    )
