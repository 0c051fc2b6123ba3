"""Logging, configured once per process (API, worker, CLI): structlog and the standard
library's loggers (uvicorn, temporalio, SQLAlchemy, ours) go through one handler, which
writes JSON lines outside development and readable lines in `make run`, every line
scrubbed of tokens, keys and secrets (observability.scrub).

What binds the context: the API's request middleware (api.request_log) binds `request_id`;
the worker's activity interceptor (observability.activity_log) binds `case_id`,
`workflow_id` and `activity`; with tracing on, `trace_id` and `span_id` name the span the
line was written in."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, Literal, TextIO

import structlog
from opentelemetry import trace
from structlog.types import EventDict, Processor, WrappedLogger

from observability.scrub import Scrubber, scrubber_for

if TYPE_CHECKING:
    from temporalio.runtime import LoggingConfig

    from settings import Settings

# Libraries whose INFO and DEBUG lines would carry what is never logged (SQLAlchemy's and
# aiosqlite's statements with their parameters and rows) or one line per outgoing call
# (httpx, the AWS SDK): only their warnings are kept, whatever the level.
_QUIET = (
    "sqlalchemy",
    "aiosqlite",
    "httpx",
    "httpcore",
    "hpack",
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "asyncio",
    "multipart",
)


def _add_trace_ids(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    # A contextvar read: costs nothing when tracing is off (no span is ever current).
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def _scrubbing(scrubber: Scrubber) -> Processor:
    def scrub(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        return scrubber.mapping(event)

    return scrub


def log_format(settings: Settings) -> Literal["json", "console"]:
    """AFTERSALES_LOG_FORMAT when set; else readable lines in development, JSON elsewhere."""
    if settings.log_format is not None:
        return settings.log_format
    return "console" if settings.env == "development" else "json"


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route every logger of this process to one handler on `stream` (stderr: standard
    output stays the CLI's answer). Calling it again replaces the previous configuration."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    scrubber = scrubber_for(settings)
    out = stream or sys.stderr
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format(settings) == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before the scrubber reads them: an exception's message
            # can quote a URL or a request.
            structlog.processors.format_exc_info,
            _scrubbing(scrubber),
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    # uvicorn's own handlers would write a second, unscrubbed copy; its access log is
    # replaced by api.request_log's one line per request.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def uvicorn_options() -> dict[str, Any]:
    """What `uvicorn.run` needs so that it keeps this configuration: no logging config of
    its own, no access log (api.request_log writes one line per request)."""
    return {"log_config": None, "access_log": False}


def temporal_core_logging() -> LoggingConfig:
    """The Temporal SDK core's (Rust) warnings, forwarded into the `temporalio.core` logger,
    so that they are written like every other line (JSON, scrubbed) instead of in the
    core's own format straight to stderr. For the process's Temporal runtime."""
    from temporalio.runtime import LogForwardingConfig, LoggingConfig, TelemetryFilter

    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
