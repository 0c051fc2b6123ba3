"""What Temporal holds of a customer: ciphertext. The server, `temporal workflow show` and a
client without the payload key see no name, email, phone or street of a case's customer;
the stack's own client and `aftersales history CASE_ID` read them back."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.converter import DataConverter

from cli import ROOT
from domain.ids import rma_workflow_id
from temporal_client import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA,
    PayloadConverter,
    _payloads_in,
    decoded_history,
)
from tests.api.helpers import customer
from tests.api.test_rma_e2e import new_retailer, rma_body, wait_until, with_label
from tests.support import TEMPORAL_BIN, Stack

pytestmark = pytest.mark.e2e


def _someone() -> tuple[dict[str, Any], list[str]]:
    """A customer whose every detail is unique to this test, and those details."""
    tag = uuid.uuid4().hex[:8]
    person = customer(f"Zenobia Quist{tag}")
    person["email"] = f"zenobia.{tag}@example.com"
    person["phone"] = f"+1 555 {tag[:4]}"
    person["address"]["line1"] = f"{tag} Cipher Lane"
    details = [person["name"], person["email"], person["phone"], person["address"]["line1"]]
    return person, details


async def _case_with_a_label(stack: Stack, person: dict[str, Any]) -> str:
    """An RMA that went as far as its label: the customer's data crossed the workflow's
    input, activity arguments and results."""
    retailer, sku = await new_retailer(stack)
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json={**rma_body(sku), "customer": person})
        assert created.status_code == 201, created.text
        rma_id: str = created.json()["id"]
        await wait_until(http, rma_id, with_label)
    return rma_id


# The converter every process used before the codec: what anyone who reaches Temporal's
# port, but holds no AFTERSALES_PAYLOAD_KEY, reads with.
WITHOUT_KEY = DataConverter(payload_converter_class=PayloadConverter)


async def test_temporal_holds_only_ciphertext_of_a_customer(stack: Stack) -> None:
    person, details = _someone()
    rma_id = await _case_with_a_label(stack, person)
    target = stack.client.service_client.config.target_host
    workflow_id = rma_workflow_id(rma_id)

    # A client without the key: every payload is sealed under the stack's key id, and no
    # customer detail appears in any of them.
    outsider = await Client.connect(
        target, namespace=stack.client.namespace, data_converter=WITHOUT_KEY
    )
    history = await outsider.get_workflow_handle(workflow_id).fetch_history()
    payloads = [p for event in history.events for p in _payloads_in(event)]
    sealed = [p for p in payloads if p.metadata["encoding"] == ENCRYPTED_ENCODING]
    assert len(sealed) >= 5
    assert {p.metadata[KEY_ID_METADATA] for p in sealed} == {b"test"}
    # Only the SDK's own bookkeeping stays plain: a local activity's or a patch's marker
    # data (sequence number, activity type, times), and the patch ids the SDK indexes as a
    # search attribute (the server must read those); never an application value.
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            marker = event.marker_recorded_event_attributes
            plain = {
                name
                for name, details in marker.details.items()
                for p in details.payloads
                if p.metadata["encoding"] != ENCRYPTED_ENCODING
            }
            assert plain <= {"data", "patch-data"}, plain
        elif event.HasField("upsert_workflow_search_attributes_event_attributes"):
            indexed = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            assert set(indexed.indexed_fields) <= {"TemporalChangeVersion"}
        else:
            assert all(p.metadata["encoding"] == ENCRYPTED_ENCODING for p in _payloads_in(event))
    raw = history.to_json()
    wire = b"".join(p.data for p in payloads)
    for detail in details:
        assert detail not in raw
        assert detail.encode() not in wire

    # The Temporal CLI, as an operator (or an intruder on port 7233) would run it.
    for output in (["--detailed"], ["--output", "json"]):
        shown = await asyncio.to_thread(
            subprocess.run,
            [TEMPORAL_BIN, "workflow", "show", "-w", workflow_id, "--address", target, *output],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shown.returncode == 0, shown.stderr
        assert "WorkflowExecutionStarted" in shown.stdout or "STARTED" in shown.stdout.upper()
        for detail in details:
            assert detail not in shown.stdout

    # The stack's own client holds the key and reads every detail back.
    readable = json.dumps(await decoded_history(stack.client, workflow_id))
    for detail in details:
        assert detail in readable


def _aftersales(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AFTERSALES_")},
        "AFTERSALES_ENV": "test",
        "AFTERSALES_ADMIN_KEY": "unused-here",
        "AFTERSALES_CARRIER_SECRET": "unused-here",
        "AFTERSALES_DATABASE_URL": stack.settings.database_url,
        "AFTERSALES_TEMPORAL_ADDRESS": stack.settings.temporal_address,
        "AFTERSALES_PAYLOAD_KEY": stack.settings.required_payload_key,
        "AFTERSALES_SECRETS_KEY": stack.settings.required_secrets_key,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_aftersales_history_prints_the_decrypted_history(stack: Stack) -> None:
    person, details = _someone()
    rma_id = await _case_with_a_label(stack, person)

    done = await asyncio.to_thread(_aftersales, stack, "history", rma_id)
    assert done.returncode == 0, done.stderr
    history = json.loads(done.stdout)
    assert history["workflow_id"] == rma_workflow_id(rma_id)
    events = history["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    started = events[0]
    assert started["type"] == "WORKFLOW_EXECUTION_STARTED"
    # The workflow's input, decoded into its JSON value.
    (start,) = started["attributes"]["input"]["payloads"]
    assert start["customer"]["email"] == person["email"]
    assert start["customer"]["name"] == person["name"]
    (booking,) = [
        e["attributes"]
        for e in events
        if e["type"] == "ACTIVITY_TASK_SCHEDULED"
        and e["attributes"]["activityType"]["name"] == "book_shipment"
    ]
    assert person["address"]["line1"] in json.dumps(booking["input"])
    for detail in details:
        assert detail in done.stdout

    # Without the stack's key the same command refuses, naming the key it lacks.
    wrong = await asyncio.to_thread(
        _aftersales_with_key, stack, "other:" + "A" * 43 + "=", "history", rma_id
    )
    assert wrong.returncode == 1
    assert "key id 'test'" in wrong.stderr
    assert all(detail not in wrong.stdout + wrong.stderr for detail in details)

    unknown = await asyncio.to_thread(_aftersales, stack, "history", "RMA-2026-NOSUCHID")
    assert unknown.returncode == 1
    assert "no workflow rma:RMA-2026-NOSUCHID" in unknown.stderr


def _aftersales_with_key(stack: Stack, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    settings = stack.settings.model_copy(update={"payload_key": key})
    return _aftersales(type(stack)(stack.backend, settings, stack.client, stack.base_url), *args)
