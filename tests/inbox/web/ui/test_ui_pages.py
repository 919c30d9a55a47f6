"""Agent UI routes without a browser: inbox views and search, conversation actions, roles, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from inbox.store.models import (
    Agent,
    AuditEntry,
    Channel,
    Contact,
    Conversation,
    Message,
    Rule,
    Team,
    Ticket,
)
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound
from tests.fixtures.signin import sign_in as form_sign_in


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def sign_in(api: Api, email: str, role: str = "agent") -> str:
    await add_agent(api.services, email, role=role, password="a long password 1")
    api.client.cookies.clear()
    response = await form_sign_in(api.client, email, "a long password 1")
    assert response.status_code == 303
    return csrf_of((await api.client.get("/")).text)


async def test_inbox_views_filters_and_full_text_search(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    await api.services.ingestor.ingest(channel, [inbound("a1", sender="ana@example.com", text="My invoice is wrong", subject="Billing")])
    await api.services.ingestor.ingest(channel, [inbound("b1", sender="bo@example.com", text="The app crashes on start", subject="Crash")])
    await sign_in(api, "agent@example.com")
    page = await api.client.get("/")
    assert page.status_code == 200 and "Billing" in page.text and "Crash" in page.text
    assert 'class="unread"' in page.text
    found = await api.client.get("/", params={"q": "invoice"})
    assert "Billing" in found.text and "Crash" not in found.text
    prefix = await api.client.get("/", params={"q": "crash"})
    assert "Crash" in prefix.text and "Billing" not in prefix.text
    odd = await api.client.get("/", params={"q": 'in"voice* OR (', "cursor": "not-a-cursor"})
    assert odd.status_code == 200
    mine = await api.client.get("/", params={"view": "mine"})
    assert "Billing" not in mine.text
    rows = await api.client.get("/inbox/rows", params={"view": "unassigned", "channel": "mail"})
    assert rows.status_code == 200 and "Crash" in rows.text and "<html" not in rows.text


async def mail_conversation(api: Api, text: str, subject: str) -> tuple[int, str]:
    """A conversation with one customer e-mail, and an agent signed in: (its id, the CSRF token)."""
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", text=text, subject=subject)])
    return result.conversation_id, await sign_in(api, "agent@example.com")


async def test_a_reply_from_the_page_carries_the_chosen_files(api: Api) -> None:
    cid, csrf = await mail_conversation(api, "Which form?", "Forms")
    page = await api.client.get(f"/conversations/{cid}")
    assert 'enctype="multipart/form-data"' in page.text and 'type="file" name="file" multiple' in page.text
    # A browser sends an empty, nameless part when no file was chosen: a reply without files.
    plain = await api.client.post(
        f"/conversations/{cid}/reply", data={"csrf": csrf, "text": "No file"}, files=[("file", ("", b"", "application/octet-stream"))]
    )
    assert plain.status_code == 303
    sent = await api.client.post(
        f"/conversations/{cid}/reply",
        data={"csrf": csrf, "text": "Here it is"},
        files=[("file", ("form-A1.pdf", b"%PDF form", "application/pdf"))],
    )
    assert sent.status_code == 303 and "error" not in sent.headers["location"]
    empty = await api.client.post(
        f"/conversations/{cid}/reply", data={"csrf": csrf, "text": "Oops"}, files=[("file", ("blank.txt", b"", "text/plain"))]
    )
    assert empty.status_code == 303 and empty.headers["location"].endswith("?error=files_refused")
    shown = await api.client.get(empty.headers["location"])
    assert "The reply was not sent" in shown.text
    messages = (await api.client.get(f"/api/v1/conversations/{cid}/messages", headers=api.auth(api.admin_token))).json()["items"]
    assert [(m["text"], [a["filename"] for a in m["attachments"]]) for m in messages] == [
        ("Which form?", []),
        ("No file", []),
        ("Here it is", ["form-A1.pdf"]),
    ]
    assert "form-A1.pdf" in (await api.client.get(f"/conversations/{cid}")).text
    forged = await api.client.post(
        f"/conversations/{cid}/reply", data={"csrf": "wrong", "text": "x"}, files=[("file", ("a.txt", b"a", "text/plain"))]
    )
    assert forged.status_code in (400, 403)


async def test_reply_assign_resolve_and_convert_to_incident(api: Api) -> None:
    cid, csrf = await mail_conversation(api, "Site is slow", "Slow")
    page = await api.client.get(f"/conversations/{cid}")
    assert page.status_code == 200 and "Site is slow" in page.text
    reply = await api.client.post(f"/conversations/{cid}/reply", data={"csrf": csrf, "text": "We are **on it**"})
    assert reply.status_code == 303
    assign = await api.client.post(f"/conversations/{cid}/update", data={"csrf": csrf, "assignee": "me", "tags": "web, slow"})
    assert assign.status_code == 303
    resolved = await api.client.post(f"/conversations/{cid}/update", data={"csrf": csrf, "status": "resolved"})
    assert resolved.status_code == 303
    converted = await api.client.post(
        f"/conversations/{cid}/ticket", data={"csrf": csrf, "kind": "incident", "impact": "high", "urgency": "medium"}
    )
    assert converted.status_code == 303 and converted.headers["location"] == f"/conversations/{cid}"  # the agent stays
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.status == "resolved" and conversation.tags == ["slow", "web"]
        ticket = await session.scalar(select(Ticket).where(Ticket.conversation_id == cid))
        assert ticket is not None and ticket.kind == "incident" and ticket.priority == "P2"
        sent = await session.scalar(select(Message).where(Message.conversation_id == cid, Message.direction == "out"))
        assert sent is not None and "<strong>on it</strong>" in (sent.html or "")
    timeline = await api.client.get(f"/conversations/{cid}/timeline")
    assert "status → Resolved" in timeline.text and "<strong>on it</strong>" in timeline.text
    assert "Incident opened" in timeline.text and "Ticket opened" not in timeline.text
    ticket_page = await api.client.get(f"/tickets/{ticket.id}")
    assert ticket_page.status_code == 200 and "P2" in ticket_page.text and "<strong>on it</strong>" in ticket_page.text  # the thread


async def test_form_posts_without_csrf_are_refused(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1")])
    await sign_in(api, "agent@example.com")
    cid = result.conversation_id
    for path, data in [
        (f"/conversations/{cid}/reply", {"text": "hi"}),
        (f"/conversations/{cid}/update", {"status": "resolved"}),
        (f"/conversations/{cid}/ticket", {"kind": "request"}),
        ("/problems", {"title": "x"}),
    ]:
        refused = await api.client.post(path, data={**data, "csrf": "forged"})
        assert refused.status_code == 403, path
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, cid)
        assert conversation is not None and conversation.status == "open"


async def test_customer_html_is_shown_inert(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", text=hostile, html=hostile, subject="<b>hi</b>")])
    await sign_in(api, "agent@example.com")
    page = await api.client.get(f"/conversations/{result.conversation_id}")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html_only = '<p>Hi <b>there</b></p><script>alert(3)</script><a href="javascript:alert(4)">x</a>'
    [other] = await api.services.ingestor.ingest(channel, [inbound("a2", sender="z@example.com", text="", html=html_only)])
    shown = await api.client.get(f"/conversations/{other.conversation_id}")
    assert "Hi there" in shown.text and "alert(3)" not in shown.text and "javascript:" not in shown.text


async def test_agent_cannot_open_another_teams_conversation_by_url(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", subject="Secret")])
    async with api.services.db.transaction() as session:
        team = Team(name="vip")
        session.add(team)
        await session.flush()
        conversation = await session.get(Conversation, result.conversation_id)
        assert conversation is not None
        conversation.team_id = team.id
    csrf = await sign_in(api, "outsider@example.com")
    cid = result.conversation_id
    assert (await api.client.get(f"/conversations/{cid}")).status_code == 404
    assert (await api.client.get(f"/conversations/{cid}/timeline")).status_code == 404
    assert (await api.client.post(f"/conversations/{cid}/reply", data={"csrf": csrf, "text": "x"})).status_code == 404
    assert "Secret" not in (await api.client.get("/", params={"status": "any"})).text
    async with api.services.db.read() as session:
        contact_id = await session.scalar(select(Contact.id))
    assert (await api.client.get(f"/contacts/{contact_id}")).status_code == 404
    for path in ("/admin/channels", "/admin/rules", "/admin/agents", "/admin/tokens", "/admin/quarantine", "/admin/audit"):
        assert (await api.client.get(path)).status_code == 403, path
    refused = await api.client.post("/admin/channels", data={"csrf": csrf, "name": "sneaky", "type": "spool"})
    assert refused.status_code == 403


async def test_contact_merge_moves_identities_and_conversations(api: Api) -> None:
    mail = await add_channel(api.services, "mail", "email")
    chat = await add_channel(api.services, "chat", "widget")
    [a] = await api.services.ingestor.ingest(mail, [inbound("m1", sender="ana@example.com")])
    [b] = await api.services.ingestor.ingest(chat, [inbound("c1", sender="visitor-9", name="Ana on chat")])
    csrf = await sign_in(api, "agent@example.com")
    async with api.services.db.read() as session:
        keep = (await session.get(Conversation, a.conversation_id)).contact_id  # type: ignore[union-attr]
        other = (await session.get(Conversation, b.conversation_id)).contact_id  # type: ignore[union-attr]
    assert keep != other
    merged = await api.client.post(f"/contacts/{keep}/merge", data={"csrf": csrf, "other": str(other)})
    assert merged.status_code == 303
    page = await api.client.get(f"/contacts/{keep}")
    assert "visitor-9" in page.text and "ana@example.com" in page.text
    async with api.services.db.read() as session:
        moved = await session.get(Conversation, b.conversation_id)
        assert moved is not None and moved.contact_id == keep


async def test_admin_adds_a_channel_and_a_rule_and_tests_it(api: Api) -> None:
    csrf = await sign_in(api, "root@example.com", role="admin")
    for section in ("channels", "rules", "teams", "agents", "tokens", "canned", "quarantine", "audit"):
        assert (await api.client.get(f"/admin/{section}")).status_code == 200, section
    incomplete = await api.client.post("/admin/channels", data={"csrf": csrf, "name": "drop", "type": "spool", "settings": "{}"})
    # The adapter's model wants its dirs: the form comes back with the reason and what was typed.
    assert incomplete.status_code == 422 and "inbox_dir" in incomplete.text and 'value="drop"' in incomplete.text
    secret = await api.client.post(
        "/admin/channels", data={"csrf": csrf, "name": "tg", "type": "telegram", "settings": '{"token": "123:abc"}'}
    )
    assert secret.status_code == 303 and "error" not in secret.headers["location"]
    added = await api.client.post(
        "/admin/channels",
        data={"csrf": csrf, "name": "drop", "type": "spool", "settings": '{"inbox_dir": "/tmp/fd-in", "outbox_dir": "/tmp/fd-out"}'},
    )
    assert added.status_code == 303 and "error" not in added.headers["location"]
    listed = await api.client.get("/admin/channels", params={"edit": "1"})
    assert "123:abc" not in listed.text  # sealed at rest, masked on screen
    rule = await api.client.post(
        "/admin/rules",
        data={"csrf": csrf, "name": "invoices", "conditions": '{"text_matches": "(?i)invoice"}', "actions": '{"tag": ["billing"]}'},
    )
    assert rule.status_code == 303 and "error" not in rule.headers["location"]
    tested = await api.client.post("/admin/rules/test", data={"csrf": csrf, "text": "my invoice", "channel_type": "email"})
    assert tested.status_code == 200 and "invoices" in tested.text.split("data-rule-outcome")[1]
    bad = await api.client.post("/admin/rules", data={"csrf": csrf, "name": "bad", "conditions": "{", "actions": "{}"})
    assert bad.status_code == 422 and "not valid JSON" in bad.text and 'value="bad"' in bad.text
    canned = await api.client.post("/admin/canned", data={"csrf": csrf, "name": "thanks", "text": "Thank you!"})
    assert canned.status_code == 303
    invite = await api.client.post("/admin/agents", data={"csrf": csrf, "email": "new@example.com", "name": "New", "role": "agent"})
    assert invite.status_code == 200 and "/login/once/" in invite.text
    token = await api.client.post("/admin/tokens", data={"csrf": csrf, "agent": "new@example.com", "name": "ci"})
    assert token.status_code == 200 and "fd_" in token.text
    async with api.services.db.read() as session:
        assert await session.scalar(select(Channel.id).where(Channel.name == "drop")) is not None
        stored = await session.scalar(select(Channel.settings).where(Channel.name == "tg"))
        assert stored is not None and "123:abc" not in str(stored)
        assert await session.scalar(select(Rule.id).where(Rule.name == "invoices")) is not None
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"channel.create", "rule.create", "canned.save", "agent.invite", "token.create"} <= actions
    audit = await api.client.get("/admin/audit")
    assert "rule.create" in audit.text
    dashboard = await api.client.get("/dashboard")
    assert dashboard.status_code == 200 and "<svg" in dashboard.text


async def test_presence_shows_who_else_is_viewing_or_typing(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1")])
    cid = result.conversation_id
    await sign_in(api, "ana@example.com")
    ana_cookie = api.client.cookies["fd_session"]
    ana_csrf = csrf_of((await api.client.get(f"/conversations/{cid}")).text)
    await sign_in(api, "bo@example.com")
    bo_csrf = csrf_of((await api.client.get(f"/conversations/{cid}")).text)
    bo_cookie = api.client.cookies["fd_session"]
    assert (await api.client.post(f"/conversations/{cid}/presence?state=viewing")).status_code == 403  # no CSRF header
    first = await api.client.post(f"/conversations/{cid}/presence?state=typing", headers={"X-CSRF-Token": bo_csrf})
    assert first.json() == {"others": []}
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", ana_cookie)
    seen = await api.client.post(f"/conversations/{cid}/presence?state=viewing", headers={"X-CSRF-Token": ana_csrf})
    assert seen.json() == {"others": [{"name": "Bo", "typing": True}]}
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", bo_cookie)
    await api.client.post(f"/conversations/{cid}/presence?state=gone", headers={"X-CSRF-Token": bo_csrf})
    api.client.cookies.clear()
    api.client.cookies.set("fd_session", ana_cookie)
    alone = await api.client.post(f"/conversations/{cid}/presence?state=viewing", headers={"X-CSRF-Token": ana_csrf})
    assert alone.json() == {"others": []}


async def test_safe_image_attachments_get_a_preview_and_canned_responses_are_offered(api: Api) -> None:
    from channels.base import InboundAttachment

    channel = await add_channel(api.services, "mail", "email")
    png = b"\\x89PNG\\r\\n\\x1a\\n" + b"0" * 32
    message = inbound(
        "a1", attachments=[InboundAttachment("shot.png", "image/png", png), InboundAttachment("evil.svg", "image/svg+xml", b"<svg/>")]
    )
    [result] = await api.services.ingestor.ingest(channel, [message])
    csrf = await sign_in(api, "root@example.com", role="admin")
    await api.client.post("/admin/canned", data={"csrf": csrf, "name": "Thanks", "text": "Thank you for writing!"})
    page = await api.client.get(f"/conversations/{result.conversation_id}")
    images = re.findall(r'<img src="([^"]+)" alt="([^"]+)"', page.text)
    assert [alt for _, alt in images] == ["shot.png"]
    assert "evil.svg" in page.text
    assert "Thank you for writing!" in page.text


async def test_snooze_language_choice_and_quarantine_actions(api: Api) -> None:
    from inbox.store.models import QuarantineItem

    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1")])
    async with api.services.db.transaction() as session:
        item = QuarantineItem(channel_id=channel.id, external_id="bad-1", error="cannot parse", raw=b"<script>alert(1)</script>")
        session.add(item)
        await session.flush()
        item_id = item.id
    csrf = await sign_in(api, "root@example.com", role="admin")
    snoozed = await api.client.post(
        f"/conversations/{result.conversation_id}/update", data={"csrf": csrf, "status": "snoozed", "snooze": "1d"}
    )
    assert snoozed.status_code == 303
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, result.conversation_id)
        assert conversation is not None and conversation.status == "snoozed" and conversation.snoozed_until is not None
    from inbox.store.models import Event

    async with api.services.db.read() as session:
        before = len((await session.scalars(select(Event.seq).where(Event.type == "conversation.updated"))).all())
    unchanged = {"csrf": csrf, "status": "snoozed", "snooze": "1d", "assignee": "", "team": "", "priority": "", "tags": ""}
    await api.client.post(f"/conversations/{result.conversation_id}/update", data=unchanged)
    async with api.services.db.read() as session:
        after = len((await session.scalars(select(Event.seq).where(Event.type == "conversation.updated"))).all())
    assert after == before  # saving the panel as it is logs nothing
    await api.client.post("/account/language", data={"csrf": csrf, "language": "es"})
    spanish = await api.client.get("/", headers={"Accept-Language": "en"})
    assert "Bandeja de entrada" in spanish.text
    tested = await api.client.post("/admin/rules/test", data={"csrf": csrf, "text": "factura", "channel_type": "email"})
    assert "No se activa ninguna regla." in tested.text.split("data-rule-outcome")[1]  # the tester speaks Spanish too
    away = await api.client.post("/account/availability", data={"csrf": csrf, "availability": "away"})
    assert away.status_code == 303
    async with api.services.db.read() as session:
        assert await session.scalar(select(Agent.availability).where(Agent.email == "root@example.com")) == "away"
    raw = await api.client.get(f"/admin/quarantine/{item_id}")
    assert raw.status_code == 200 and "&lt;script&gt;alert(1)" in raw.text and "<script>alert(1)" not in raw.text
    deleted = await api.client.post(f"/admin/quarantine/{item_id}", data={"csrf": csrf, "action": "delete"})
    assert deleted.status_code == 303
    async with api.services.db.read() as session:
        gone = await session.get(QuarantineItem, item_id)
        assert gone is not None and gone.status == "deleted"


async def test_major_incident_links_children_and_duplicates_are_offered_for_merge(api: Api) -> None:
    mail = await add_channel(api.services, "mail", "email")
    chat = await add_channel(api.services, "chat", "widget")
    [a] = await api.services.ingestor.ingest(mail, [inbound("m1", sender="ana@example.com", name="Ana Pérez", text="down")])
    [b] = await api.services.ingestor.ingest(chat, [inbound("c1", sender="visitor-7", name="Ana Pérez", text="down too")])
    csrf = await sign_in(api, "agent@example.com")
    major = await api.client.post(
        f"/conversations/{a.conversation_id}/ticket", data={"csrf": csrf, "kind": "incident", "impact": "high", "urgency": "high"}
    )
    child = await api.client.post(f"/conversations/{b.conversation_id}/ticket", data={"csrf": csrf, "kind": "incident"})
    async with api.services.db.read() as session:
        child_ticket = await session.scalar(select(Ticket).where(Ticket.conversation_id == b.conversation_id))
        assert child_ticket is not None
    assert major.status_code == 303
    async with api.services.db.read() as session:
        major_id = await session.scalar(select(Ticket.id).where(Ticket.conversation_id == a.conversation_id))
    linked = await api.client.post(f"/tickets/{major_id}", data={"csrf": csrf, "status": "new", "children": str(child_ticket.number)})
    assert linked.status_code == 303 and "error" not in linked.headers["location"]
    async with api.services.db.read() as session:
        refreshed = await session.get(Ticket, child_ticket.id)
        assert refreshed is not None and refreshed.parent_id is not None
    assert child.status_code == 303
    async with api.services.db.read() as session:
        keep = (await session.get(Conversation, a.conversation_id)).contact_id  # type: ignore[union-attr]
    page = await api.client.get(f"/contacts/{keep}")
    assert "Possibly the same person" in page.text and "Merge into this one" in page.text


async def test_inbox_pages_through_older_conversations(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from inbox.web.ui import inbox_pages

    monkeypatch.setattr(inbox_pages, "PAGE", 1)
    channel = await add_channel(api.services, "mail", "email")
    await api.services.ingestor.ingest(channel, [inbound("a1", sender="ana@example.com", subject="First")])
    await api.services.ingestor.ingest(channel, [inbound("b1", sender="bo@example.com", subject="Second")])
    await sign_in(api, "agent@example.com")
    newest = await api.client.get("/")
    assert "Second" in newest.text and "First" not in newest.text
    older = re.search(r'<a href="([^"]+)" rel="next">', newest.text)
    assert older
    page_two = await api.client.get(older.group(1).replace("&amp;", "&"))
    assert "First" in page_two.text and "Second" not in page_two.text


async def test_admin_pages_show_messages_by_key_never_text_from_the_link(api: Api) -> None:
    await sign_in(api, "root@example.com", role="admin")
    crafted = "Your account is locked, call +1 555 0100 <b>now</b>"
    for section in ("channels", "rules", "teams", "agents", "tokens", "canned", "quarantine", "audit"):
        page = await api.client.get(f"/admin/{section}", params={"error": crafted, "flash": crafted})
        assert page.status_code == 200 and "555 0100" not in page.text, section
        assert 'role="alert"' not in page.text and 'class="notice"' not in page.text, section
    known = await api.client.get("/admin/channels", params={"error": "read_only", "flash": "saved"})
    assert "Provisioned from the config file: change it there." in known.text and "Saved." in known.text
    spanish = await api.client.get("/admin/rules", params={"flash": "saved"}, headers={"Accept-Language": "es"})
    assert "Guardado." in spanish.text
