"""Rules as the admin pages and the API show them, and the rule tester: which rules would
fire on a sample message, and what they would do. Nothing here changes anything."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from inbox.queries.agents import active_emails
from inbox.queries.teams import team_names
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation, Message, Rule, utcnow
from routing.business_hours import BusinessHours
from routing.change_rules import is_change_rule
from routing.rules import Rule as RoutingRule
from routing.rules import conditions_of, evaluate
from routing.snapshot import MessageSnapshot
from routing.timeline import describe


@dataclass(frozen=True, slots=True)
class RuleView:
    id: int
    name: str
    position: int
    conditions: dict[str, Any]
    actions: dict[str, Any]
    enabled: bool
    provisioned: bool

    def as_json(self) -> dict[str, Any]:
        change = is_change_rule({"if": self.conditions})
        return {
            "id": self.id,
            "name": self.name,
            "on": "change" if change else "message",
            "position": self.position,
            "if": {k: v for k, v in self.conditions.items() if k != "on"} if change else self.conditions,
            "then": self.actions,
            "enabled": self.enabled,
            "provisioned": self.provisioned,
        }


def rule_view(rule: Rule) -> RuleView:
    return RuleView(
        rule.id, rule.name, rule.position, dict(rule.conditions or {}), dict(rule.actions or {}), rule.enabled, rule.provisioned
    )


def list_rules(session: Session) -> list[RuleView]:
    return [rule_view(r) for r in session.scalars(select(Rule).order_by(Rule.position, Rule.id)).all()]


def known_names(conn: Session | Connection) -> tuple[list[str], list[str]]:
    """The team names and active agents' emails a rule may name."""
    return team_names(conn), active_emails(conn)


class SampleMessage(BaseModel):
    """A message to try the rules on, as a channel would deliver it."""

    model_config = ConfigDict(extra="forbid")
    channel: str = "test"
    channel_type: str = "email"
    sender: str = "customer@example.com"
    subject: str | None = None
    text: str = ""
    language: str | None = None
    conversation: Literal["new", "existing"] = "new"
    automated: bool = False
    contact_tags: list[str] = []


def explain(
    rules: Sequence[RoutingRule],
    message: SampleMessage,
    *,
    calendar: BusinessHours,
    teams: Collection[str],
    agents: Collection[str],
    templates: Collection[str] | None,
    language: str = "en",
) -> dict[str, Any]:
    """What `rules` would do on `message` now: the rules that fire, the actions in words,
    each rule's outcome and the rules that failed."""
    now = utcnow()
    snapshot = MessageSnapshot(
        channel=message.channel,
        channel_type=message.channel_type,
        sender_address=message.sender,
        sender_email=message.sender if "@" in message.sender else None,
        text=message.text,
        subject=message.subject,
        contact_tags=frozenset(message.contact_tags),
        language=message.language,
        in_business_hours=calendar.is_open(now),
        conversation_is_new=message.conversation == "new",
        automated=message.automated,
        received_at=now,
    )
    decision = evaluate(rules, snapshot, teams=teams, agents=agents, templates=templates)
    # `evaluate` traces each rule once, in order: each trace line gets its rule's conditions
    # (every one, matched or why not) and what its actions would do.
    trace = [
        {
            "rule": t.rule,
            "outcome": t.outcome,
            "detail": t.detail,
            "conditions": [
                {"key": c.key, "expected": c.expected, "matched": c.matched, "reason": c.reason} for c in conditions_of(rule, snapshot)
            ],
            "would": [describe(a, language) for a in rule.actions()],
        }
        for rule, t in zip(rules, decision.trace, strict=True)
    ]
    return {
        "fired": list(decision.fired),
        "actions": decision.timeline(language),
        "trace": trace,
        "errors": [{"rule": e.rule, "error": e.error} for e in decision.errors],
    }


def sample_of(session: Session, conversation_id: int) -> SampleMessage | None:
    """A conversation's latest customer message as a sample to try the rules on (an
    existing conversation); None when it has none."""
    row = session.execute(
        select(Message.text, Message.subject, Message.automated, Channel.name, Channel.type, Message.contact_id, Message.channel_id)
        .join(Channel, Channel.id == Message.channel_id)
        .where(Message.conversation_id == conversation_id, Message.direction == "in", Message.deleted_at.is_(None))
        .order_by(Message.id.desc())
        .limit(1)
    ).first()
    conversation = session.get(Conversation, conversation_id)
    if row is None or conversation is None:
        return None
    contact = session.get(Contact, row.contact_id) if row.contact_id is not None else None
    address = session.scalar(
        select(ContactIdentity.address)
        .where(ContactIdentity.contact_id == row.contact_id, ContactIdentity.channel_id == row.channel_id)
        .order_by(ContactIdentity.id)
        .limit(1)
    )
    return SampleMessage(
        channel=row.name,
        channel_type=row.type,
        sender=(contact.email if contact is not None and contact.email else None) or address or "",
        subject=row.subject or conversation.subject,
        text=row.text,
        language=contact.language if contact is not None else None,
        conversation="existing",
        automated=row.automated,
        contact_tags=list(contact.tags or []) if contact is not None else [],
    )
