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
from inbox.store.models import Rule, utcnow
from routing.business_hours import BusinessHours
from routing.change_rules import is_change_rule
from routing.rules import Rule as RoutingRule
from routing.rules import evaluate
from routing.snapshot import MessageSnapshot


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
    return {
        "fired": list(decision.fired),
        "actions": decision.timeline(language),
        "trace": [{"rule": t.rule, "outcome": t.outcome, "detail": t.detail} for t in decision.trace],
        "errors": [{"rule": e.rule, "error": e.error} for e in decision.errors],
    }
