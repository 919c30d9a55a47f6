"""Sign-in: the form and its CSRF token, wrong passwords, the throttle, the password change."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from inbox.auth import new_login_link
from inbox.runtime.services import Services
from inbox.store.models import Agent, ApiToken, AuditEntry
from inbox.web.app import create_app
from inbox.web.login_throttle import LoginThrottle
from tests.fixtures.inbox import SECRET, Api, add_agent, make_config
from tests.fixtures.signin import form_csrf, sign_in

csrf_of = form_csrf


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Desk:
    """The app with a hand-driven clock for its sign-in throttle, and browsers on chosen addresses."""

    services: Services
    app: FastAPI
    clock: Clock
    browsers: list[httpx.AsyncClient] = field(default_factory=list)

    async def browser(self, address: str = "198.51.100.7") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(address, 50123))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.browsers.append(client)
        return client


@pytest.fixture
async def desk(services: Services) -> AsyncIterator[Desk]:
    from inbox.web.app import create_app

    app = create_app(services)
    clock = Clock()
    app.state.login_throttle = LoginThrottle(clock=clock)
    desk = Desk(services, app, clock)
    yield desk
    for client in desk.browsers:
        await client.aclose()


def wait_shown(response: httpx.Response) -> int:
    """The seconds the page asks to wait (and Retry-After says the same)."""
    match = re.search(r"Too many attempts; try again in (\d+) seconds", response.text)
    assert response.status_code == 429 and match, (response.status_code, response.text)
    assert response.headers["retry-after"] == match.group(1)
    return int(match.group(1))


async def test_sign_in_form_wrong_password_then_right(api: Api) -> None:
    await add_agent(api.services, "ana@example.com", password="a long password 1")
    page = await api.client.get("/login")
    assert 'for="email">Email<' in page.text and 'for="password">Password<' in page.text and ">Sign in</button>" in page.text
    bad = await sign_in(api.client, "ana@example.com", "nope")
    assert bad.status_code == 401 and "Wrong email or password" in bad.text
    good = await sign_in(api.client, "ana@example.com", "a long password 1")
    assert good.status_code == 303 and "fd_session" in good.cookies


async def test_the_sign_in_form_refuses_a_post_without_its_csrf_token(desk: Desk) -> None:
    await add_agent(desk.services, "ana@example.com", password="a long password 1")
    browser, elsewhere = await desk.browser(), await desk.browser()
    bare = await browser.post("/login", data={"email": "ana@example.com", "password": "a long password 1"})
    assert bare.status_code == 403 and "fd_session" not in bare.cookies
    token = csrf_of((await browser.get("/login")).text)
    # Another browser's token is worthless without that browser's cookie.
    forged = await elsewhere.post("/login", data={"email": "ana@example.com", "password": "a long password 1", "csrf": token})
    assert forged.status_code == 403 and "fd_session" not in forged.cookies
    good = await browser.post("/login", data={"email": "ana@example.com", "password": "a long password 1", "csrf": token})
    assert good.status_code == 303


async def test_after_the_budget_each_attempt_waits_longer_and_the_right_password_then_signs_in(
    desk: Desk,
) -> None:
    await add_agent(desk.services, "ana@example.com", password="a long password 1")
    browser = await desk.browser()
    for _ in range(5):
        assert (await sign_in(browser, "ana@example.com", "guess")).status_code == 401
    assert wait_shown(await sign_in(browser, "ana@example.com", "a long password 1")) == 1  # even the right one waits
    desk.clock.now += 1
    assert (await sign_in(browser, "ana@example.com", "guess")).status_code == 401
    assert wait_shown(await sign_in(browser, "ana@example.com", "guess")) == 2
    desk.clock.now += 1.5
    assert wait_shown(await sign_in(browser, "ana@example.com", "guess")) == 1  # refused attempts add nothing
    desk.clock.now += 0.5
    signed = await sign_in(browser, "ana@example.com", "a long password 1")
    assert signed.status_code == 303 and "fd_session" in signed.cookies
    # Signed in: that browser starts afresh for the address.
    for _ in range(5):
        assert (await sign_in(browser, "ana@example.com", "guess")).status_code == 401


async def test_spaces_or_capitals_around_the_address_give_no_fresh_budget(desk: Desk) -> None:
    await add_agent(desk.services, "ana@example.com", password="a long password 1")
    browser = await desk.browser()
    for spelling in (
        "ana@example.com",
        " ana@example.com",
        "ANA@example.com ",
        "\tAna@Example.com",
        "ana@example.com",
    ):
        assert (await sign_in(browser, spelling, "guess")).status_code == 401
    wait_shown(await sign_in(browser, "  ANA@EXAMPLE.COM  ", "a long password 1"))
    desk.clock.now += 1
    assert (await sign_in(browser, "  ANA@EXAMPLE.COM  ", "a long password 1")).status_code == 303


async def test_an_attacker_elsewhere_slows_the_owner_but_never_stops_them(desk: Desk) -> None:
    await add_agent(desk.services, "ana@example.com", password="a long password 1")
    attacker, owner = await desk.browser("203.0.113.66"), await desk.browser("198.51.100.7")
    for attempt in range(10):
        response = await sign_in(attacker, "ana@example.com", f"guess {attempt}")
        if response.status_code == 429:  # the attacker's own pair budget is spent: they wait
            desk.clock.now += wait_shown(response)
            response = await sign_in(attacker, "ana@example.com", f"guess {attempt}")
        assert response.status_code == 401
    # Ten failures on the address: the owner, on another client, is slowed, not refused.
    wait = wait_shown(await sign_in(owner, "ana@example.com", "a long password 1"))
    desk.clock.now += wait
    # The very moment the wait ends, another attacking host takes the address's next slot...
    botnet = await desk.browser("192.0.2.99")
    assert (await sign_in(botnet, "ana@example.com", "guess 11")).status_code == 401
    # ...but the owner was promised theirs: the right password signs in.
    signed = await sign_in(owner, "ana@example.com", "a long password 1")
    assert signed.status_code == 303 and "fd_session" in signed.cookies


async def test_the_owner_on_another_client_is_not_slowed_while_the_address_is_not_under_attack(
    desk: Desk,
) -> None:
    await add_agent(desk.services, "ana@example.com", password="a long password 1")
    attacker, owner = await desk.browser("203.0.113.66"), await desk.browser("198.51.100.7")
    for _ in range(5):
        assert (await sign_in(attacker, "ana@example.com", "guess")).status_code == 401
    assert (await sign_in(attacker, "ana@example.com", "guess")).status_code == 429
    assert (await sign_in(owner, "ana@example.com", "a long password 1")).status_code == 303


async def test_the_wait_is_shown_in_spanish(desk: Desk) -> None:
    browser = await desk.browser()
    browser.headers["Accept-Language"] = "es"
    for _ in range(5):
        await sign_in(browser, "nadie@example.com", "guess")
    refused = await sign_in(browser, "nadie@example.com", "guess")
    assert refused.status_code == 429 and "Demasiados intentos; inténtalo de nuevo en 1 segundos" in refused.text


async def change_form(api: Api) -> str:
    form = await api.client.get("/account/password")
    assert 'for="current">Current password<' in form.text and "Also revoke my API tokens" in form.text
    return csrf_of(form.text)


async def test_password_change_asks_for_the_current_password(api: Api) -> None:
    await add_agent(api.services, "bo@example.com", password="first password 1")
    assert (await sign_in(api.client, "bo@example.com", "first password 1")).status_code == 303
    csrf = await change_form(api)
    wrong = await api.client.post(
        "/account/password",
        data={
            "csrf": csrf,
            "current": "not my password",
            "password": "second password 2",
            "confirm": "second password 2",
        },
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    missing = await api.client.post(
        "/account/password",
        data={"csrf": csrf, "password": "second password 2", "confirm": "second password 2"},
    )
    assert missing.status_code == 422
    api.client.cookies.clear()
    assert (await sign_in(api.client, "bo@example.com", "second password 2")).status_code == 401  # unchanged
    assert (await sign_in(api.client, "bo@example.com", "first password 1")).status_code == 303


async def test_password_change_needs_csrf_and_ends_other_sessions(api: Api) -> None:
    await add_agent(api.services, "bo@example.com", password="first password 1")
    one = await sign_in(api.client, "bo@example.com", "first password 1")
    other_cookie = one.cookies["fd_session"]
    api.client.cookies.clear()
    assert (await sign_in(api.client, "bo@example.com", "first password 1")).status_code == 303
    csrf = await change_form(api)
    fields = {
        "current": "first password 1",
        "password": "second password 2",
        "confirm": "second password 2",
    }
    refused = await api.client.post("/account/password", data=fields)
    assert refused.status_code == 403  # no CSRF token
    changed = await api.client.post("/account/password", data={"csrf": csrf, **fields})
    assert changed.status_code == 200 and "Password saved" in changed.text
    assert (await api.client.get("/")).status_code == 200  # this session stays
    kept = api.client.cookies["fd_session"]
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", other_cookie)
    stale = await api.client.get("/")
    assert stale.status_code == 303 and stale.headers["location"] == "/login"
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", kept)
    assert (await api.client.get("/account/password")).status_code == 200


async def test_password_change_can_revoke_the_agents_api_tokens(api: Api) -> None:
    _, token = await add_agent(api.services, "bo@example.com", password="first password 1")
    _, other_token = await add_agent(api.services, "cy@example.com", password="first password 1")
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(token))).status_code == 200
    await sign_in(api.client, "bo@example.com", "first password 1")
    fields = {
        "current": "first password 1",
        "password": "second password 2",
        "confirm": "second password 2",
    }
    kept = await api.client.post("/account/password", data={"csrf": await change_form(api), **fields})
    assert kept.status_code == 200
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(token))).status_code == 200  # not asked: kept
    fields = {
        "current": "second password 2",
        "password": "third password 3",
        "confirm": "third password 3",
        "revoke_tokens": "1",
    }
    revoked = await api.client.post("/account/password", data={"csrf": await change_form(api), **fields})
    assert revoked.status_code == 200
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(token))).status_code == 401
    assert (await api.client.get("/api/v1/conversations", headers=api.auth(other_token))).status_code == 200
    async with api.services.db.read() as session:
        left = (await session.scalars(select(ApiToken.revoked))).all()
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "password.change").order_by(AuditEntry.id))).all()
    assert sorted(left) == [False, False, True]  # the admin's, Cy's, and Bo's revoked one
    assert [a.details for a in audits] == [
        {"sessions_ended": 0, "api_access_revoked": 0},
        {"sessions_ended": 0, "api_access_revoked": 1},
    ]


def set_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("fd_session=")]


async def test_secure_cookie_follows_the_public_url_not_the_request_scheme(api: Api, db_url: str) -> None:
    await add_agent(api.services, "ana@example.com", password="a long password 1")
    form = {"email": "ana@example.com", "password": "a long password 1"}
    # Served over http (public_url http://...): no Secure flag, even for a request made over https.
    app = api.client._transport.app  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as over_https:
        [plain] = set_cookies(await sign_in(over_https, form["email"], form["password"]))
    assert "secure" not in plain.lower()
    # Behind a TLS-terminating proxy (public_url https://..., the request reaches us as http): Secure.
    https_services = Services.build(make_config(db_url, server={"secret_key": SECRET, "public_url": "https://desk.example.com"}))
    try:
        transport = httpx.ASGITransport(app=create_app(https_services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as behind_proxy:
            signed_in = await sign_in(behind_proxy, form["email"], form["password"])
            [secure] = set_cookies(signed_in)
            assert signed_in.status_code == 303 and "; secure" in secure.lower()
            # The one-time link's cookie too.
            async with https_services.db.transaction() as session:
                agent = await session.scalar(select(Agent).where(Agent.email == "ana@example.com"))
                assert agent is not None
                token, link = new_login_link(agent.id)
                session.add(link)
            redeemed = await behind_proxy.get(f"/login/once/{token}")
            assert redeemed.status_code == 303 and "; secure" in set_cookies(redeemed)[0].lower()
    finally:
        await https_services.db.dispose()


async def test_spelling_the_email_differently_gives_no_fresh_attempts(api: Api) -> None:
    await add_agent(api.services, "ana@example.com", password="a long password 1")
    app = api.client._transport.app  # type: ignore[attr-defined]

    async def attempt(n: int, email: str, password: str) -> httpx.Response:
        # A fresh client address each time: only the per-email budget can refuse.
        transport = httpx.ASGITransport(app=app, client=(f"10.0.0.{n}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await sign_in(client, email, password)

    first = await attempt(1, "  Ana@Example.COM ", "a long password 1")
    assert first.status_code == 303  # the address is found however it is typed
    spellings = [" ana@example.com", "ANA@example.com", "ana@example.com ", "\tAna@example.com", "aNa@Example.com  "]
    for n in range(10):  # the address's budget, used up under five spellings from ten clients
        assert (await attempt(10 + n, spellings[n % len(spellings)], "guess")).status_code == 401
    limited = await attempt(30, "ana@example.com", "a long password 1")
    assert limited.status_code == 429 and limited.headers["retry-after"]
