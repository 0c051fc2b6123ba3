"""One /metrics answer: ours, then the Temporal SDK's (API and worker alike)."""

from __future__ import annotations

import structlog

from observability.metrics import TEMPORAL_SDK_UP, exposition
from observability.temporal_metrics import SdkMetrics

log = structlog.get_logger(__name__)


async def scrape(sdk: SdkMetrics | None) -> bytes:
    """Our metrics with the SDK exporter's text appended. When the exporter does not answer,
    ours still go out, with `aftersales_temporal_sdk_metrics_up` 0 to say what is missing."""
    appended = b""
    if sdk is not None:
        try:
            appended = await sdk.text()
            TEMPORAL_SDK_UP.set(1)
        except Exception as error:  # a scrape answers whatever the exporter does
            TEMPORAL_SDK_UP.set(0)
            log.warning("temporal sdk metrics not read", error=type(error).__name__)
    return exposition(appended)
