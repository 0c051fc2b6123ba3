"""The console tests' fixtures: users of a retailer and a repair center on the shared
stack (`stack`, SQLite and PostgreSQL), a headless Chromium (Debian's) page on that stack,
and `login`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.api.helpers import Org, add_product, make_org
from tests.api.test_repair_e2e import new_center
from tests.api.test_tracking_page import CHROMIUM, CHROMIUM_ARGS, require_chromium
from tests.console.support import DESKTOP, Account, create_user
from tests.console.support import login as login_page
from tests.support import Stack


@dataclass(frozen=True)
class ConsoleUsers:
    """A retailer with an owner and a staff member, a repair center (in the retailer's
    product category, so routing gives it the retailer's repairs) with a technician and an
    owner, and one product of that category."""

    retailer: Org
    center: Org
    category: str
    sku: str
    owner: Account
    staff: Account
    technician: Account
    center_owner: Account


@pytest.fixture
async def console_users(stack: Stack) -> ConsoleUsers:
    category = f"console-{uuid.uuid4().hex[:6]}"
    retailer = await make_org(stack, "retailer")
    center = await new_center(stack, category)
    product = await add_product(stack, retailer, category=category)
    return ConsoleUsers(
        retailer=retailer,
        center=center,
        category=category,
        sku=product["sku"],
        owner=await create_user(stack, retailer, "owner"),
        staff=await create_user(stack, retailer, "staff"),
        technician=await create_user(stack, center, "technician"),
        center_owner=await create_user(stack, center, "owner"),
    )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser_page(browser: Browser, stack: Stack) -> AsyncIterator[Page]:
    """A fresh page (its own cookies) whose relative URLs go to the stack's API."""
    context = await browser.new_context(base_url=stack.base_url, viewport=DESKTOP)
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
def login() -> Callable[[Page, str, str], Awaitable[None]]:
    """`await login(page, email, password)`: signed in through the form."""
    return login_page
