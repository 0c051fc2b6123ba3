"""Helpers of the console tests: users made through the API, a signed-in httpx client, a
signed-in Chromium page, screenshots."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
from playwright.async_api import Page, ViewportSize

from tests.api.helpers import Org
from tests.support import ADMIN_KEY, Stack

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=800)
_ROOT = Path(__file__).resolve().parents[2]
# The README shows docs/screens/; a test run writes there only when asked
# (AFTERSALES_UPDATE_SCREENS=1), so that running the suite leaves the checkout as it was.
SCREENS = (
    _ROOT / "docs" / "screens"
    if os.environ.get("AFTERSALES_UPDATE_SCREENS") == "1"
    else _ROOT / "test-artifacts" / "screens"
)


@dataclass(frozen=True)
class Account:
    """A console user as made, with the password to sign in with."""

    id: str
    email: str
    password: str
    name: str
    role: str
    org: Org


async def create_user(
    stack: Stack, org: Org, role: str, name: str | None = None, password: str | None = None
) -> Account:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    name = name or f"{role.title()} {uuid.uuid4().hex[:4]}"
    password = password or f"pw-{uuid.uuid4().hex}"
    async with stack.http(ADMIN_KEY) as admin:
        answer = await admin.post(
            f"/v1/orgs/{org.id}/users",
            json={"email": email, "name": name, "role": role, "password": password},
        )
    assert answer.status_code == 201, answer.text
    return Account(answer.json()["id"], email, password, name, role, org)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the (first) form on a console page."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a csrf_token"
    return unescape(found.group(1))


async def sign_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Sign `http` in through the sign-in form as a browser does; the answer to the POST."""
    page = await http.get("/console/login")
    assert page.status_code == 200, page.text
    return await http.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
    )


@contextlib.asynccontextmanager
async def console_client(stack: Stack, account: Account) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client signed in to the console as `account` (cookies kept)."""
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        answer = await sign_in(http, account.email, account.password)
        assert answer.status_code == 303, answer.text
        yield http


async def login(page: Page, email: str, password: str) -> None:
    """Sign in through the form in a real browser; back on the console's home (or `next`)."""
    await page.goto("/console/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()
    assert "/console/login" not in page.url, await page.content()


async def screenshot(page: Page, name: str) -> None:
    """docs/screens/<name>-phone.png and -desktop.png of the page as it is."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        await page.set_viewport_size(size)
        await page.screenshot(path=str(SCREENS / f"{name}-{label}.png"), full_page=True)
    await page.set_viewport_size(DESKTOP)


async def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    width: int = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width
