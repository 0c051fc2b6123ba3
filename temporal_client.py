"""The one way every process connects to Temporal: same address, namespace and converter."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    PayloadCodec,
)

from domain.common import WORKFLOW_TASK_TIMEOUT, start_memo
from domain.delivery import (
    DELIVERY_QUEUE_WORKFLOW,
    ENQUEUE_MANY_SIGNAL,
    ENQUEUE_SIGNAL,
    DeliveryQueueStart,
    QueuedDeliveries,
    QueuedDelivery,
)
from observability.tracing import client_interceptors
from settings import Settings, parse_payload_keys
from temporal_connection import temporal_connection

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12

# One cache of pydantic type adapters per process. The workflow sandbox builds a new payload
# converter for every workflow run, so a converter's own cache started empty each time and
# rebuilding the adapter of a workflow's input took a fifth of the worker's CPU
# (bench/start_rate.py, py-spy). The types workflows exchange are passed through the sandbox
# (worker.PASSED_THROUGH), so they are the same objects in every run: stable keys.
adapter_for: functools._lru_cache_wrapper[TypeAdapter[Any]] = functools.lru_cache(maxsize=1024)(
    TypeAdapter
)


class SharedAdapterJSONConverter(PydanticJSONPlainPayloadConverter):
    """The SDK's pydantic `json/plain` converter, decoding through `adapter_for`."""

    def __init__(self) -> None:
        # Its own per-instance cache would be one more that starts empty in every run.
        super().__init__(max_cached_type_adapters=0)

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        hint: Any = type_hint if type_hint is not None else Any
        try:
            hash(hint)
        except TypeError:
            return TypeAdapter(hint).validate_json(payload.data)  # unhashable: not cacheable
        return adapter_for(hint).validate_json(payload.data)


class PayloadConverter(CompositePayloadConverter):
    """Pydantic JSON (Decimal, datetime, timedelta, dataclasses) with a process-wide adapter
    cache: the SDK's default converters, `json/plain` replaced, as `PydanticPayloadConverter`
    builds them."""

    def __init__(self) -> None:
        super().__init__(*_encoding_converters())


@functools.cache
def _encoding_converters() -> tuple[Any, ...]:
    # Built once per process and shared: none of them holds state, and the SDK makes a new
    # PayloadConverter for every serialization context (several per workflow task).
    json_converter = SharedAdapterJSONConverter()
    return tuple(
        json_converter if isinstance(converter, JSONPlainPayloadConverter) else converter
        for converter in DefaultPayloadConverter.default_encoding_payload_converters
    )


class PayloadKeyError(ValueError):
    """A payload this process cannot decrypt: its key is not configured, or it was altered."""


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each whole payload, its metadata included (the type and encoding of
    a value say something too). The Temporal server, its UI and `temporal workflow show` see
    only `binary/encrypted` and the key id.

    The first key encrypts, every key decrypts, so keys rotate without a stop: add the new
    key in front, and drop the old one once no open workflow holds a payload it wrote.
    Payloads without the encrypted encoding pass through, so histories written before the
    codec (and the recorded ones in tests/workflows/histories) still decode."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("EncryptionCodec needs at least one key")
        self._key_id = keys[0][0].encode()
        self._keys = {key_id.encode(): AESGCM(key) for key_id, key in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._keys[self._key_id]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            # The key id is authenticated data: a payload cannot be passed off under another.
            sealed = cipher.encrypt(nonce, payload.SerializeToString(), self._key_id)
            encoded.append(
                Payload(
                    metadata={"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA: self._key_id},
                    data=nonce + sealed,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
                decoded.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"")
            cipher = self._keys.get(key_id)
            if cipher is None:
                raise PayloadKeyError(
                    f"a payload is encrypted with key id {key_id.decode(errors='replace')!r}, "
                    "which AFTERSALES_PAYLOAD_KEY does not hold"
                )
            nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            try:
                plain = cipher.decrypt(nonce, sealed, key_id)
            except InvalidTag as exc:
                raise PayloadKeyError(
                    f"a payload under key id {key_id.decode(errors='replace')!r} does not "
                    "authenticate: altered, or encrypted with another key of that id"
                ) from exc
            decoded.append(Payload.FromString(plain))
        return decoded


def make_data_converter(payload_key: str) -> DataConverter:
    """The converter of every client, worker and replayer: pydantic JSON, encrypted with
    `payload_key` (the AFTERSALES_PAYLOAD_KEY format). Failure messages and stack traces are
    moved into an encrypted payload too, since they can quote a customer's data."""
    return DataConverter(
        payload_converter_class=PayloadConverter,
        payload_codec=EncryptionCodec(parse_payload_keys(payload_key)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


_log = logging.getLogger(__name__)

# How long a process waits for a Temporal that is still starting (or restarting) before it
# gives up: a frontend answers on its port some seconds before it reports itself healthy.
CONNECT_PATIENCE_SECONDS = 60.0


async def connect(settings: Settings, *, patience: float = CONNECT_PATIENCE_SECONDS) -> Client:
    """A client of the Temporal that `settings` and Temporal's env-config name (see
    temporal_connection.py), with our converter and codec. A server that is not up yet or
    not healthy yet is waited for, up to `patience` seconds, so a worker or API started
    beside Temporal (`aftersales dev`, compose, a pod restart) does not die of the race."""
    deadline = time.monotonic() + patience
    pause = 0.2
    while True:
        try:
            return await Client.connect(
                **temporal_connection(settings).connect_kwargs(),
                data_converter=make_data_converter(settings.required_payload_key),
                # Tracing's, when it is on (observability/tracing.py); a worker inherits them.
                interceptors=client_interceptors(),
            )
        except RuntimeError as exc:
            # The bridge reports every connection failure as a RuntimeError; only the
            # transient ones (nothing listening yet, "Frontend is not healthy yet") are
            # worth waiting out. A refused TLS handshake or an unknown namespace is not.
            if not _is_transient(exc) or time.monotonic() + pause > deadline:
                raise
            _log.info("Temporal is not ready yet (%s); trying again", exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


def _is_transient(exc: RuntimeError) -> bool:
    text = str(exc)
    return "Failed client connect" in text and any(
        sign in text
        for sign in ("Unavailable", "not healthy", "Connection refused", "tcp connect error")
    )


def _payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message (inputs, results, headers, memo,
    failure attributes), so they can be decoded in place."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            entry_value = field.message_type.fields_by_name["value"]
            children = list(value.values()) if entry_value.message_type is not None else []
        elif isinstance(value, Message):
            children = [value]
        else:  # a repeated field
            children = list(value)
        for child in children:
            if isinstance(child, Payload):
                yield child
            else:
                yield from _payloads_in(child)


def _readable(node: Any) -> Any:
    """A history in protobuf JSON with each payload replaced by the value it holds."""
    if isinstance(node, list):
        return [_readable(item) for item in node]
    if not isinstance(node, dict):
        return node
    metadata = node.get("metadata")
    if isinstance(metadata, dict) and "encoding" in metadata and set(node) <= {"metadata", "data"}:
        encoding = base64.b64decode(metadata["encoding"]).decode(errors="replace")
        data = base64.b64decode(node.get("data", ""))
        if encoding == "json/plain":
            return json.loads(data)
        if encoding == "binary/null":
            return None
        return {"encoding": encoding, "data": node.get("data", "")}
    return {key: _readable(value) for key, value in node.items()}


async def decoded_history(client: Client, workflow_id: str) -> dict[str, Any]:
    """The latest run's history of `workflow_id`, its payloads decrypted with the client's
    codec and shown as JSON values: what `temporal workflow show` would print if it held
    the key."""
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    codec = client.data_converter.payload_codec
    events = []
    for event in history.events:
        if codec is not None:
            payloads = list(_payloads_in(event))
            for payload, plain in zip(payloads, await codec.decode(payloads), strict=True):
                payload.CopyFrom(plain)
        raw = MessageToDict(event)
        attributes: Any = next((v for k, v in raw.items() if k.endswith("EventAttributes")), {})
        events.append(
            {
                "id": int(raw["eventId"]),
                "time": raw.get("eventTime"),
                "type": raw["eventType"].removeprefix("EVENT_TYPE_"),
                "attributes": _readable(attributes),
            }
        )
    return {"workflow_id": workflow_id, "events": events}


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
        task_timeout=WORKFLOW_TASK_TIMEOUT,
        memo=start_memo(),
    )


async def enqueue_deliveries(
    client: Client,
    task_queue: str,
    queue_id: str,
    start: DeliveryQueueStart,
    items: list[QueuedDelivery],
) -> None:
    """Hand several deliveries of one queue over in one signal (the worker's relay)."""
    await client.start_workflow(
        DELIVERY_QUEUE_WORKFLOW,
        start,
        id=queue_id,
        task_queue=task_queue,
        start_signal=ENQUEUE_MANY_SIGNAL,
        start_signal_args=[QueuedDeliveries(items)],
        task_timeout=WORKFLOW_TASK_TIMEOUT,
        memo=start_memo(),
    )
