"""The S3 document store against a local S3 (moto's server): a round trip, an idempotent put,
the prefix, a missing key, streaming and presigned URLs; the factory that picks a backend."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from db.document_store import LocalDocumentStore, document_store_from, key_of
from db.s3_document_store import S3DocumentStore
from settings import Settings
from tests.moto_s3 import REGION, make_bucket, moto_s3, object_keys
from tests.support import ADMIN_KEY, CARRIER_SECRET, PAYLOAD_KEY, SECRETS_KEY

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 600 + b"\n%%EOF\n"  # over two stream chunks


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"documents-{uuid.uuid4().hex[:8]}"
    make_bucket(endpoint, name)
    return name


def store(endpoint: str, bucket: str, prefix: str = "") -> S3DocumentStore:
    return S3DocumentStore.connect(bucket, prefix=prefix, endpoint_url=endpoint, region=REGION)


def test_round_trip_under_the_content_key(endpoint: str, bucket: str) -> None:
    documents = store(endpoint, bucket)
    sha, key = documents.put(PDF)
    assert sha == hashlib.sha256(PDF).hexdigest()
    assert key == key_of(sha) == f"{sha[:2]}/{sha}.pdf"
    assert documents.read(key) == PDF
    opened = documents.open(key)
    chunks = list(opened.chunks)
    assert opened.size == len(PDF)
    assert len(chunks) > 1 and b"".join(chunks) == PDF


def test_putting_the_same_bytes_again_changes_nothing(endpoint: str, bucket: str) -> None:
    documents = store(endpoint, bucket)
    first = documents.put(PDF)
    # Another process (a retried activity on another worker) puts them too.
    assert store(endpoint, bucket).put(PDF) == first
    assert object_keys(endpoint, bucket) == [first[1]]


def test_the_prefix_holds_the_objects_and_the_key_stays_the_same(
    endpoint: str, bucket: str
) -> None:
    documents = store(endpoint, bucket, prefix="/tenant-a/pdf/")
    sha, key = documents.put(PDF)
    assert key == key_of(sha)  # what the database keeps does not name the prefix
    assert object_keys(endpoint, bucket) == [f"tenant-a/pdf/{key}"]
    assert documents.read(key) == PDF
    with pytest.raises(FileNotFoundError):
        store(endpoint, bucket).read(key)  # not at the bucket's root


def test_a_missing_key_is_file_not_found(endpoint: str, bucket: str) -> None:
    documents = store(endpoint, bucket)
    with pytest.raises(FileNotFoundError):
        documents.read(key_of("0" * 64))
    with pytest.raises(FileNotFoundError):
        documents.open(key_of("0" * 64))


def test_a_presigned_url_opens_the_document_inline(endpoint: str, bucket: str) -> None:
    documents = store(endpoint, bucket)
    _, key = documents.put(PDF)
    url = documents.presigned_url(key, "RMA-1-return_label.pdf", 60)
    assert url is not None and "Signature" in url and "Expires=" in url
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'inline; filename="RMA-1-return_label.pdf"'
    # The signature covers the key: another key under the same signature is refused.
    forged = url.replace(key.split("/")[1], "f" * 64 + ".pdf")
    assert httpx.get(forged).status_code == 403


def test_local_store_streams_and_has_no_presigned_urls(tmp_path: Path) -> None:
    documents = LocalDocumentStore(tmp_path)
    _, key = documents.put(PDF)
    assert documents.put(PDF)[1] == key
    opened = documents.open(key)
    assert (opened.size, b"".join(opened.chunks)) == (len(PDF), PDF)
    assert documents.presigned_url(key, "x.pdf", 60) is None
    with pytest.raises(FileNotFoundError):
        documents.open("../../etc/passwd")


def settings(**fields: object) -> Settings:
    return Settings(
        env="test",
        admin_key=ADMIN_KEY,
        carrier_secret=CARRIER_SECRET,
        payload_key=PAYLOAD_KEY,
        secrets_key=SECRETS_KEY,
        **fields,  # type: ignore[arg-type]
    )


def test_settings_pick_the_backend(endpoint: str, bucket: str, tmp_path: Path) -> None:
    local = document_store_from(settings(document_dir=tmp_path))
    assert isinstance(local, LocalDocumentStore) and local.root == tmp_path
    s3 = document_store_from(
        settings(
            document_store="s3",
            document_s3_bucket=bucket,
            document_s3_prefix="docs",
            document_s3_endpoint_url=endpoint,
            document_s3_region=REGION,
        )
    )
    assert isinstance(s3, S3DocumentStore)
    _, key = s3.put(PDF)
    assert object_keys(endpoint, bucket) == [f"docs/{key}"]


def test_s3_without_a_bucket_is_refused() -> None:
    with pytest.raises(ValidationError, match="AFTERSALES_DOCUMENT_S3_BUCKET"):
        settings(document_store="s3")
    with pytest.raises(ValidationError, match="AFTERSALES_DOCUMENT_S3_BUCKET"):
        settings(document_store="s3", document_s3_bucket="")
