"""`frontdesk rules test` and `frontdesk rules backtest`: the rules on real or sample mail, changing nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from channels.email_parse import ParseOptions, parse_email
from inbox.pipeline.router import load_stored_rules
from inbox.queries.rules import SampleMessage, explain
from inbox.runtime.services import Services
from inbox.store.models import (
    Agent,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    Team,
    utcnow,
)
from routing.config import default_calendar


def sample_from_file(path: str) -> SampleMessage:
    raw = Path(path).read_bytes()
    if path.endswith(".json"):
        return SampleMessage.model_validate(json.loads(raw))
    # The email channel's own parser, so charsets, shown text and robot detection match.
    message = parse_email(raw, ParseOptions(own_domain="frontdesk.local"))
    return SampleMessage(
        channel="email",
        channel_type="email",
        sender=message.sender.address,
        subject=message.subject,
        text=message.text,
        conversation="existing" if message.references else "new",
        automated=message.automated,
    )


async def _names(services: Services) -> tuple[list[Any], list[str], list[str]]:
    async with services.db.read() as session:
        rules = await session.run_sync(lambda s: load_stored_rules(s.connection()))
        teams = list(await session.scalars(select(Team.name)))
        agents = list(await session.scalars(select(Agent.email).where(Agent.active.is_(True))))
    return rules, teams, agents


def _explain(services: Services, rules: list[Any], sample: SampleMessage, teams: list[str], agents: list[str]) -> dict[str, Any]:
    templates = services.policy.templates.names if services.policy.templates else None
    return explain(
        rules, sample, calendar=default_calendar(services.config.business_hours), teams=teams, agents=agents, templates=templates
    )


def _print_result(result: dict[str, Any]) -> None:
    for trace in result["trace"]:
        mark = {"fired": "FIRES", "no_match": "  -  ", "disabled": " off ", "failed": "FAILS", "not_reached": " stop"}[trace["outcome"]]
        print(f"{mark} {trace['rule']}{': ' + trace['detail'] if trace['detail'] else ''}")
    if result["actions"]:
        print("\nwould do:")
        for line in result["actions"]:
            print(f"  {line}")
    else:
        print("\nno rule fires")


async def test_rules(services: Services, sample: SampleMessage) -> int:
    rules, teams, agents = await _names(services)
    if not rules:
        print("there are no rules")
        return 0
    result = _explain(services, rules, sample, teams, agents)
    _print_result(result)
    return 1 if result["errors"] else 0


async def backtest(services: Services, days: int) -> int:
    """Replay the inbound messages of the last `days` days; report where today's rules differ."""
    rules, teams, agents = await _names(services)
    since = utcnow() - dt.timedelta(days=days)
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(Message, Channel.name, Channel.type, Contact.tags, Conversation.id, ContactIdentity.address)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .outerjoin(
                    ContactIdentity,
                    (ContactIdentity.contact_id == Message.contact_id) & (ContactIdentity.channel_id == Message.channel_id),
                )
                .join(Channel, Channel.id == Message.channel_id)
                .join(Contact, Contact.id == Conversation.contact_id)
                .where(Message.direction == "in", Message.created_at >= since)
                .order_by(Message.id)
            )
        ).all()
        then_fired: dict[int, list[str]] = {}
        notes = await session.scalars(
            select(Message)
            .where(Message.author_type == "system", Message.private.is_(True), Message.created_at >= since)
            .order_by(Message.id)
        )
        for note in notes:
            then_fired.setdefault(note.conversation_id, []).extend(note.meta.get("rules", []))
    first_of: dict[int, int] = {}
    differ = 0
    for message, channel, channel_type, tags, conversation_id, address in rows:
        first_of.setdefault(conversation_id, message.id)
        sample = SampleMessage(
            channel=channel,
            channel_type=channel_type,
            sender=address or "customer@example.com",
            subject=message.subject,
            text=message.text,
            conversation="new" if first_of[conversation_id] == message.id else "existing",
            automated=message.automated,
            contact_tags=list(tags or []),
        )
        now_fired = _explain(services, rules, sample, teams, agents)["fired"]
        before = sorted(set(then_fired.get(conversation_id, []))) if first_of[conversation_id] == message.id else None
        if before is not None and sorted(set(now_fired)) != before:
            differ += 1
            print(f"conversation {conversation_id} message {message.id}: then {before or '-'}; now {sorted(set(now_fired)) or '-'}")
    print(f"{len(rows)} inbound message(s) in the last {days} day(s); {differ} conversation(s) would be routed differently")
    return 0
