"""GET /healthz: the database and Temporal, each checked."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ResourcesDep
from db.health import ping

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 3.0


@router.get("/healthz", summary="Liveness with the database and Temporal checked")
async def healthz(res: ResourcesDep) -> JSONResponse:
    body = {"status": "ok", "database": "ok", "temporal": "ok"}
    try:
        await ping(res.engine, CHECK_TIMEOUT)
    except Exception as exc:  # any failure is the answer, not a crash
        body["database"] = f"error: {type(exc).__name__}"
    try:
        client = await asyncio.wait_for(res.temporal(), CHECK_TIMEOUT)
        await asyncio.wait_for(client.service_client.check_health(), CHECK_TIMEOUT)
    except Exception as exc:
        body["temporal"] = f"error: {type(exc).__name__}"
    healthy = body["database"] == "ok" and body["temporal"] == "ok"
    body["status"] = "ok" if healthy else "degraded"
    return JSONResponse(body, status_code=200 if healthy else 503)
