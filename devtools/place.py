"""Where the stack `make run` started is, and the secrets it keeps in its data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Place:
    url: str
    data_dir: Path

    @classmethod
    def of(cls, url: str | None, data_dir: Path | None) -> Place:
        """`--url` / `--data-dir`, else AFTERSALES_URL / AFTERSALES_DATA_DIR, else `make run`'s
        defaults (http://127.0.0.1:8000 and .data)."""
        return cls(
            url=(url or os.environ.get("AFTERSALES_URL") or DEFAULT_URL).rstrip("/"),
            data_dir=data_dir or Path(os.environ.get("AFTERSALES_DATA_DIR") or ".data"),
        )

    def secret(self, variable: str, file_name: str) -> str:
        """The stack's secret: the variable when set, else the file `make run` made."""
        if value := os.environ.get(variable):
            return value
        path = self.data_dir / file_name
        try:
            return path.read_text().strip()
        except OSError:
            raise SystemExit(
                f"aftersales: {variable} is not set and {path} cannot be read; "
                "is this the data directory of `make run` (--data-dir)?"
            ) from None

    def admin_key(self) -> str:
        return self.secret("AFTERSALES_ADMIN_KEY", "admin-key")

    def carrier_secret(self) -> str:
        return self.secret("AFTERSALES_CARRIER_SECRET", "carrier-secret")

    def database_url(self) -> str:
        return os.environ.get("AFTERSALES_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{self.data_dir.resolve()}/aftersales.db"
        )
