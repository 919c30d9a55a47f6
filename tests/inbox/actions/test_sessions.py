"""Sessions live on the server: sign-out, "Sign out everywhere", deactivation and expiry
refuse an old cookie at once, on UI pages and API reads alike."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select, update

from inbox.actions.runner import CLI, Tx, perform
from inbox.actions.sessions import end_sessions_in
from inbox.auth import new_login_link
from inbox.store.models import Agent, AgentSession, AuditEntry, utcnow
from tests.fixtures.inbox import Api, add_agent
from tests.fixtures.signin import form_csrf, sign_in


async def signed_in(api: Api, email: str, *, add: bool = True) -> str:
    """Sign `email` in with a fresh cookie jar; returns the session cookie."""
    if add:
        await add_agent(api.services, email, password="a long password 1")
    api.client.cookies.clear()
    response = await sign_in(api.client, email, "a long password 1")
    assert response.status_code == 303, response.text
    return response.cookies["fd_session"]


async def refused(api: Api, cookie: str) -> bool:
    """Whether the cookie is refused everywhere it is used: a UI page and an API read."""
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", cookie)
    page = await api.client.get("/")
    read = await api.client.get("/api/v1/conversations")
    assert page.status_code in (200, 303) and read.status_code in (200, 401), (
        page.status_code,
        read.status_code,
    )
    assert (page.status_code == 303) == (read.status_code == 401), "the UI and the API disagree"
    return page.status_code == 303 and page.headers["location"] == "/login"


async def audit_actions(api: Api) -> list[str]:
    async with api.services.db.read() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all())


async def test_the_cookie_carries_only_a_random_key_and_the_row_holds_the_rest(api: Api) -> None:
    api.client.headers["User-Agent"] = "Firefox/128.0 (test)"
    cookie = await signed_in(api, "ana@example.com")
    async with api.services.db.read() as session:
        row = await session.scalar(select(AgentSession))
        agent = await session.scalar(select(Agent).where(Agent.email == "ana@example.com"))
    assert row is not None and agent is not None
    assert row.key_hash == hashlib.sha256(cookie.encode()).hexdigest() and cookie not in (
        row.key_hash,
        row.csrf,
    )
    assert len(cookie) >= 40 and str(agent.id) not in cookie.split(".")
    assert (row.agent_id, row.user_agent, row.client, row.ended_at) == (
        agent.id,
        "Firefox/128.0 (test)",
        "127.0.0.1",
        None,
    )
    assert dt.timedelta(days=13) < row.expires_at - row.created_at <= dt.timedelta(days=14)
    page = await api.client.get("/account/password")
    assert form_csrf(page.text) == row.csrf


async def test_signing_out_refuses_the_old_cookie_at_once(api: Api) -> None:
    cookie = await signed_in(api, "ana@example.com")
    assert not await refused(api, cookie)
    csrf = form_csrf((await api.client.get("/")).text)
    out = await api.client.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert await refused(api, cookie)
    async with api.services.db.read() as session:
        row = await session.scalar(select(AgentSession))
    assert row is not None and row.ended_at is not None  # the row records the sign-out
    assert "session.start" not in await audit_actions(api)  # signing in and out is not an admin action


async def test_sign_out_everywhere_ends_every_session_of_the_agent_and_no_one_elses(
    api: Api,
) -> None:
    first = await signed_in(api, "ana@example.com")
    second = await signed_in(api, "ana@example.com", add=False)
    bo = await signed_in(api, "bo@example.com")
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", second)
    page = await api.client.get("/account/password")
    assert '<form method="post" action="/account/sessions/end">' in page.text and ">Sign out everywhere</button>" in page.text
    assert (await api.client.post("/account/sessions/end")).status_code == 403  # no CSRF token
    assert not await refused(api, first)
    api.client.cookies.set("fd_session", second)
    everywhere = await api.client.post("/account/sessions/end", data={"csrf": form_csrf(page.text)})
    assert everywhere.status_code == 303 and everywhere.headers["location"] == "/login"
    assert await refused(api, first) and await refused(api, second)
    assert not await refused(api, bo)
    async with api.services.db.read() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "session.end_all"))
    assert entry is not None and entry.details == {"ended": 2}


async def test_the_account_page_offers_sign_out_everywhere_in_spanish(api: Api) -> None:
    await signed_in(api, "ana@example.com")
    page = await api.client.get("/account/password", headers={"Accept-Language": "es"})
    assert ">Cerrar sesión en todas partes</button>" in page.text and 'for="current">Contraseña actual<' in page.text
    assert "Revocar también mis tokens de API" in page.text


async def test_a_deactivated_agents_sessions_are_refused_and_stay_ended(api: Api) -> None:
    cookie = await signed_in(api, "ana@example.com")
    async with api.services.db.read() as session:
        ana = await session.scalar(select(Agent).where(Agent.email == "ana@example.com"))
    assert ana is not None
    off = await api.client.patch(f"/api/v1/agents/{ana.id}", json={"active": False}, headers=api.auth(api.admin_token))
    assert off.status_code == 200
    assert await refused(api, cookie)
    back = await api.client.patch(f"/api/v1/agents/{ana.id}", json={"active": True}, headers=api.auth(api.admin_token))
    assert back.status_code == 200
    assert await refused(api, cookie)  # reactivating does not bring the old session back


async def test_an_inactive_agents_session_is_refused_however_they_were_deactivated(
    api: Api,
) -> None:
    cookie = await signed_in(api, "ana@example.com")
    async with api.services.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.email == "ana@example.com").values(active=False))
    assert await refused(api, cookie)


async def test_end_sessions_in_signs_an_agent_out_inside_another_actions_transaction(
    api: Api,
) -> None:
    ana = await signed_in(api, "ana@example.com")
    bo = await signed_in(api, "bo@example.com")
    async with api.services.db.read() as session:
        ana_id = await session.scalar(select(Agent.id).where(Agent.email == "ana@example.com"))
    assert ana_id is not None

    def deactivate(tx: Tx) -> int:
        tx.conn.execute(update(Agent).where(Agent.id == ana_id).values(active=False))
        ended = end_sessions_in(tx, ana_id)
        tx.audit("agent.update", f"agent:{ana_id}", {"active": False})
        return ended

    assert await perform(api.services.db, api.services.bus, CLI, deactivate) == 1
    async with api.services.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id == ana_id).values(active=True))
    assert await refused(api, ana)  # ended, not just hidden while inactive
    assert not await refused(api, bo)

    def then_fail(tx: Tx) -> None:
        end_sessions_in(tx, ana_id)
        raise RuntimeError("the calling action failed")

    fresh = await signed_in(api, "ana@example.com", add=False)
    try:
        await perform(api.services.db, api.services.bus, CLI, then_fail)
    except RuntimeError:
        pass
    assert not await refused(api, fresh)  # rolled back with the action


async def test_an_expired_session_or_a_foreign_cookie_is_refused(api: Api) -> None:
    cookie = await signed_in(api, "ana@example.com")
    assert await refused(api, "not-a-session-key")
    assert await refused(api, "x" * 5000)
    async with api.services.db.transaction() as session:
        await session.execute(update(AgentSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert await refused(api, cookie)


async def test_last_seen_is_written_at_most_once_a_minute(api: Api) -> None:
    cookie = await signed_in(api, "ana@example.com")
    long_ago = utcnow() - dt.timedelta(minutes=5)
    async with api.services.db.transaction() as session:
        await session.execute(update(AgentSession).values(last_seen_at=long_ago))

    async def last_seen() -> dt.datetime:
        async with api.services.db.read() as session:
            seen = await session.scalar(select(AgentSession.last_seen_at))
        assert seen is not None
        return seen

    assert not await refused(api, cookie)
    touched = await last_seen()
    assert touched > long_ago + dt.timedelta(minutes=4)
    assert not await refused(api, cookie)
    assert await last_seen() == touched  # within the minute: not written again


async def test_a_one_time_link_session_chooses_a_password_without_a_current_one_once(
    api: Api,
) -> None:
    async with api.services.db.transaction() as session:
        agent = Agent(email="new@example.com", name="New", role="agent")
        session.add(agent)
        await session.flush()
        token, link = new_login_link(agent.id)
        session.add(link)
    api.client.cookies.clear()
    landed = await api.client.get(f"/login/once/{token}")
    assert landed.status_code == 303 and landed.headers["location"] == "/account/password"
    form = await api.client.get("/account/password")
    assert 'name="current"' not in form.text
    chosen = await api.client.post(
        "/account/password",
        data={
            "csrf": form_csrf(form.text),
            "password": "my first password",
            "confirm": "my first password",
        },
    )
    assert chosen.status_code == 200 and "Password saved" in chosen.text
    again = await api.client.get("/account/password")
    assert 'name="current"' in again.text  # the link's session is spent: from now on, the current one
    refused_change = await api.client.post(
        "/account/password",
        data={
            "csrf": form_csrf(again.text),
            "password": "my second password",
            "confirm": "my second password",
        },
    )
    assert refused_change.status_code == 422
    api.client.cookies.clear()
    assert (await sign_in(api.client, "new@example.com", "my first password")).status_code == 303
