"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, limits, openapi
from api.console import routes as console
from api.csv_answers import CsvLists
from api.deps import Resources
from api.request_log import RequestLog
from api.routes import (
    assets,
    builtin_gateway,
    campaign_offers,
    campaigns,
    carrier_events,
    documents,
    feedback,
    health,
    insights,
    installations,
    integrations,
    inventory,
    metrics,
    orders,
    orgs,
    payment_events,
    plans,
    portal,
    portal_page,
    portal_troubleshooting,
    products,
    relocations,
    repair_centers,
    repair_network,
    repairs,
    replacements,
    rmas,
    service_plans,
    setup,
    tracking,
    tracking_page,
    users,
    verify,
    webhooks,
)
from api.token_urls import TokenUrlHeaders
from db.document_store import document_store_from
from db.read_model_reader import ReadModelReader
from db.session import make_engine, make_sessionmaker
from observability import tracing
from observability.http_metrics import RequestMetrics
from observability.temporal_metrics import install_sdk_metrics
from settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        # Before the first Temporal client connects (on first use), so it reports into it.
        app.state.sdk_metrics = install_sdk_metrics()
        tracing.instrument_engine(engine)
        reader = ReadModelReader(engine)
        if reader.engine is not None:
            tracing.instrument_engine(reader.engine)
        app.state.resources = Resources(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            documents=document_store_from(settings),
            reader=reader,
        )
        try:
            yield
        finally:
            reader.close()
            await engine.dispose()

    app = FastAPI(
        title="aftersales",
        version="0.1.0",
        summary="After-sales cases (returns, repairs, replacements, relocations, "
        "service plans) as durable workflows.",
        lifespan=lifespan,
    )
    errors.install(app)
    # Before any route: a path that names nothing or a body over the limit is answered here.
    app.add_middleware(limits.BodyLimit)
    app.add_middleware(limits.PathGuard)
    app.add_middleware(TokenUrlHeaders)
    # A list asked for as CSV is written from the JSON its route answers.
    app.add_middleware(CsvLists)
    # Outermost of ours: every answer, a guard's refusal too, has its request id and line.
    app.add_middleware(RequestLog)
    # Outside the guards too: their refusals are answers to count.
    app.add_middleware(RequestMetrics)
    for module in (
        health,
        metrics,
        orgs,
        users,
        setup,
        products,
        integrations,
        plans,
        repair_centers,
        repair_network,
        rmas,
        repairs,
        inventory,
        replacements,
        relocations,
        installations,
        assets,
        service_plans,
        carrier_events,
        payment_events,
        builtin_gateway,
        tracking,
        tracking_page,
        orders,
        portal,
        portal_page,
        portal_troubleshooting,
        feedback,
        documents,
        verify,
        webhooks,
        campaigns,
        campaign_offers,
        insights,
    ):
        app.include_router(module.router)
    app.include_router(feedback.page_router)
    console.install(app)
    openapi.install(app)
    tracing.instrument_app(app)
    return app
