"""Sign-in: the form, wrong passwords, the login rate limit, password change ending other sessions."""

from __future__ import annotations

import re

from tests.fixtures.inbox import Api, add_agent


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
