"""Routing applied to the store, inside the ingest transaction.

For each new inbound message: gather a snapshot, let `routing.rules.evaluate` decide
(pure), then carry the decision out — team, agent (by the team's strategy), priority,
tags, status, ticket or incident, auto-reply — and write what happened on the
conversation's timeline. A rule that fails is logged and skipped; the message is stored
whatever happens here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, Text, and_, func, select, update

from inbox.errors import DomainError
from inbox.pipeline.ingest import Feed, NewMessage
from inbox.pipeline.replies import Reply, queue_reply
from inbox.pipeline.tickets import TicketPolicy, open_ticket
from inbox.store.models import (
    Agent,
    Contact,
    Conversation,
    Message,
    Rule,
    Team,
    TeamMember,
    Ticket,
    utcnow,
)
from inbox.store.sign_ins import ever_signed_in
from routing.assignment import AgentState, choose_agent
from routing.business_hours import BusinessHours
from routing.change_rules import is_change_rule
from routing.decision import Decision
from routing.rules import Rule as RoutingRule
from routing.rules import evaluate, load_rules
from routing.snapshot import MessageSnapshot

log = logging.getLogger(__name__)

rules_t = cast(Table, Rule.__table__)
teams_t = cast(Table, Team.__table__)
members_t = cast(Table, TeamMember.__table__)
agents_t = cast(Table, Agent.__table__)
conversations_t = cast(Table, Conversation.__table__)
contacts_t = cast(Table, Contact.__table__)
messages_t = cast(Table, Message.__table__)
tickets_t = cast(Table, Ticket.__table__)

AUTO_REPLIES_PER_HOUR = 1


@dataclass
class _Team:
    id: int
    assignment: str
    rr_pointer: int | None  # kept current across the messages of one batch


@dataclass
class _Context:
    """What every message of a batch shares: rules, teams, agents (read once)."""

    rules: list[RoutingRule]
    teams: dict[str, _Team]
    agents: dict[str, int]  # email -> id, active only


def load_stored_rules(conn: Connection) -> list[RoutingRule]:
    rows = conn.execute(
        select(rules_t.c.name, rules_t.c.conditions, rules_t.c.actions, rules_t.c.enabled).order_by(rules_t.c.position, rules_t.c.id)
    )
    items = [{"name": r.name, "if": r.conditions, "then": r.actions, "enabled": r.enabled} for r in rows]
    # Change rules (`on = "change"`) run on changes (inbox/actions/changes.py), not on messages.
    rules, failures = load_rules(i for i in items if not is_change_rule(i))
    for failure in failures:
        log.warning("rule %r is invalid and skipped: %s", failure.rule, failure.error)
    return rules


class RulesRouter:
    """The ingest pipeline's Router: rules, assignment, tickets and auto-replies."""

    def __init__(self, calendar: BusinessHours, policy: TicketPolicy) -> None:
        self.calendar = calendar
        self.policy = policy

    def route(self, conn: Connection, stored: Sequence[NewMessage], feed: Feed) -> None:
        rules = load_stored_rules(conn)
        if not rules:
            return
        context = _Context(
            rules=rules,
            teams={
                r.name: _Team(r.id, r.assignment, r.rr_pointer)
                for r in conn.execute(select(teams_t.c.id, teams_t.c.name, teams_t.c.assignment, teams_t.c.rr_pointer))
            },
            agents={r.email: r.id for r in conn.execute(select(agents_t.c.email, agents_t.c.id).where(agents_t.c.active.is_(True)))},
        )
        for item in stored:
            snapshot = self.snapshot(conn, item)
            decision = evaluate(rules, snapshot, teams=context.teams.keys(), agents=context.agents.keys(), templates=self._template_names())
            for failure in decision.errors:
                log.warning(
                    "rule %r skipped for message %s in conversation %s: %s",
                    failure.rule,
                    item.message_id,
                    item.conversation_id,
                    failure.error,
                )
            if decision.applied:
                self.apply(conn, item, decision, context, feed)

    def _template_names(self) -> frozenset[str]:
        return self.policy.templates.names if self.policy.templates is not None else frozenset()

    def snapshot(self, conn: Connection, item: NewMessage) -> MessageSnapshot:
        contact = conn.execute(select(contacts_t.c.tags, contacts_t.c.language).where(contacts_t.c.id == item.contact_id)).one()
        inbound = item.inbound
        received = utcnow()
        return MessageSnapshot(
            channel=item.channel.name,
            channel_type=item.channel.type,
            sender_address=inbound.sender.address,
            sender_email=inbound.sender.email,
            text=inbound.text,
            subject=inbound.subject,
            contact_tags=frozenset(contact.tags or ()),
            language=inbound.sender.language or contact.language,
            in_business_hours=self.calendar.is_open(received),
            conversation_is_new=item.conversation_is_new,
            automated=inbound.automated,
            received_at=received,
            conversation_id=item.conversation_id,
            message_id=item.message_id,
            **request_of(inbound.meta),
        )

    def apply(self, conn: Connection, item: NewMessage, decision: Decision, context: _Context, feed: Feed) -> None:
        now = utcnow()
        conversation = conn.execute(select(conversations_t).where(conversations_t.c.id == item.conversation_id)).one()
        values: dict[str, Any] = {}
        team = context.teams.get(decision.assign_team or "")
        if team is not None:
            values["team_id"] = team.id
        if decision.assign_agent and decision.assign_agent in context.agents:
            values["assignee_id"] = context.agents[decision.assign_agent]
        elif team is not None and conversation.assignee_id is None:
            chosen = self._assign_in_team(conn, team, item.contact_id, now)
            if chosen is not None:
                values["assignee_id"] = chosen
        if decision.priority:
            values["priority"] = decision.priority
        if decision.tags:
            values["tags"] = sorted(set(conversation.tags or ()) | set(decision.tags))
        if decision.status:
            values["status"] = decision.status
            values["resolved_at"] = now if decision.status == "resolved" else None
        if values:
            conn.execute(update(conversations_t).where(conversations_t.c.id == item.conversation_id).values(updated_at=now, **values))
            shown = {k.removesuffix("_id"): v for k, v in values.items() if k != "resolved_at"}
            feed.append(
                ("conversation.updated", {"conversation_id": item.conversation_id, "changes": shown, "by": "rules"}, item.conversation_id)
            )
        if decision.convert:
            try:
                open_ticket(
                    conn,
                    item.conversation_id,
                    decision.convert,
                    self.policy,
                    feed,
                    impact=decision.impact,
                    urgency=decision.urgency,
                    priority=decision.priority,
                    # An auto-reply in the same decision already tells the customer the number.
                    notify=not (decision.auto_reply and not item.inbound.automated),
                )
            except DomainError as exc:  # already a ticket: nothing to convert
                log.info("conversation %s: %s", item.conversation_id, exc)
        if decision.auto_reply and not item.inbound.automated:
            self._auto_reply(conn, item, decision.auto_reply, feed, now)
        lines_en, lines_es = decision.timeline("en"), decision.timeline("es")
        queue_reply(
            conn,
            item.conversation_id,
            Reply(text="\n".join(lines_en), private=True, author_type="system", meta={"rules": list(decision.fired), "es": lines_es}),
            feed,
            now,
        )

    def _assign_in_team(self, conn: Connection, team: _Team, contact_id: int, now: dt.datetime) -> int | None:
        """Pick an agent with the team's strategy; remember the round-robin turn."""
        open_counts = (
            select(conversations_t.c.assignee_id, func.count().label("n"))
            .where(conversations_t.c.status.in_(("open", "pending")), conversations_t.c.assignee_id.is_not(None))
            .group_by(conversations_t.c.assignee_id)
            .subquery()
        )
        rows = conn.execute(
            select(
                agents_t.c.id,
                agents_t.c.availability,
                agents_t.c.capacity,
                agents_t.c.last_assigned_at,
                func.coalesce(open_counts.c.n, 0).label("open"),
                ever_signed_in(agents_t.c.id, agents_t.c.password_hash).label("signed_in"),
            )
            .join(members_t, and_(members_t.c.agent_id == agents_t.c.id, members_t.c.team_id == team.id))
            .outerjoin(open_counts, open_counts.c.assignee_id == agents_t.c.id)
            .where(agents_t.c.active.is_(True))
        ).all()
        members = [AgentState(r.id, r.availability, r.capacity, int(r.open), r.last_assigned_at, bool(r.signed_in)) for r in rows]
        previous = conn.scalar(
            select(conversations_t.c.assignee_id)
            .where(conversations_t.c.contact_id == contact_id, conversations_t.c.assignee_id.is_not(None))
            .order_by(conversations_t.c.id.desc())
            .limit(1)
        )
        assignment = choose_agent(team.assignment, members, previous_agent_id=previous, rr_pointer=team.rr_pointer)  # type: ignore[arg-type]
        if assignment.rr_pointer != team.rr_pointer:
            conn.execute(update(teams_t).where(teams_t.c.id == team.id).values(rr_pointer=assignment.rr_pointer))
            team.rr_pointer = assignment.rr_pointer
        if assignment.agent_id is not None:
            conn.execute(update(agents_t).where(agents_t.c.id == assignment.agent_id).values(last_assigned_at=now))
        return assignment.agent_id

    def _auto_reply(self, conn: Connection, item: NewMessage, template: str, feed: Feed, now: dt.datetime) -> None:
        templates = self.policy.templates
        if templates is None:
            return
        # Never more than AUTO_REPLIES_PER_HOUR per contact: two robots must not chat forever.
        recent = conn.scalar(
            select(func.count())
            .select_from(messages_t.join(conversations_t, conversations_t.c.id == messages_t.c.conversation_id))
            .where(
                conversations_t.c.contact_id == item.contact_id,
                messages_t.c.author_type == "system",
                messages_t.c.private.is_(False),
                messages_t.c.meta.cast(Text).like('%"auto_reply"%'),
                messages_t.c.created_at > now - dt.timedelta(hours=1),
            )
        )
        if recent and recent >= AUTO_REPLIES_PER_HOUR:
            log.info("contact %s: auto-reply skipped (already answered automatically this hour)", item.contact_id)
            return
        contact = conn.execute(select(contacts_t.c.name, contacts_t.c.language).where(contacts_t.c.id == item.contact_id)).one()
        number = conn.scalar(select(tickets_t.c.number).where(tickets_t.c.conversation_id == item.conversation_id))
        in_hours = self.calendar.is_open(now)
        rendered = templates.render(
            template,
            item.inbound.sender.language or contact.language,
            {
                "contact_name": contact.name,
                "subject": item.inbound.subject,
                "ticket_number": number,
                "in_business_hours": in_hours,
                "next_open": None if in_hours else self.calendar.next_open(now),
            },
        )
        queue_reply(
            conn,
            item.conversation_id,
            Reply(text=rendered.text, author_type="system", subject=rendered.subject, meta={"auto_reply": template}),
            feed,
            now,
        )


def request_of(meta: Any) -> dict[str, Any]:
    """The request type and answers a portal or widget form put on its message (`meta.request`)."""
    request = meta.get("request") if isinstance(meta, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("type"), str):
        return {}
    answers = request.get("fields")
    fields = {str(k): v for k, v in answers.items() if isinstance(v, str)} if isinstance(answers, dict) else {}
    return {"request_type": request["type"], "fields": fields}
