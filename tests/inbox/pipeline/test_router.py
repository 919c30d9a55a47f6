"""Rules applied by the ingest pipeline: assignment, tickets, auto-replies, timeline, bad rules."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from inbox.runtime.services import Services
from inbox.store.models import (
    Agent,
    Conversation,
    Message,
    OutboxItem,
    Rule,
    Team,
    TeamMember,
    Ticket,
)
from tests.fixtures.inbox import add_agent, add_channel, inbound


async def add_rule(services: Services, name: str, conditions: dict[str, Any], actions: dict[str, Any], position: int = 0) -> None:
    async with services.db.transaction() as session:
        session.add(Rule(name=name, conditions=conditions, actions=actions, position=position))


async def add_team(services: Services, name: str, emails: list[str], assignment: str = "round_robin") -> None:
    async with services.db.transaction() as session:
        team = Team(name=name, assignment=assignment)
        session.add(team)
        await session.flush()
        for email in emails:
            agent_id = await session.scalar(select(Agent.id).where(Agent.email == email))
            session.add(TeamMember(team_id=team.id, agent_id=agent_id))


async def conversation(services: Services, conversation_id: int) -> Conversation:
    async with services.db.read() as session:
        found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found


async def messages(services: Services, conversation_id: int) -> list[Message]:
    async with services.db.read() as session:
        return list((await session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))).all())


async def test_matching_rule_assigns_team_tags_priority_and_writes_the_timeline(services: Services) -> None:
    channel = await add_channel(services, "mail", "spool")
    await add_agent(services, "ana@support.example")
    await add_team(services, "billing", ["ana@support.example"])
    await add_rule(
        services,
        "invoices to billing",
        {"text_matches": "(?i)invoice|factura"},
        {"assign_team": "billing", "tag": ["billing"], "priority": "P3"},
    )
    [hit] = await services.ingestor.ingest(channel, [inbound("m1", text="My INVOICE is wrong")])
    [miss] = await services.ingestor.ingest(channel, [inbound("m2", sender="bo@example.com", text="Hello")])
    routed = await conversation(services, hit.conversation_id)
    assert routed.tags == ["billing"] and routed.priority == "P3" and routed.team_id is not None
    assert routed.assignee_id is not None  # the team's only online agent
    timeline = [m for m in await messages(services, hit.conversation_id) if m.author_type == "system"]
    assert len(timeline) == 1 and timeline[0].private
    assert 'rule "invoices to billing" assigned to team billing' in timeline[0].text
    assert "la regla «invoices to billing» asignó al equipo billing" in timeline[0].meta["es"]
    untouched = await conversation(services, miss.conversation_id)
    assert (untouched.team_id, untouched.tags, untouched.priority) == (None, [], None)


async def test_round_robin_is_fair_skips_away_agents_and_respects_capacity(services: Services) -> None:
    channel = await add_channel(services)
    for email in ("a@s.example", "b@s.example", "c@s.example"):
        await add_agent(services, email)
    async with services.db.transaction() as session:
        (await session.scalar(select(Agent).where(Agent.email == "c@s.example"))).availability = "away"
        (await session.scalar(select(Agent).where(Agent.email == "b@s.example"))).capacity = 2
    await add_team(services, "support", ["a@s.example", "b@s.example", "c@s.example"])
    await add_rule(services, "all to support", {}, {"assign_team": "support"})
    results = await services.ingestor.ingest(channel, [inbound(f"m{i}", sender=f"u{i}@example.com") for i in range(6)])
    async with services.db.read() as session:
        emails = dict((await session.execute(select(Agent.id, Agent.email))).all())
    assigned = [emails[(await conversation(services, r.conversation_id)).assignee_id] for r in results]
    assert "c@s.example" not in assigned  # away
    assert assigned[:4] == ["a@s.example", "b@s.example", "a@s.example", "b@s.example"]
    assert assigned[4:] == ["a@s.example", "a@s.example"]  # b is at capacity (2)


async def test_rule_converts_to_incident_with_matrix_priority_and_tells_the_customer(services: Services) -> None:
    channel = await add_channel(services)
    await add_rule(
        services, "outages", {"text_matches": "(?i)outage|caído"}, {"convert": "incident", "impact": "high", "urgency": "medium"}
    )
    [r] = await services.ingestor.ingest(channel, [inbound("m1", text="Total outage since 9am", subject="Down")])
    async with services.db.read() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.conversation_id == r.conversation_id))
        queued = await session.scalar(
            select(OutboxItem).join(Message, Message.id == OutboxItem.message_id).where(Message.conversation_id == r.conversation_id)
        )
    assert ticket is not None and (ticket.kind, ticket.priority, ticket.number) == ("incident", "P2", 1)
    notice = [m for m in await messages(services, r.conversation_id) if m.author_type == "system" and not m.private]
    assert len(notice) == 1 and "#1" in notice[0].subject and queued is not None


async def test_auto_reply_in_the_contacts_language_once_per_hour_and_never_to_robots(services: Services) -> None:
    channel = await add_channel(services)
    await add_rule(services, "acknowledge", {}, {"auto_reply": "auto_reply"})
    [first] = await services.ingestor.ingest(channel, [inbound("m1", language="es", name="Lucía", subject="Ayuda")])
    [second] = await services.ingestor.ingest(channel, [inbound("m2", subject="Otra cosa")])
    [robot] = await services.ingestor.ingest(channel, [inbound("m3", sender="mailer@example.com", automated=True, subject="Out of office")])
    replies = [m for m in await messages(services, first.conversation_id) if m.author_type == "system" and not m.private]
    assert len(replies) == 1 and "Hola Lucía" in replies[0].text and replies[0].subject.startswith("Hemos recibido")
    assert not [m for m in await messages(services, second.conversation_id) if m.author_type == "system" and not m.private]
    assert not [m for m in await messages(services, robot.conversation_id) if m.author_type == "system" and not m.private]


async def test_a_rule_that_fails_is_skipped_and_the_message_kept(services: Services, caplog) -> None:  # type: ignore[no-untyped-def]
    channel = await add_channel(services)
    await add_rule(services, "ghost team", {}, {"assign_team": "nobody"}, position=0)
    await add_rule(services, "broken", {"text_matches": "(unclosed"}, {"tag": ["x"]}, position=1)
    await add_rule(services, "works", {}, {"tag": ["seen"]}, position=2)
    with caplog.at_level(logging.WARNING):
        [r] = await services.ingestor.ingest(channel, [inbound("m1")])
    assert r.message_id is not None
    assert (await conversation(services, r.conversation_id)).tags == ["seen"]
    assert "ghost team" in caplog.text and "broken" in caplog.text


async def test_stop_ends_the_rules(services: Services) -> None:
    channel = await add_channel(services)
    await add_rule(services, "first", {}, {"tag": ["a"], "stop": True}, position=0)
    await add_rule(services, "second", {}, {"tag": ["b"]}, position=1)
    [r] = await services.ingestor.ingest(channel, [inbound("m1")])
    assert (await conversation(services, r.conversation_id)).tags == ["a"]
