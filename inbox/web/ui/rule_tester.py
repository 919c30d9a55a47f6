"""The rules page's tester: a form (which rule, and a conversation by id or a sample
message) and what the chosen rules would do on it, each condition matched or why not.
Nothing is changed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from inbox.errors import Invalid
from inbox.pipeline.router import load_stored_rules
from inbox.queries.rules import SampleMessage, explain, known_names, sample_of
from inbox.runtime.services import Services
from inbox.store.models import Rule
from routing.change_rules import is_change_rule
from routing.config import default_calendar
from routing.rules import InvalidRule, validate_rule
from routing.rules import Rule as RoutingRule

MAX_TEXT = 20_000


class TesterForm(BaseModel):
    """What the tester posts, as typed (drawn again as it is when refused)."""

    model_config = ConfigDict(extra="ignore")  # the csrf token comes along

    rule: str = ""  # a rule's id; "" for every enabled rule, in order
    source: Literal["sample", "conversation"] = "sample"
    conversation: str = ""
    channel_type: str = "email"
    sender: str = "customer@example.com"
    subject: str = ""
    text: str = ""


def _rules(session: Session, chosen: str) -> list[RoutingRule]:
    if not chosen:
        return load_stored_rules(session.connection())
    row = session.get(Rule, int(chosen)) if chosen.isdigit() and len(chosen) < 12 else None
    if row is None:
        raise Invalid("no such rule", code="rt_no_rule")
    if is_change_rule({"if": row.conditions}):
        raise Invalid("a change rule runs on changes, not on messages", code="rt_change_rule")
    try:
        return [validate_rule({"name": row.name, "if": row.conditions, "then": row.actions})]
    except InvalidRule as exc:
        raise Invalid("; ".join(exc.problems)) from None


def _sample(session: Session, form: TesterForm) -> SampleMessage:
    if form.source == "conversation":
        raw = form.conversation.strip().lstrip("#")
        found = sample_of(session, int(raw)) if raw.isdigit() and len(raw) < 12 else None
        if found is None:
            raise Invalid("no conversation with that id, or it has no message from the customer", code="rt_no_conversation")
        return found
    if len(form.text) > MAX_TEXT or len(form.subject) > 998 or len(form.sender) > 320:
        raise Invalid("a field is too long")
    return SampleMessage(
        channel="test",
        channel_type=form.channel_type,
        sender=form.sender.strip() or "customer@example.com",
        subject=form.subject or None,
        text=form.text,
    )


async def run(svc: Services, form: TesterForm, language: str) -> tuple[SampleMessage, dict[str, Any]]:
    """The message tried and the outcome (`queries.rules.explain`); Invalid when the rule or
    the conversation is not there."""

    def read(session: Session) -> tuple[list[RoutingRule], SampleMessage, tuple[list[str], list[str]]]:
        return _rules(session, form.rule), _sample(session, form), known_names(session)

    rules, sample, (teams, agents) = await svc.db.query(read)
    templates = svc.policy.templates.names if svc.policy.templates else None
    calendar = default_calendar(svc.config.business_hours)
    return sample, explain(rules, sample, calendar=calendar, teams=teams, agents=agents, templates=templates, language=language)


def rule_choices(rules: list[Any]) -> list[tuple[str, str]]:
    """(id, name) of the message rules the tester can try, in order."""
    return [(str(r.id), r.name) for r in rules if not is_change_rule({"if": r.conditions})]
