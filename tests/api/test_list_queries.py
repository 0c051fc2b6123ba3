"""A list page costs the same number of SQL statements for 5 cases as for 20, for every
case type and for its owner and the partner working it: a list does not slow down as its
page grows (it took five statements per case before); and a case's GET costs two."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.app import create_app
from api.deps import Resources
from db import models
from tests.api.world import World, world
from tests.support import Stack

__all__ = ["world"]  # the fixture, imported for pytest

COPIES = 24
LISTS = {
    "rma": "/v1/rmas",
    "repair": "/v1/repairs",
    "replacement": "/v1/replacements",
    "relocation": "/v1/relocations",
    "installation": "/v1/installations",
    "service_plan": "/v1/service-plans",
}
# The partner working each case type lists them too (as its queue).
PARTNER_LISTS = ("rma", "repair", "relocation", "installation")
CHILDREN = (
    models.CaseItem,
    models.TimelineEvent,
    models.Document,
    models.Shipment,
    models.Payment,
)
UNIQUE = ("idempotency_key", "tracking_number", "verification_code")


async def copy_case(session: AsyncSession, case_id: str, copies: int) -> None:
    """`copies` copies of a case with everything its view shows, each a little older."""
    cases: Table = models.Case.__table__  # type: ignore[assignment]
    case = dict((await session.execute(select(cases).where(cases.c.id == case_id))).one()._mapping)
    for n in range(copies):
        suffix = f"-{n:02d}"
        copy = case | {
            "id": case_id + suffix,
            "workflow_id": case["workflow_id"] + suffix,
            "tracking_token": case["tracking_token"][:48] + uuid.uuid4().hex[:12],
            "created_at": case["created_at"] - timedelta(seconds=n + 1),
        }
        await session.execute(insert(cases).values(copy))
        for model in CHILDREN:
            table: Table = model.__table__  # type: ignore[assignment]
            for row in await session.execute(select(table).where(table.c.case_id == case_id)):
                values = dict(row._mapping) | {"case_id": copy["id"]}
                if isinstance(values["id"], int):
                    del values["id"]
                else:
                    values["id"] = uuid.uuid4().hex
                for column in UNIQUE:
                    if values.get(column) is not None:
                        values[column] = f"copy{uuid.uuid4().hex}"
                await session.execute(insert(table).values(values))
    await session.commit()


@contextmanager
def counting(resources: Resources) -> Iterator[list[str]]:
    """The statements the API sends, through its engine and through its read model's reader
    (`db.read_model_reader`)."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    engines = [resources.engine.sync_engine]
    if resources.reader.engine is not None:
        engines.append(resources.reader.engine)
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


@pytest.fixture(scope="module")
async def api(stack: Stack, world: World) -> AsyncIterator[tuple[httpx.AsyncClient, Resources]]:
    """The API app of its own (its own engine, so only its statements are counted) on the
    stack's database, with every case type's case copied until a page of 20 is full."""
    app = create_app(stack.settings)
    async with app.router.lifespan_context(app):
        resources: Resources = app.state.resources
        async with resources.sessions() as session:
            for case in world.cases.values():
                await copy_case(session, case["id"], COPIES)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http, resources


async def statements_for_page(
    http: httpx.AsyncClient, resources: Resources, path: str, key: str, limit: int
) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {key}"}
    await http.get(path, params={"limit": 1}, headers=headers)  # the key is known from here
    with counting(resources) as statements:
        answer = await http.get(path, params={"limit": limit}, headers=headers)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["items"]), len(statements)


@pytest.mark.parametrize("case_type", list(LISTS))
async def test_a_page_of_20_costs_the_statements_of_a_page_of_5(
    api: tuple[httpx.AsyncClient, Resources], world: World, case_type: str
) -> None:
    http, resources = api
    viewers = [world.retailer.key]
    if case_type in PARTNER_LISTS:
        viewers.append(world.center.key)
    for key in viewers:
        small, small_cost = await statements_for_page(http, resources, LISTS[case_type], key, 5)
        large, large_cost = await statements_for_page(http, resources, LISTS[case_type], key, 20)
        assert (small, large) == (5, 20)
        assert small_cost == large_cost, (case_type, small_cost, large_cost)
        # The page, the customers, and what a case shows in one statement (payments for
        # plans in one more).
        assert large_cost <= 4, (case_type, large_cost)


@pytest.mark.parametrize("case_type", list(LISTS))
async def test_a_case_is_opened_and_shown_in_two_statements(
    api: tuple[httpx.AsyncClient, Resources], world: World, case_type: str
) -> None:
    """Who may see the case is decided on the row its view reads: a GET is the case with
    its customer, then its items, timeline, documents and shipments (payments for plans in
    one more)."""
    http, resources = api
    path = f"{LISTS[case_type]}/{world.cases[case_type]['id']}"
    headers = {"Authorization": f"Bearer {world.retailer.key}"}
    await http.get(path, headers=headers)  # the key is known from here
    with counting(resources) as statements:
        answer = await http.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["timeline"], "the view shows what the case has"
    assert len(statements) == (3 if case_type == "service_plan" else 2), statements
