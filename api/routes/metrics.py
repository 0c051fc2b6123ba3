"""GET /metrics: Prometheus text, ours (`aftersales_*`) and the Temporal SDK's (`temporal_*`).

Open like /healthz unless `AFTERSALES_METRICS_TOKEN` is set, then a Bearer token: its
labels are route templates, case types and statuses, never an id, a token or an
organisation, so it shows how busy the platform is and nothing of any tenant. Kept out of
the OpenAPI schema: it is for the operator's Prometheus, not for API clients."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from api.deps import SettingsDep
from api.errors import unauthorized
from observability.metrics import CONTENT_TYPE
from observability.scrape import scrape

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    token = settings.metrics_token
    if token is not None:
        offered = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            raise unauthorized("/metrics needs the metrics token")
    sdk = getattr(request.app.state, "sdk_metrics", None)
    return Response(await scrape(sdk), media_type=CONTENT_TYPE)
