"""Sign-in: the form, wrong passwords, the login rate limit, password change ending other sessions."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from inbox.auth import new_login_link
from inbox.runtime.services import Services
from inbox.store.models import Agent
from inbox.web.app import create_app
from tests.fixtures.inbox import SECRET, Api, add_agent, make_config


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_sign_in_wrong_password_and_rate_limit(api: Api) -> None:
    await add_agent(api.services, "ana@example.com", password="a long password 1")
    page = await api.client.get("/login")
    assert 'for="email">Email<' in page.text and 'for="password">Password<' in page.text and ">Sign in</button>" in page.text
    bad = await api.client.post("/login", data={"email": "ana@example.com", "password": "nope"})
    assert bad.status_code == 401 and "Wrong email or password" in bad.text
    good = await api.client.post("/login", data={"email": "ana@example.com", "password": "a long password 1"})
    assert good.status_code == 303 and "fd_session" in good.cookies
    for _ in range(10):
        await api.client.post("/login", data={"email": "ana@example.com", "password": "guess"})
    limited = await api.client.post("/login", data={"email": "ana@example.com", "password": "a long password 1"})
    assert limited.status_code == 429


async def test_password_change_needs_csrf_and_ends_other_sessions(api: Api) -> None:
    await add_agent(api.services, "bo@example.com", password="first password 1")
    one = await api.client.post("/login", data={"email": "bo@example.com", "password": "first password 1"})
    other_cookie = one.cookies["fd_session"]
    api.client.cookies.set("fd_session", other_cookie)
    form = await api.client.get("/account/password")
    refused = await api.client.post("/account/password", data={"password": "second password 2", "confirm": "second password 2"})
    assert refused.status_code == 403  # no CSRF token
    changed = await api.client.post(
        "/account/password", data={"csrf": csrf_of(form.text), "password": "second password 2", "confirm": "second password 2"}
    )
    assert changed.status_code == 200 and "Password saved" in changed.text
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", other_cookie)
    stale = await api.client.get("/")
    assert stale.status_code == 303 and stale.headers["location"] == "/login"


def set_cookies(response: httpx.Response) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("fd_session=")]


async def test_secure_cookie_follows_the_public_url_not_the_request_scheme(api: Api, db_url: str) -> None:
    await add_agent(api.services, "ana@example.com", password="a long password 1")
    form = {"email": "ana@example.com", "password": "a long password 1"}
    # Served over http (public_url http://...): no Secure flag, even for a request made over https.
    app = api.client._transport.app  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as over_https:
        [plain] = set_cookies(await over_https.post("/login", data=form))
    assert "secure" not in plain.lower()
    # Behind a TLS-terminating proxy (public_url https://..., the request reaches us as http): Secure.
    https_services = Services.build(make_config(db_url, server={"secret_key": SECRET, "public_url": "https://desk.example.com"}))
    try:
        transport = httpx.ASGITransport(app=create_app(https_services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as behind_proxy:
            signed_in = await behind_proxy.post("/login", data=form)
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
            return await client.post("/login", data={"email": email, "password": password})

    first = await attempt(1, "  Ana@Example.COM ", "a long password 1")
    assert first.status_code == 303  # the address is found however it is typed
    spellings = [" ana@example.com", "ANA@example.com", "ana@example.com ", "\tAna@example.com", "aNa@Example.com  "]
    for n in range(9):
        assert (await attempt(10 + n, spellings[n % len(spellings)], "guess")).status_code == 401
    limited = await attempt(30, "ana@example.com", "a long password 1")
    assert limited.status_code == 429
