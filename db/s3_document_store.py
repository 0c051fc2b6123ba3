"""Documents in an S3 bucket (AWS, or anything speaking S3: MinIO, Ceph, R2) under an
optional prefix. Credentials come from boto3's standard chain (AWS_* variables, a shared
profile, an instance or task role), never from our settings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from db.document_store import CHUNK_BYTES, OpenedDocument, key_of

_MISSING = {"404", "NoSuchKey", "NotFound"}
# Activities put documents from up to a handful of threads at once, the API streams from
# more: a pool larger than boto3's 10 keeps them from queueing for a connection.
_CLIENT_CONFIG = Config(retries={"mode": "standard"}, max_pool_connections=32)


class S3DocumentStore:
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._s3 = client
        self.bucket = bucket
        self._prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""

    @classmethod
    def connect(
        cls,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> S3DocumentStore:
        # A boto3 client is thread-safe (a session is not): one per store, shared by threads.
        client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG
        )
        return cls(client, bucket, prefix)

    @staticmethod
    def key_of(sha256: str) -> str:
        return key_of(sha256)

    def put(self, content: bytes) -> tuple[str, str]:
        digest = hashlib.sha256(content)
        sha = digest.hexdigest()
        key = self.key_of(sha)
        # Content-addressed: an object under this key already holds these bytes, and a
        # retried step skips the upload.
        if not self._exists(key):
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self._object(key),
                Body=content,
                ContentType="application/pdf",
                # S3 refuses an upload whose bytes do not hash to this: never a torn object.
                ChecksumSHA256=base64.b64encode(digest.digest()).decode(),
            )
        return sha, key

    def read(self, storage_key: str) -> bytes:
        opened = self.open(storage_key)
        return b"".join(opened.chunks)

    def open(self, storage_key: str) -> OpenedDocument:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=self._object(storage_key))
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(storage_key) from None
            raise
        return OpenedDocument(int(answer["ContentLength"]), _body_chunks(answer["Body"]))

    def presigned_url(self, storage_key: str, filename: str, ttl_seconds: int) -> str | None:
        url: str = self._s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._object(storage_key),
                "ResponseContentType": "application/pdf",
                "ResponseContentDisposition": f'inline; filename="{filename}"',
            },
            ExpiresIn=ttl_seconds,
        )
        return url

    def _object(self, storage_key: str) -> str:
        return self._prefix + storage_key

    def _exists(self, storage_key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._object(storage_key))
        except ClientError as exc:
            if _missing(exc):
                return False
            raise
        return True


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


def _body_chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()
