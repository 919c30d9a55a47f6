"""The agent's reply flow through the API and the actions: the collision guard
(`after_message_id` → 409 `conversation_moved`, nothing written or queued), send and
resolve / set pending in one action, converting with or without a notice, canned
responses' variables filled as macros fill them, the snooze time exposed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from inbox.actions.macros import fill_variables
from inbox.queries.macros import variables_of
from inbox.store.models import Agent, AuditEntry, Message, OutboxItem
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def a_conversation(api: Api, prefix: str = "c") -> tuple[int, int, Any]:
    """A conversation with one inbound message; its id, that message's id, the channel."""
    channel = await add_channel(api.services, f"mail-{prefix}", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound(f"{prefix}1", name="Ana María López", subject="Printer")])
    async with api.services.db.read() as session:
        first = await session.scalar(select(func.max(Message.id)).where(Message.conversation_id == result.conversation_id))
    assert first is not None
    return result.conversation_id, first, channel


async def test_collision_guard_refuses_a_reply_after_a_newer_public_message(api: Api) -> None:
    _, token = await add_agent(api.services, "ana@example.com")
    cid, first, channel = await a_conversation(api)
    url = f"/api/v1/conversations/{cid}/messages"
    # The newest message seen is the newest: it passes.
    ok = await api.client.post(url, headers=api.auth(token), json={"text": "On it", "after_message_id": first})
    assert ok.status_code == 201, ok.text
    mine = ok.json()["id"]
    # A private note after it does not count; the agent's own reply is the newest public one.
    note = await api.client.post(url, headers=api.auth(token), json={"text": "internal", "private": True})
    assert note.status_code == 201
    assert (await api.client.post(url, headers=api.auth(token), json={"text": "Again", "after_message_id": mine})).status_code == 201
    # The customer writes again: a reply that saw only `first` is refused, nothing is written or queued.
    await api.services.ingestor.ingest(channel, [inbound("c2", name="Ana María López", subject="Re: Printer", references=("c1",))])
    messages, queued = await count(api, Message, Message.conversation_id == cid), await count(api, OutboxItem)
    moved = await api.client.post(url, headers=api.auth(token), json={"text": "Too late", "after_message_id": first})
    assert moved.status_code == 409
    assert moved.json()["error"]["code"] == "conversation_moved"
    assert await count(api, Message, Message.conversation_id == cid) == messages and await count(api, OutboxItem) == queued
    assert await count(api, Message, Message.text == "Too late") == 0
    # An outbound reply by another agent moves it too; without the guard ("send anyway") it goes.
    newest = await api.client.get(url, headers=api.auth(token))
    last_public = max(m["id"] for m in newest.json()["items"] if not m["private"])
    assert (await api.client.post(url, headers=api.auth(api.admin_token), json={"text": "Boss here"})).status_code == 201
    again = await api.client.post(url, headers=api.auth(token), json={"text": "Mine", "after_message_id": last_public})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conversation_moved"
    assert (await api.client.post(url, headers=api.auth(token), json={"text": "Mine anyway"})).status_code == 201
    for bad in (0, -1, 10**30, "x"):
        assert (await api.client.post(url, headers=api.auth(token), json={"text": "x", "after_message_id": bad})).status_code == 422


async def test_send_and_resolve_or_set_pending_is_one_audited_action(api: Api) -> None:
    _, token = await add_agent(api.services, "ana@example.com")
    cid, first, _ = await a_conversation(api, "r")
    url = f"/api/v1/conversations/{cid}/messages"
    sent = await api.client.post(url, headers=api.auth(token), json={"text": "Fixed", "status": "resolved", "after_message_id": first})
    assert sent.status_code == 201, sent.text
    conversation = (await api.client.get(f"/api/v1/conversations/{cid}", headers=api.auth(token))).json()
    assert conversation["status"] == "resolved"
    async with api.services.db.read() as session:
        audits = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert audits[-2:] == ["message.create", "conversation.update"]
    pending = await api.client.post(url, headers=api.auth(token), json={"text": "Waiting on you", "status": "pending"})
    assert pending.status_code == 201
    assert (await api.client.get(f"/api/v1/conversations/{cid}", headers=api.auth(token))).json()["status"] == "pending"
    # Another status, or a refused reply, changes nothing.
    assert (await api.client.post(url, headers=api.auth(token), json={"text": "x", "status": "snoozed"})).status_code == 422
    await api.client.post(url, headers=api.auth(token), json={"text": "x", "status": "resolved", "after_message_id": first})
    assert (await api.client.get(f"/api/v1/conversations/{cid}", headers=api.auth(token))).json()["status"] == "pending"


async def test_converting_notifies_the_customer_only_when_asked(api: Api) -> None:
    _, token = await add_agent(api.services, "ana@example.com")
    quiet, _, _ = await a_conversation(api, "q")
    loud, _, _ = await a_conversation(api, "l")

    async def notices(cid: int) -> int:
        return await count(api, Message, Message.conversation_id == cid, Message.author_type == "system", Message.private.is_(False))

    made = await api.client.post(
        f"/api/v1/conversations/{quiet}/ticket", headers=api.auth(token), json={"kind": "incident", "notify": False}
    )
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "incident" and await notices(quiet) == 0
    # The default keeps what conversion always did: the customer is told.
    assert (await api.client.post(f"/api/v1/conversations/{loud}/ticket", headers=api.auth(token), json={})).status_code == 201
    assert await notices(loud) == 1
    async with api.services.db.read() as session:
        details = (
            await session.scalars(select(AuditEntry.details).where(AuditEntry.action == "ticket.create").order_by(AuditEntry.id))
        ).all()
    assert [d["notify"] for d in details] == [False, True]
    bad = await api.client.post(f"/api/v1/conversations/{loud}/ticket", headers=api.auth(token), json={"notify": "maybe"})
    assert bad.status_code == 422


async def test_canned_variables_are_filled_by_the_macros_function_and_snooze_time_is_shown(api: Api) -> None:
    agent, token = await add_agent(api.services, "ana@example.com")
    cid, _, _ = await a_conversation(api, "v")
    async with api.services.db.read() as session:
        name = await session.scalar(select(Agent.name).where(Agent.id == agent.id))
    text = "Hi {{contact.first_name}} ({{contact.name}}), {{agent.name}} here about #{{ticket.number}}."
    filled = await api.services.db.query(lambda s: fill_variables(text, variables_of(s.connection(), cid, agent.id)))
    assert filled == f"Hi Ana (Ana María López), {name} here about #."
    made = await api.client.post(f"/api/v1/conversations/{cid}/ticket", headers=api.auth(token), json={"notify": False})
    number = made.json()["number"]
    filled = await api.services.db.query(lambda s: fill_variables("#{{ticket.number}}", variables_of(s.connection(), cid, None)))
    assert filled == f"#{number}"
    until = "2031-01-02T03:04:00+00:00"
    patched = await api.client.patch(
        f"/api/v1/conversations/{cid}", headers=api.auth(token), json={"status": "snoozed", "snoozed_until": until}
    )
    assert patched.status_code == 200, patched.text
    shown = (await api.client.get(f"/api/v1/conversations/{cid}", headers=api.auth(token))).json()
    assert shown["status"] == "snoozed" and shown["snoozed_until"].startswith("2031-01-02T03:04")
