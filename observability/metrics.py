"""Our Prometheus metrics (`aftersales_` prefix), in prometheus-client's default registry
beside its process and Python collectors.

Every label value comes from a bounded set the code names: route templates, case types,
closed statuses, activity types, error types. Never an id, a token, an organisation or an
email address: /metrics shows the platform's shape, not its tenants.

Counters count in the process where the thing happens: requests in the API, cases, SLA
breaches, webhook deliveries and activity failures in the worker (where the read model is
written and activities run). Sum them over the processes of a role in PromQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.exposition import generate_latest

# The classic text format, the one the Temporal SDK's exporter writes, whose text is appended
# to ours; so never OpenMetrics (whose `# EOF` must end the whole answer), whatever the
# scraper asks for. Every name here is a classic one: nothing needs escaping.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# No `_created` series beside each counter and histogram: they double the series for a
# timestamp that Prometheus' own counter-reset handling makes unneeded.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

# Seconds. The API waits up to `decision_timeout_seconds` (20 s) for a workflow's answer, so
# the buckets reach past it.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0)

HTTP_REQUESTS = Counter(
    "aftersales_http_requests",
    "HTTP requests answered by the API, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "aftersales_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
CASES_STARTED = Counter(
    "aftersales_cases_started",
    "Cases recorded in the read model for the first time, by case type.",
    ["case_type"],
)
CASES_ENDED = Counter(
    "aftersales_cases_ended",
    "Cases that reached a closed status, by case type and that status (the outcome).",
    ["case_type", "outcome"],
)
SLA_BREACHES = Counter(
    "aftersales_sla_breaches",
    "SLA breaches recorded on a case's timeline (repair turnaround), by case type.",
    ["case_type"],
)
WEBHOOK_ATTEMPTS = Counter(
    "aftersales_webhook_attempts",
    "Webhook POST attempts by result: accepted (2xx), rejected (another status), "
    "no_answer (connection failed or timed out), refused (target not public), "
    "disabled (subscription stopped).",
    ["result"],
)
WEBHOOK_DELIVERIES = Counter(
    "aftersales_webhook_deliveries",
    "Webhook deliveries that ended, by result: delivered, or failed (refused, disabled, "
    "or out of retries).",
    ["result"],
)
WEBHOOK_OLDEST_PENDING = Gauge(
    "aftersales_webhook_oldest_pending_age_seconds",
    "Age of the oldest webhook delivery still pending (0: none), read at scrape time.",
)
OUTBOX_DEPTH = Gauge(
    "aftersales_outbox_depth",
    "Outbox rows (webhook deliveries, emails) not yet handed over to a delivery queue, "
    "read at scrape time and counted up to a cap.",
    ["channel"],
)
BACKLOG_READ_FAILURES = Counter(
    "aftersales_backlog_read_failures",
    "Scrape-time reads of the outbox and pending deliveries that failed or timed out "
    "(the gauges keep their last value).",
)
ACTIVITY_FAILURES = Counter(
    "aftersales_activity_failures",
    "Activity attempts that raised, by activity type and error type (Temporal retries "
    "most of them).",
    ["activity_type", "error"],
)
TEMPORAL_SDK_UP = Gauge(
    "aftersales_temporal_sdk_metrics_up",
    "1 when this answer carries the Temporal SDK's metrics, 0 when reading them failed.",
)


def start_case_series(case_types: Iterable[str]) -> None:
    """Each case type's started and breached series at 0 from the start, so that increase()
    sees a process's first case of a type too."""
    for case_type in case_types:
        CASES_STARTED.labels(case_type)
        SLA_BREACHES.labels(case_type)


def count_case_started(case_type: str) -> None:
    CASES_STARTED.labels(case_type).inc()


def count_case_ended(case_type: str, outcome: str) -> None:
    CASES_ENDED.labels(case_type, outcome).inc()


def count_sla_breach(case_type: str) -> None:
    SLA_BREACHES.labels(case_type).inc()


AttemptResult = Literal["accepted", "rejected", "no_answer", "refused", "disabled"]
DeliveryEnd = Literal["delivered", "failed"]

# Every series of a fixed label set exists from the start at 0, so that rate() and increase()
# see a process's first attempt and first failure too.
for _result in get_args(AttemptResult):
    WEBHOOK_ATTEMPTS.labels(_result)
for _end in get_args(DeliveryEnd):
    WEBHOOK_DELIVERIES.labels(_end)


def count_webhook_attempt(result: AttemptResult, ended: DeliveryEnd | None = None) -> None:
    """One attempt's `result`; `ended` is the delivery's end when the attempt ended it."""
    WEBHOOK_ATTEMPTS.labels(result).inc()
    if ended is not None:
        WEBHOOK_DELIVERIES.labels(ended).inc()


def count_webhook_given_up() -> None:
    """A delivery whose retries ran out: it ends as failed without an attempt."""
    WEBHOOK_DELIVERIES.labels("failed").inc()


def exposition(appended: bytes = b"") -> bytes:
    """Our metrics in the text format, with `appended` (another exporter's text) after."""
    ours = generate_latest(REGISTRY)
    if not appended:
        return ours
    return ours + appended if appended.endswith(b"\n") else ours + appended + b"\n"
