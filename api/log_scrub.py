"""Tracking tokens kept out of the API's logs.

A token is the customer's only credential, and it travels in URLs (`/track/<token>`,
`/v1/track/<token>/…`, `/v1/documents/<id>?token=<token>`), which an access log writes
down for anyone who reads the logs. Every record the API's log handlers write has them
replaced first."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "[redacted]"

_TOKEN_IN_URL = (
    re.compile(r"(/track/)[^/?#\s\"']+"),
    re.compile(r"([?&]token=)[^&#\s\"']+"),
)


def scrub(text: str) -> str:
    for pattern in _TOKEN_IN_URL:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def _scrubbed(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


class ScrubTokens(logging.Filter):
    """Rewrites a record's message and arguments (uvicorn's access log passes the path as
    an argument) so that no handler it reaches writes a token."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _scrubbed(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_scrubbed(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _scrubbed(v) for k, v in record.args.items()}
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with the filter on every handler: the access
    log's and the error log's records reach their stream only through it."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["scrub_tokens"] = {"()": ScrubTokens}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("scrub_tokens")
    return config
