"""Documents in S3 end to end: a stack whose worker and API keep PDFs in a bucket (moto's
local S3). The worker stores an RMA's label and slip there and nowhere on disk; the API
streams them to their owner and to the customer's token, or, set to redirect, answers a
presigned URL after the same access checks."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.api.helpers import Org, add_product, make_org, own_stack
from tests.api.test_foundation import assert_problem
from tests.api.test_rma_e2e import rma_body, wait_until, with_label
from tests.moto_s3 import REGION, make_bucket, moto_s3, object_keys
from tests.support import Stack, free_port, serve_api

PREFIX = "aftersales/documents"


@dataclass
class S3World:
    stack: Stack
    endpoint: str
    bucket: str


# SQLite only: where the PDFs live does not depend on the database the rows are in.
@pytest.fixture(scope="module", params=["sqlite"])
async def s3_stack(
    request: pytest.FixtureRequest,
    dev_server: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[S3World]:
    with moto_s3() as endpoint:
        bucket = f"aftersales-{uuid.uuid4().hex[:8]}"
        make_bucket(endpoint, bucket)
        async with own_stack(
            request,
            dev_server,
            tmp_path_factory,
            "s3",
            document_store="s3",
            document_s3_bucket=bucket,
            document_s3_prefix=PREFIX,
            document_s3_endpoint_url=endpoint,
            document_s3_region=REGION,
        ) as stack:
            yield S3World(stack, endpoint, bucket)


async def labelled_rma(stack: Stack) -> tuple[Org, dict[str, Any]]:
    retailer = await make_org(stack, "retailer")
    sku = (await add_product(stack, retailer))["sku"]
    async with stack.http(retailer.key) as http:
        created = await http.post("/v1/rmas", json=rma_body(sku))
        assert created.status_code == 201, created.text
        return retailer, await wait_until(http, created.json()["id"], with_label)


def document(rma: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(d for d in rma["documents"] if d["kind"] == kind)
    return found


async def test_the_worker_stores_in_the_bucket_and_the_api_streams_from_it(
    s3_stack: S3World,
) -> None:
    stack = s3_stack.stack
    retailer, rma = await labelled_rma(stack)
    label, slip = document(rma, "return_label"), document(rma, "packing_slip")
    stored = object_keys(s3_stack.endpoint, s3_stack.bucket)
    for doc in (label, slip):
        sha = doc["sha256"]
        assert f"{PREFIX}/{sha[:2]}/{sha}.pdf" in stored
    # Nothing on the disk the local store would have used.
    assert not stack.settings.document_dir.exists()

    async with stack.http(retailer.key) as http:
        answer = await http.get(label["url"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-length"] == str(len(answer.content))
    assert answer.headers["etag"] == f'"{label["sha256"]}"'
    assert hashlib.sha256(answer.content).hexdigest() == label["sha256"]
    assert answer.content.startswith(b"%PDF")

    # The customer's link (the token in the URL) streams it too; a wrong token does not.
    async with stack.http() as anonymous:
        tracked = await anonymous.get(f"/v1/track/{rma['tracking_token']}")
        customer_doc = next(d for d in tracked.json()["documents"] if d["kind"] == "packing_slip")
        streamed = await anonymous.get(customer_doc["url"])
        assert streamed.status_code == 200
        assert hashlib.sha256(streamed.content).hexdigest() == slip["sha256"]
        wrong = await anonymous.get(f"/v1/documents/{slip['id']}?token=wrong")
        assert_problem(wrong, 404, "not_found")


async def test_a_document_missing_from_the_bucket_is_a_404(s3_stack: S3World) -> None:
    stack = s3_stack.stack
    retailer, rma = await labelled_rma(stack)
    label = document(rma, "return_label")
    s3 = boto3.client("s3", endpoint_url=s3_stack.endpoint, region_name=REGION)
    sha = label["sha256"]
    s3.delete_object(Bucket=s3_stack.bucket, Key=f"{PREFIX}/{sha[:2]}/{sha}.pdf")
    async with stack.http(retailer.key) as http:
        assert_problem(await http.get(label["url"]), 404, "not_found")


async def test_redirect_mode_answers_a_presigned_url_after_the_access_checks(
    s3_stack: S3World,
) -> None:
    stack = s3_stack.stack
    retailer, rma = await labelled_rma(stack)
    label = document(rma, "return_label")
    stranger = await make_org(stack, "retailer")
    # A second API process of the same deployment, set to redirect.
    port = free_port()
    redirecting = stack.settings.model_copy(
        update={"document_delivery": "redirect", "api_port": port}
    )
    path = f"/v1/documents/{label['id']}"
    async with serve_api(redirecting) as base_url:
        headers = {"Authorization": f"Bearer {retailer.key}"}
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            answer = await http.get(path, headers=headers)
            assert answer.status_code == 307, answer.text
            assert answer.headers["cache-control"] == "no-store"
            location = answer.headers["location"]
            assert location.startswith(s3_stack.endpoint)
            assert "Signature" in location
            # Nobody else gets a URL: the checks come first.
            refused = await http.get(path, headers={"Authorization": f"Bearer {stranger.key}"})
            assert_problem(refused, 404, "not_found")
            assert_problem(await http.get(path), 401, "unauthorized")
            assert_problem(await http.get(f"{path}?token=wrong"), 404, "not_found")
        # The URL itself needs no key: S3 answers the PDF.
        async with httpx.AsyncClient(timeout=30) as outside:
            pdf = await outside.get(location)
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(pdf.content).hexdigest() == label["sha256"]
