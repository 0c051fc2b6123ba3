"""Signing in to the console and out, end to end over HTTP on the shared stack (SQLite and
PostgreSQL): the session cookie, CSRF on every form, identical answers for a wrong password
and an unknown email, throttling shared by two API processes, sessions that expire, are
revoked, or end with their user; and in a real Chromium with axe."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import Page
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from api.console import throttle
from db import models
from db.session import make_engine
from db.types import utcnow
from tests.console.axe import assert_no_axe_violations
from tests.console.conftest import ConsoleUsers
from tests.console.support import (
    PHONE,
    console_client,
    create_user,
    csrf_of,
    horizontal_overflow,
    screenshot,
    sign_in,
)
from tests.support import ADMIN_KEY, Stack, free_port, serve_api

pytestmark = pytest.mark.e2e

SESSION_COOKIE = "aftersales_console"


@pytest.fixture
async def database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(stack.settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def browser(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.base_url, timeout=30)


async def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    staff = console_users.staff
    async with browser(stack) as http:
        away = await http.get("/console/", follow_redirects=False)
        assert away.status_code == 303
        assert away.headers["location"] == "/console/login?next=/console/"

        answer = await sign_in(http, staff.email.upper(), staff.password)  # any case
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/console/"
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # the test settings serve plain HTTP (env=test)
        value = http.cookies[SESSION_COOKIE]

        home = await http.get("/console/")
        assert home.status_code == 200
        # Whoever's home it is, the header names who is signed in.
        assert f'{staff.name} <span class="role">(staff)</span>' in home.text
        assert home.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in home.headers["content-security-policy"]

        out = await http.post("/console/logout", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303
        assert out.headers["location"] == "/console/login?signed_out=true"
        assert SESSION_COOKIE not in http.cookies
        assert (await http.get("/console/")).status_code == 303

    # The old cookie, kept by someone, opens nothing.
    async with browser(stack) as replay:
        replay.cookies.set(SESSION_COOKIE, value, path="/console")
        assert (await replay.get("/console/")).status_code == 303


async def test_sign_in_returns_to_the_page_asked_for_and_never_to_another_site(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    owner = console_users.owner
    for asked, landed in (
        ("/console/?page=2", "/console/?page=2"),
        ("//evil.example/console", "/console/"),
        ("https://evil.example/", "/console/"),
        ("/console\\@evil.example", "/console/"),
    ):
        async with browser(stack) as http:
            page = await http.get("/console/login", params={"next": asked})
            answer = await http.post(
                "/console/login",
                data={
                    "email": owner.email,
                    "password": owner.password,
                    "csrf_token": csrf_of(page.text),
                    "next": asked,
                },
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == landed


async def test_every_form_needs_its_csrf_token(stack: Stack, console_users: ConsoleUsers) -> None:
    staff = console_users.staff
    async with browser(stack) as http, browser(stack) as other:
        form = await http.get("/console/login")
        credentials = {"email": staff.email, "password": staff.password}
        missing = await http.post("/console/login", data=credentials)
        assert missing.status_code == 403
        assert missing.json()["code"] == "csrf_failed"
        # Another browser's token is no good here: tokens are bound to their cookie.
        others = csrf_of((await other.get("/console/login")).text)
        stolen = await http.post("/console/login", data={**credentials, "csrf_token": others})
        assert stolen.status_code == 403
        assert SESSION_COOKIE not in http.cookies

        signed = await http.post(
            "/console/login", data={**credentials, "csrf_token": csrf_of(form.text)}
        )
        assert signed.status_code == 303
        home = await http.get("/console/")
        # The pre-session token is spent: signed in, the token is the session's.
        assert csrf_of(home.text) != csrf_of(form.text)
        refused = await http.post("/console/logout", data={"csrf_token": csrf_of(form.text)})
        assert refused.status_code == 403
        assert (await http.post("/console/logout")).status_code == 403
        assert (await http.get("/console/")).status_code == 200  # still signed in
        # htmx sends it as a header instead.
        out = await http.post("/console/logout", headers={"X-CSRF-Token": csrf_of(home.text)})
        assert out.status_code == 303


def _without_token(html: str) -> str:
    return re.sub(r"[0-9a-f]{64}", "TOKEN", html)


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    staff = console_users.staff
    answers = []
    for email in (staff.email, "nobody-" + staff.email):
        async with browser(stack) as http:
            answer = await sign_in(http, email, "not-the-password")
            answers.append((answer, email))
    (wrong, wrong_email), (unknown, unknown_email) = answers
    assert wrong.status_code == unknown.status_code == 401
    assert "The email or password is not right." in wrong.text
    assert 'role="alert"' in wrong.text
    assert _without_token(wrong.text).replace(wrong_email, "EMAIL") == _without_token(
        unknown.text
    ).replace(unknown_email, "EMAIL")
    assert sorted(wrong.headers.keys()) == sorted(unknown.headers.keys())
    assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")


async def test_input_no_account_can_have_is_a_wrong_sign_in_never_an_error(
    stack: Stack, console_users: ConsoleUsers
) -> None:
    staff = console_users.staff
    for email, password in (
        (staff.email + "\x00", staff.password),
        ("x" * 300 + "@example.com", staff.password),
        (staff.email, "p" * 300),
    ):
        async with browser(stack) as http:
            answer = await sign_in(http, email, password)
            assert answer.status_code == 401, (email[:20], answer.text[:300])
            assert "The email or password is not right." in answer.text


async def test_repeated_failures_are_refused_across_api_processes(
    stack: Stack, console_users: ConsoleUsers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failures go to the database: half on this API process, half on a second one
    (another port, the same database), and the next attempt is refused on either, even
    with the right password. Another email from the same address still signs in."""
    monkeypatch.setattr(throttle, "SLOW_DELAY_SECONDS", 0.0)
    account = await create_user(stack, console_users.retailer, "staff")
    second = stack.settings.model_copy(update={"api_port": free_port()})
    async with serve_api(second) as second_url:
        for attempt in range(throttle.EMAIL_REFUSE_AT):
            base = stack.base_url if attempt % 2 else second_url
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                answer = await sign_in(http, account.email, "wrong password")
                assert answer.status_code == 401, (attempt, answer.status_code)
        for base in (stack.base_url, second_url):
            async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                refused = await sign_in(http, account.email, account.password)
                assert refused.status_code == 429
                assert "Too many failed sign-ins" in refused.text
                assert int(refused.headers["retry-after"]) > 0
                assert SESSION_COOKIE not in http.cookies
    async with console_client(stack, console_users.owner) as http:
        assert (await http.get("/console/")).status_code == 200


async def _signed_in(stack: Stack, email: str, password: str) -> httpx.AsyncClient:
    http = browser(stack)
    assert (await sign_in(http, email, password)).status_code == 303
    assert (await http.get("/console/")).status_code == 200
    return http


async def test_sessions_end_when_idle_too_long_past_their_end_or_with_their_user(
    stack: Stack, console_users: ConsoleUsers, database: AsyncEngine
) -> None:
    account = await create_user(stack, console_users.retailer, "staff")
    idle = await _signed_in(stack, account.email, account.password)
    ended = await _signed_in(stack, account.email, account.password)
    fresh = await _signed_in(stack, account.email, account.password)
    sessions = models.ConsoleSession
    now = utcnow()
    async with database.begin() as conn:
        # Idle a minute longer than allowed, but within its absolute end.
        await conn.execute(
            update(sessions)
            .where(sessions.user_id == account.id, sessions.id == _hash(idle))
            .values(last_seen=now - stack.settings.console_session_idle - timedelta(minutes=1))
        )
        await conn.execute(
            update(sessions).where(sessions.id == _hash(ended)).values(expires_at=now)
        )
    try:
        for gone in (idle, ended):
            answer = await gone.get("/console/?x=1")
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/login?next=/console/%3Fx%3D1"
        assert (await fresh.get("/console/")).status_code == 200

        # Disabling the user ends the sessions they still have, and they sign in no more.
        async with stack.http(ADMIN_KEY) as admin:
            disabled = await admin.delete(
                f"/v1/orgs/{console_users.retailer.id}/users/{account.id}"
            )
            assert disabled.status_code == 204
        assert (await fresh.get("/console/")).status_code == 303
        async with browser(stack) as http:
            again = await sign_in(http, account.email, account.password)
            assert again.status_code == 401
    finally:
        for http in (idle, ended, fresh):
            await http.aclose()


def _hash(http: httpx.AsyncClient) -> str:
    import hashlib

    return hashlib.sha256(http.cookies[SESSION_COOKIE].encode()).hexdigest()


async def test_sign_in_in_a_browser_is_accessible_and_fits_a_phone(
    stack: Stack,
    console_users: ConsoleUsers,
    browser_page: Page,
    login: Callable[[Page, str, str], Awaitable[None]],
) -> None:
    page = browser_page
    await page.goto("/console/")
    assert page.url.endswith("/console/login?next=/console/")
    await assert_no_axe_violations(page)
    await page.set_viewport_size(PHONE)
    assert await horizontal_overflow(page) == 0
    await screenshot(page, "console-sign-in")

    await page.get_by_label("Email").fill(console_users.technician.email)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    alert = page.get_by_role("alert")
    assert await alert.inner_text() == "The email or password is not right."
    # What was typed stays, but never the password.
    assert await page.get_by_label("Email").input_value() == console_users.technician.email
    assert await page.get_by_label("Password").input_value() == ""
    await assert_no_axe_violations(page)

    await login(page, console_users.technician.email, console_users.technician.password)
    assert page.url.endswith("/console/")
    assert await page.locator(".who").inner_text() == (
        f"{console_users.technician.name} (technician)"
    )
    await assert_no_axe_violations(page)
    assert await horizontal_overflow(page) == 0
    # Keyboard first: the skip link is the first stop and lands on the main content.
    await page.keyboard.press("Tab")
    assert await page.evaluate("() => document.activeElement.textContent") == "Skip to content"

    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/login?signed_out=true")
    assert await page.get_by_role("status").inner_text() == "You have signed out."
    await page.goto("/console/")
    assert "/console/login" in page.url
