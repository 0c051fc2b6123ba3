"""Spans scrubbed before they leave the process (observability.scrub): the FastAPI and httpx
instrumentations record URLs, and a tracking URL carries the customer's token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from observability.scrub import Scrubber


class ScrubbingExporter(SpanExporter):
    """Hands `inner` copies of the spans whose names, attributes and events are scrubbed.
    It runs in the span processor's export thread, off the request's path."""

    def __init__(self, inner: SpanExporter, scrubber: Scrubber) -> None:
        self._inner = inner
        self._scrubber = scrubber

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def _attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        return self._scrubber.mapping(attributes or {})

    def _scrubbed(self, span: ReadableSpan) -> ReadableSpan:
        return ReadableSpan(
            name=self._scrubber.text(span.name),
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=self._attributes(span.attributes),
            events=[
                Event(e.name, self._attributes(e.attributes), e.timestamp) for e in span.events
            ],
            links=span.links,
            kind=span.kind,
            status=span.status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )
