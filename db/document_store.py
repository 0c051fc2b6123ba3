"""Content-addressed PDF storage: a document's key is the SHA-256 of its bytes
(`ab/abcdef….pdf`), the same key in every backend, so the rows of `documents` stay valid when
the files move from a disk to a bucket. The backends are synchronous (files, boto3): async
callers hand them to a thread."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from settings import Settings

CHUNK_BYTES = 64 * 1024


def key_of(sha256: str) -> str:
    """The storage key of the bytes with this SHA-256."""
    return f"{sha256[:2]}/{sha256}.pdf"


@dataclass
class OpenedDocument:
    """A stored document being read: its size, then its bytes in chunks (the chunks close
    what they read from once exhausted or closed)."""

    size: int
    chunks: Iterator[bytes]


class DocumentStore(Protocol):
    def put(self, content: bytes) -> tuple[str, str]:
        """Store bytes, returning (sha256, storage key). Storing the same bytes twice is a
        no-op, so a retried step never writes a second copy."""
        ...

    def read(self, storage_key: str) -> bytes:
        """The bytes under `storage_key`; FileNotFoundError if there are none."""
        ...

    def open(self, storage_key: str) -> OpenedDocument:
        """The bytes under `storage_key` to stream; FileNotFoundError if there are none."""
        ...

    def key_of(self, sha256: str) -> str: ...

    def presigned_url(self, storage_key: str, filename: str, ttl_seconds: int) -> str | None:
        """A URL anyone holding it may GET the document from for `ttl_seconds`, or None if
        the backend has no such URLs (the API streams instead)."""
        ...


class LocalDocumentStore:
    """Files under `root` (one process's disk, or a volume every process mounts)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes) -> tuple[str, str]:
        sha = hashlib.sha256(content).hexdigest()
        key = self.key_of(sha)
        path = self.root / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a crash never leaves a half-written file under the final name.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        return sha, key

    @staticmethod
    def key_of(sha256: str) -> str:
        return key_of(sha256)

    def read(self, storage_key: str) -> bytes:
        return self._path(storage_key).read_bytes()

    def open(self, storage_key: str) -> OpenedDocument:
        handle = self._path(storage_key).open("rb")
        return OpenedDocument(os.fstat(handle.fileno()).st_size, _file_chunks(handle))

    def presigned_url(self, storage_key: str, filename: str, ttl_seconds: int) -> str | None:
        return None

    def _path(self, storage_key: str) -> Path:
        path = (self.root / storage_key).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(storage_key)
        return path


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def document_store_from(settings: Settings) -> DocumentStore:
    """The backend `AFTERSALES_DOCUMENT_STORE` names. boto3 is imported only for S3: it
    costs a process that keeps its files on disk a tenth of a second to start."""
    if settings.document_store == "s3":
        from db.s3_document_store import S3DocumentStore

        assert settings.document_s3_bucket is not None  # required by the settings
        return S3DocumentStore.connect(
            settings.document_s3_bucket,
            prefix=settings.document_s3_prefix,
            endpoint_url=settings.document_s3_endpoint_url,
            region=settings.document_s3_region,
        )
    return LocalDocumentStore(settings.document_dir)
