"""The agent's desk, inbox side: what a row says (display names, preview, waiting time, SLA
badge, assignee's name), unread that ignores the agent's own doing, search across every
status, empty states that say why, undo after resolve, and invited agents who never signed
in (not online, never auto-assigned)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select, update

from inbox.actions import agents as agent_actions
from inbox.actions import conversations as actions
from inbox.actions import rules as rule_actions
from inbox.actions.runner import Actor
from inbox.auth import Principal
from inbox.errors import Conflict, Invalid, NotFound
from inbox.pipeline.replies import Reply, queue_reply
from inbox.pipeline.widget_store import WidgetTranscripts
from inbox.queries import conversations as conv
from inbox.queries.contact_names import display_name
from inbox.store.models import Agent, AuditEntry, Conversation, Message, Team, TeamMember, Ticket, utcnow
from inbox.web.ui.inbox_pages import InboxQuery
from routing.assignment import AgentState, choose_agent
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces

LONG = "My parcel never arrived. " * 12


def principal(agent: Agent) -> Principal:
    return Principal(agent.id, agent.email, agent.name, agent.role, None)


def test_display_name_is_a_name_an_address_or_a_numbered_visitor_never_a_key() -> None:
    assert display_name("Carla Ruiz", "carla@example.com", 7) == "Carla Ruiz"
    assert display_name("v:20Z_0JfT9xk", None, 42) == "Visitor 42"
    assert display_name("u:8812", "u8812@example.com", 3) == "u8812@example.com"
    assert display_name("  ", None, 5, visitor="Visitante") == "Visitante 5"
    assert display_name(None, "ana@example.com", 1) == "ana@example.com"


async def test_rows_say_who_what_how_long_and_how_urgent(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc, "chat", "widget")
    ana, _ = await add_agent(svc, "ana@example.com")
    results = await svc.ingestor.ingest(
        channel,
        [
            inbound("w1", sender="v:20Z_0JfT9xk", text=LONG),
            inbound("w2", sender="carla@example.com", name="Carla", subject="Refund", text="Hi"),
        ],
    )
    visitor_conv, carla_conv = results[0].conversation_id, results[1].conversation_id
    due = utcnow() + dt.timedelta(minutes=30)
    async with svc.db.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.id == carla_conv).values(assignee_id=ana.id))
        session.add(Ticket(conversation_id=carla_conv, number=1, kind="incident", status="open", priority="P2", first_response_due=due))
    async with svc.db.read() as session:
        rows = await conv.describe(session, await conv.list_conversations(session, principal(ana), conv.ListFilter(), after=None, limit=10))
    by_id = {r["id"]: r for r in rows}
    visitor, carla = by_id[visitor_conv], by_id[carla_conv]
    assert visitor["contact"]["display_name"] == f"Visitor {visitor['contact']['id']}"
    assert "v:" not in visitor["contact"]["display_name"]
    assert len(visitor["preview"]) == 120 and visitor["preview"].startswith("My parcel never arrived.") and visitor["preview"].endswith("…")
    assert visitor["waiting_since"] is not None and visitor["sla"] is None and visitor["assignee_name"] is None
    assert carla["assignee_name"] == "Ana" and carla["assignee"] == "ana@example.com"
    assert carla["sla"] == {"due_at": due.isoformat(), "state": "due_soon"}
    # Once answered, the customer no longer waits; a private note or an auto-reply is no answer.
    async with svc.db.transaction() as session:
        await session.run_sync(lambda s: queue_reply(s.connection(), carla_conv, Reply(text="note", private=True, agent_id=ana.id), []))
        await session.run_sync(lambda s: queue_reply(s.connection(), carla_conv, Reply(text="auto", author_type="system"), []))
    async with svc.db.read() as session:
        carla = (await conv.describe(session, [await session.get_one(Conversation, carla_conv)]))[0]
    assert carla["waiting_since"] is not None and carla["preview"] == "Hi"
    async with svc.db.transaction() as session:
        await session.run_sync(lambda s: queue_reply(s.connection(), carla_conv, Reply(text="On its way", agent_id=ana.id), []))
    async with svc.db.read() as session:
        carla = (await conv.describe(session, [await session.get_one(Conversation, carla_conv)]))[0]
    assert carla["waiting_since"] is None and carla["preview"] == "On its way"
    listed = (await api.client.get("/api/v1/conversations", headers=api.auth(api.admin_token))).json()["items"]
    assert {c["contact"]["display_name"] for c in listed} == {"Carla", f"Visitor {visitor['contact']['id']}"}


async def test_a_listed_row_reads_as_its_conversation_and_previews_skip_deleted_messages(api: Api) -> None:
    """The lists hand `describe` rows, not ORM objects (issue 23): the same JSON either way;
    the preview is the last public message that is not deleted, in every conversation given."""
    svc = api.services
    channel = await add_channel(svc, "mail", "email")
    ana, _ = await add_agent(svc, "ana@example.com")
    results = await svc.ingestor.ingest(
        channel,
        [
            inbound("d1", sender="dora@example.com", subject="Invoice", text="First"),
            inbound("e1", sender="eli@example.com", subject="Login", text="Locked out"),
        ],
    )
    dora, eli = results[0].conversation_id, results[1].conversation_id
    async with svc.db.transaction() as session:
        await session.run_sync(lambda s: queue_reply(s.connection(), dora, Reply(text="Second", agent_id=ana.id), []))
        last = await session.scalar(select(func.max(Message.id)).where(Message.conversation_id == dora))
        await session.execute(update(Message).where(Message.id == last).values(deleted_at=utcnow()))
    admin = Principal(0, "root@example.com", "Root", "admin", None)
    async with svc.db.read() as session:
        rows = await conv.list_conversations(session, admin, conv.ListFilter(), after=None, limit=10)
        from_rows = {d["id"]: d for d in await conv.describe(session, rows)}
        objects = [await session.get_one(Conversation, i) for i in (dora, eli)]
        from_objects = {d["id"]: d for d in await conv.describe(session, objects)}
    assert from_rows == from_objects and set(from_rows) == {dora, eli}
    assert from_rows[dora]["preview"] == "First" and from_rows[eli]["preview"] == "Locked out"


async def test_one_contacts_conversations_each_carry_their_own_contact_shape(api: Api) -> None:
    """The contact page's rows are all one contact's: its shape is built once but each row
    gets its own copy (a caller changing one row changes no other)."""
    svc = api.services
    channel = await add_channel(svc, "mail", "email")
    results = await svc.ingestor.ingest(
        channel,
        [
            inbound("f1", sender="fay@example.com", subject="One", text="First", thread_key="f1"),
            inbound("f2", sender="fay@example.com", subject="Two", text="Second", thread_key="f2"),
        ],
    )
    admin = Principal(0, "root@example.com", "Root", "admin", None)
    async with svc.db.read() as session:
        rows = await conv.list_conversations(session, admin, conv.ListFilter(), after=None, limit=10)
        shapes = await conv.describe(session, rows)
    assert {s["id"] for s in shapes} == {r.conversation_id for r in results}
    first, second = shapes
    assert first["contact"] == second["contact"] and first["contact"]["email"] == "fay@example.com"
    assert first["contact"] is not second["contact"]
    assert first["waiting_since"] is not None and second["waiting_since"] is not None


async def test_an_agents_own_reply_and_the_notices_it_causes_never_make_it_unread_for_them(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc)
    ana, _ = await add_agent(svc, "ana@example.com")
    bob, _ = await add_agent(svc, "bob@example.com")
    cid = (await svc.ingestor.ingest(channel, [inbound("u1", thread_key="t1")]))[0].conversation_id

    async def unread_for(agent: Agent) -> bool:
        async with svc.db.read() as session:
            return cid in await conv.unread_among(session, agent.id, [cid])

    assert await unread_for(ana) and await unread_for(bob)
    await actions.mark_read(svc.ctx, Actor.of(principal(ana)), cid)
    await actions.mark_read(svc.ctx, Actor.of(principal(bob)), cid)
    assert not await unread_for(ana)
    # Ana answers, and converting to a ticket sends the customer a notice (a system message).
    async with svc.db.transaction() as session:
        await session.run_sync(lambda s: queue_reply(s.connection(), cid, Reply(text="Looking", agent_id=ana.id), []))
        await session.run_sync(lambda s: queue_reply(s.connection(), cid, Reply(text="Ticket #1 opened", author_type="system"), []))
    assert not await unread_for(ana)
    assert await unread_for(bob)  # another agent's reply is news to Bob
    await actions.mark_read(svc.ctx, Actor.of(principal(bob)), cid)
    again = await svc.ingestor.ingest(channel, [inbound("u2", text="Thanks!", thread_key="t1")])
    assert again[0].conversation_id == cid
    assert await unread_for(ana) and await unread_for(bob)  # the customer speaking is news to all


async def test_search_spans_every_status_unless_one_is_chosen_and_empty_lists_say_why(surfaces: Surfaces) -> None:
    svc = surfaces.api.services
    assert InboxQuery.from_form({}).filters().status == "open"
    assert InboxQuery.from_form({"q": "parcel"}).filters().status is None
    assert InboxQuery.from_form({"q": "parcel", "status": "open"}).filters().status == "open"
    await surfaces.csrf()
    empty = (await surfaces.client.get("/?status=any")).text
    assert "No conversations yet." in empty and "Clear filters" not in empty
    channel = await add_channel(svc)
    cid = (await svc.ingestor.ingest(channel, [inbound("s1", text="Where is my parcel?")]))[0].conversation_id
    async with svc.db.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.id == cid).values(status="pending"))
    page = await surfaces.client.get("/?q=parcel")
    assert f'data-id="{cid}"' in page.text
    assert re.search(r"<title>\(1\) Inbox · Frontdesk</title>", page.text)
    narrowed = (await surfaces.client.get("/?q=parcel&status=open")).text
    assert f'data-id="{cid}"' not in narrowed
    assert "No conversations match these filters." in narrowed and "data-clear-filters" in narrowed
    assert "No conversations match these filters." in (await surfaces.client.get("/")).text  # open only, none open


async def test_resolve_from_the_inbox_can_be_undone_back_to_the_previous_status_and_is_audited(surfaces: Surfaces) -> None:
    svc = surfaces.api.services
    channel = await add_channel(svc)
    cid = (await svc.ingestor.ingest(channel, [inbound("r1")]))[0].conversation_id
    async with svc.db.transaction() as session:
        await session.execute(update(Conversation).where(Conversation.id == cid).values(status="pending"))
    json_headers = {"Accept": "application/json"}
    csrf = await surfaces.csrf()
    resolved = await surfaces.client.post(f"/conversations/{cid}/resolve", data={"csrf": csrf}, headers=json_headers)
    assert resolved.status_code == 200 and resolved.json() == {"id": cid, "previous": "pending", "snoozed_until": None}
    undone = await surfaces.client.post(
        f"/conversations/{cid}/undo-resolve", data={"csrf": csrf, "previous": "pending"}, headers=json_headers
    )
    assert undone.status_code == 200, undone.text
    async with svc.db.read() as session:
        assert await session.scalar(select(Conversation.status).where(Conversation.id == cid)) == "pending"
        audited = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.target == f"conversation:{cid}")))
    assert audited == ["conversation.update", "conversation.update", "conversation.undo_resolve"]
    # Not resolved any more: nothing to undo (someone reopened it meanwhile).
    again = await surfaces.client.post(f"/conversations/{cid}/undo-resolve", data={"csrf": csrf, "previous": "open"}, headers=json_headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_resolved"
    without_csrf = await surfaces.client.post(f"/conversations/{cid}/resolve", data={}, headers=json_headers)
    assert without_csrf.status_code == 403
    # The form fallback (no script) goes back to the inbox view.
    back = await surfaces.client.post(f"/conversations/{cid}/resolve", data={"csrf": csrf, "next": "/?view=mine"})
    assert back.status_code == 303 and back.headers["location"] == "/?view=mine"


async def test_undo_resolve_refuses_what_it_cannot_restore(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc)
    ana, _ = await add_agent(svc, "ana@example.com")
    cid = (await svc.ingestor.ingest(channel, [inbound("x1")]))[0].conversation_id
    actor = Actor.of(principal(ana))
    try:
        await actions.undo_resolve(svc.ctx, actor, cid, "closed")
        raise AssertionError("an unknown previous status was accepted")
    except Invalid:
        pass
    try:
        await actions.undo_resolve(svc.ctx, actor, cid, "open")
        raise AssertionError("an open conversation was 'un-resolved'")
    except Conflict as exc:
        assert exc.code == "not_resolved"
    async with svc.db.transaction() as session:
        team = Team(name="Secret")
        session.add(team)
        await session.flush()
        await session.execute(update(Conversation).where(Conversation.id == cid).values(team_id=team.id, status="resolved"))
    try:
        await actions.undo_resolve(svc.ctx, actor, cid, "open")
        raise AssertionError("a hidden conversation was changed")
    except NotFound:
        pass
    until = utcnow() + dt.timedelta(hours=4)
    await actions.undo_resolve(svc.ctx, Actor.system("test"), cid, "snoozed", until)
    async with svc.db.read() as session:
        row = await session.get_one(Conversation, cid)
    assert (row.status, row.snoozed_until) == ("snoozed", until)


def test_an_agent_who_never_signed_in_gets_no_work() -> None:
    invited, working = AgentState(1, "online", signed_in=False), AgentState(2, "online")
    assert choose_agent("round_robin", [invited, working]).agent_id == 2
    assert choose_agent("least_open", [invited]).reason == "nobody_available"
    assert choose_agent("round_robin", [invited], previous_agent_id=1).agent_id is None  # not sticky either


async def test_invited_agents_are_not_online_nor_auto_assigned_until_they_sign_in(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc)
    created = await agent_actions.create_agent(svc.ctx, Actor.system("test"), "new@example.com", "New", invite=True)
    new_id = created.agent.id
    async with svc.db.transaction() as session:
        team = Team(name="Support", assignment="round_robin")
        session.add(team)
        await session.flush()
        session.add(TeamMember(team_id=team.id, agent_id=new_id))
    listed = (await api.client.get("/api/v1/agents", headers=api.auth(api.admin_token))).json()["items"]
    assert {a["email"]: a["signed_in"] for a in listed}["new@example.com"] is False
    assert await WidgetTranscripts(svc.db).agents_online() is True  # the admin (created with a password) is
    async with svc.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id != new_id).values(availability="offline"))
    assert await WidgetTranscripts(svc.db).agents_online() is False
    await rule_actions.create_rule(svc.ctx, Actor.system("test"), "to support", {"text_matches": "help"}, {"assign_team": "Support"})
    cid = (await svc.ingestor.ingest(channel, [inbound("a1", text="help me")]))[0].conversation_id
    async with svc.db.read() as session:
        row = await session.get_one(Conversation, cid)
    assert row.team_id is not None and row.assignee_id is None
