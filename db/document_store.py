"""Content-addressed PDF storage on disk: the file name is the SHA-256 of its bytes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


class DocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, content: bytes) -> tuple[str, str]:
        """Store bytes, returning (sha256, storage key). Storing the same bytes twice is a no-op."""
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
        """The storage key of the bytes with this SHA-256."""
        return f"{sha256[:2]}/{sha256}.pdf"

    def read(self, storage_key: str) -> bytes:
        path = (self.root / storage_key).resolve()
        if self.root.resolve() not in path.parents:
            raise FileNotFoundError(storage_key)
        return path.read_bytes()
