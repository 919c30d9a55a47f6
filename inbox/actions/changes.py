"""Change management: create and edit changes, move them through their lifecycle, record
approvers' decisions (from the API, the UI, a signed e-mail link or Slack), and keep the
freeze windows. The rules (transitions, risk) are routing/changes.py's pure functions."""

from __future__ import annotations

import datetime as dt
import logging
import secrets as random_tokens
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import delete, select

from channels.base import Interaction
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.pipeline import direct_mail
from inbox.pipeline.agent_mail import email_channel, queue_agent_email, queue_agent_slack, queue_slack_channel_post
from inbox.pipeline.tickets import next_number
from inbox.queries import changes as q
from inbox.store.models import (
    Agent,
    Change,
    ChangeApprovalLink,
    ChangeApprover,
    ChangeFreeze,
    ChangeItem,
    Contact,
    ContactIdentity,
    Problem,
    Rule,
    Team,
    TeamMember,
    utcnow,
)
from routing import change_rules
from routing import changes as rules
from routing.vocabulary import APPROVAL_DECISIONS, CHANGE_STATUSES, CHANGE_TYPES, ChangeStatus, ChangeType, Level

log = logging.getLogger(__name__)

MAX_TITLE = 998
MAX_TEXT = 20_000
MAX_ITEMS = 100
MAX_APPROVERS = 20
MAX_COMMENT = 2_000
LINK_DAYS = 7
LINK_PURPOSE = "change-approval"
NOTICE_THREAD = "frontdesk:change-notices"  # the notice thread of change rules' e-mails to an address
VIAS = ("api", "ui", "email", "slack")
BUTTON_PREFIX = "frontdesk:change:"
MIN_YEAR, MAX_YEAR = 1970, 9000
# The approval request, in the approver's language (the agent's, else English).
APPROVAL_MAIL = {
    "en": {
        "subject": "Change #{number} needs your approval: {title}",
        "body": "{title}\n\nType: {type} · Risk: {risk}\nPlanned: {planned}\n\n{description}\n\n"
        "Approve: {approve}\nReject: {reject}\n\nEach link works once and expires in {days} days; it asks you to confirm.",
    },
    "es": {
        "subject": "El cambio #{number} necesita tu aprobación: {title}",
        "body": "{title}\n\nTipo: {type} · Riesgo: {risk}\nPlanificado: {planned}\n\n{description}\n\n"
        "Aprobar: {approve}\nRechazar: {reject}\n\nCada enlace sirve una vez y caduca en {days} días; te pide confirmar.",
    },
}


@dataclass(frozen=True)
class ChangeFields:
    """What a change is made of; None leaves a field as it is on an edit."""

    title: str | None = None
    type: str | None = None
    description: str | None = None
    items: Sequence[str] | None = None
    planned_start: dt.datetime | None = None
    planned_end: dt.datetime | None = None
    backout_plan: str | None = None
    approvers: Sequence[str] | None = None
    problem_id: int | None = None
    clear_problem: bool = False


def _check(fields: ChangeFields) -> None:
    if fields.title is not None and not fields.title.strip():
        raise Invalid("a change needs a title")
    if fields.title is not None and len(fields.title) > MAX_TITLE:
        raise Invalid(f"a change's title is at most {MAX_TITLE} characters")
    if fields.type is not None and fields.type not in CHANGE_TYPES:
        raise Invalid(f"type is one of {', '.join(CHANGE_TYPES)}")
    for name in ("description", "backout_plan"):
        value = getattr(fields, name)
        if value is not None and len(value) > MAX_TEXT:
            raise Invalid(f"{name} is at most {MAX_TEXT} characters")
    if fields.items is not None and len(fields.items) > MAX_ITEMS:
        raise Invalid(f"a change touches at most {MAX_ITEMS} items")
    if fields.approvers is not None and len(fields.approvers) > MAX_APPROVERS:
        raise Invalid(f"a change has at most {MAX_APPROVERS} approvers")
    for when in (fields.planned_start, fields.planned_end):
        if when is not None and when.tzinfo is None:
            raise Invalid("planned times carry a time zone (ISO-8601 with Z or an offset)")
        _check_year(when)


def _check_year(when: dt.datetime | None) -> None:
    if when is not None and not MIN_YEAR <= when.year <= MAX_YEAR:
        raise Invalid(f"dates are in the years {MIN_YEAR} to {MAX_YEAR}")


def _agent(actor: Actor) -> int:
    if actor.agent_id is None:
        raise Forbidden("changes are requested and decided by agents")
    return actor.agent_id


def _resolve_items(tx: Tx, names: Sequence[str]) -> list[tuple[str, int]]:
    clean = [n.strip() for n in names if n.strip()]
    found = q.nodes_by_name(tx.session, clean)
    missing = sorted(set(clean) - set(found))
    if missing:
        raise Invalid(f"no service or configuration item named {missing[0]!r}", code="unknown_item")
    return sorted(set(found.values()))


def _resolve_approvers(tx: Tx, names: Sequence[str]) -> list[tuple[int | None, int | None]]:
    out: list[tuple[int | None, int | None]] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        if "@" in name:
            agent_id = tx.session.scalar(select(Agent.id).where(Agent.email == name.lower(), Agent.active.is_(True)))
            if agent_id is None:
                raise Invalid(f"no active agent with the e-mail {name!r}", code="unknown_approver")
            pair: tuple[int | None, int | None] = (agent_id, None)
        else:
            team_id = tx.session.scalar(select(Team.id).where(Team.name == name))
            if team_id is None:
                raise Invalid(f"no team named {name!r}", code="unknown_approver")
            pair = (None, team_id)
        if pair not in out:
            out.append(pair)
    return out


def _check_freeze(tx: Tx, change_type: str, start: dt.datetime | None, end: dt.datetime | None) -> None:
    if start is None or end is None:
        return
    if end <= start:
        raise Invalid("planned_end comes after planned_start")
    if change_type == "emergency":
        return
    frozen = q.freezes_overlapping(tx.session, start, end)
    if frozen:
        raise Invalid(
            f"the change is planned inside the change freeze {frozen[0].name!r}; only an emergency change may be", code="change_freeze"
        )


def _problem(tx: Tx, problem_id: int | None) -> None:
    if problem_id is not None and tx.session.get(Problem, problem_id) is None:
        raise Invalid("no such problem", code="unknown_problem")


def _reassess(tx: Tx, change: Change) -> None:
    nodes = [(i.node_type, i.node_id) for i in tx.session.scalars(select(ChangeItem).where(ChangeItem.change_id == change.id))]
    risk = q.assess(tx.session, change.type, nodes, tx.now, exclude=change.id)
    change.risk, change.risk_reasons = risk.level, [r.as_dict() for r in risk.reasons]


def _set_items(tx: Tx, change_id: int, nodes: list[tuple[str, int]]) -> None:
    tx.session.execute(delete(ChangeItem).where(ChangeItem.change_id == change_id))
    for t, i in nodes:
        tx.session.add(ChangeItem(change_id=change_id, node_type=t, node_id=i))
    tx.session.flush()


def _set_approvers(tx: Tx, change_id: int, pairs: list[tuple[int | None, int | None]]) -> None:
    tx.session.execute(delete(ChangeApprover).where(ChangeApprover.change_id == change_id))
    for agent_id, team_id in pairs:
        tx.session.add(ChangeApprover(change_id=change_id, agent_id=agent_id, team_id=team_id))
    tx.session.flush()


def _payload(change: Change, **extra: Any) -> dict[str, Any]:
    return {"change_id": change.id, "number": change.number, "title": change.title, "type": change.type, "status": change.status, **extra}


async def create_change(ctx: Context, actor: Actor, fields: ChangeFields) -> int:
    requester = _agent(actor)
    _check(fields)
    if not fields.title:
        raise Invalid("a change needs a title")
    change_type = fields.type or "normal"

    def work(tx: Tx) -> int:
        nodes = _resolve_items(tx, fields.items or [])
        approvers = _resolve_approvers(tx, fields.approvers or [])
        _check_freeze(tx, change_type, fields.planned_start, fields.planned_end)
        if (fields.planned_start is None) != (fields.planned_end is None):
            raise Invalid("give both planned_start and planned_end, or neither")
        _problem(tx, fields.problem_id)
        change = Change(
            number=next_number(tx.conn, "change"),
            title=(fields.title or "").strip(),
            type=change_type,
            description=fields.description or "",
            status="draft",
            planned_start=fields.planned_start,
            planned_end=fields.planned_end,
            backout_plan=fields.backout_plan or "",
            problem_id=fields.problem_id,
            requested_by=requester,
            status_changed_at=tx.now,
            created_at=tx.now,
            updated_at=tx.now,
        )
        tx.session.add(change)
        tx.session.flush()
        _set_items(tx, change.id, nodes)
        _set_approvers(tx, change.id, approvers)
        _reassess(tx, change)
        tx.audit("change.create", f"change:{change.id}", {"title": change.title, "type": change_type, "risk": change.risk})
        tx.event("change.created", _payload(change, risk=change.risk))
        run_change_rules(ctx, tx, change, None)
        return change.id

    return await perform(ctx.db, ctx.bus, actor, work)


EDITABLE: frozenset[str] = frozenset({"draft", "assessment", "rejected"})


async def update_change(ctx: Context, actor: Actor, change_id: int, fields: ChangeFields) -> None:
    _agent(actor)
    _check(fields)

    def work(tx: Tx) -> None:
        change = _find(tx, change_id)
        if change.status not in EDITABLE:
            raise Conflict(f"a change is edited only in draft, assessment or rejected (this one is {change.status})", code="change_locked")
        changed: dict[str, Any] = {}
        for name in ("title", "type", "description", "backout_plan"):
            value = getattr(fields, name)
            if value is not None and value != getattr(change, name):
                setattr(change, name, value.strip() if name == "title" else value)
                changed[name] = value
        if fields.planned_start is not None:
            change.planned_start = fields.planned_start
            changed["planned_start"] = fields.planned_start.isoformat()
        if fields.planned_end is not None:
            change.planned_end = fields.planned_end
            changed["planned_end"] = fields.planned_end.isoformat()
        if fields.clear_problem:
            change.problem_id = None
            changed["problem_id"] = None
        elif fields.problem_id is not None:
            _problem(tx, fields.problem_id)
            change.problem_id = fields.problem_id
            changed["problem_id"] = fields.problem_id
        if fields.items is not None:
            _set_items(tx, change.id, _resolve_items(tx, fields.items))
            changed["items"] = sorted(fields.items)
        if fields.approvers is not None:
            _set_approvers(tx, change.id, _resolve_approvers(tx, fields.approvers))
            changed["approvers"] = list(fields.approvers)
        if (change.planned_start is None) != (change.planned_end is None):
            raise Invalid("give both planned_start and planned_end, or neither")
        _check_freeze(tx, change.type, change.planned_start, change.planned_end)
        _reassess(tx, change)
        change.updated_at = tx.now
        tx.audit("change.update", f"change:{change.id}", {**changed, "risk": change.risk})
        tx.event("change.updated", _payload(change, risk=change.risk, fields=sorted(changed)))

    await perform(ctx.db, ctx.bus, actor, work)


def _find(tx: Tx, change_id: int) -> Change:
    change = q.find_change(tx.session, change_id)
    if change is None:
        raise NotFound.of("change")
    return change


def _move(ctx: Context, tx: Tx, change: Change, wanted: str, why: str) -> None:
    before = change.status
    change.status, change.status_changed_at, change.updated_at = wanted, tx.now, tx.now
    tx.audit("change.status", f"change:{change.id}", {"from": before, "to": wanted, "why": why})
    tx.event("change.status_changed", _payload(change, previous=before))
    run_change_rules(ctx, tx, change, before)


def _stored_change_rules(tx: Tx) -> list[change_rules.ChangeRule]:
    rows = tx.session.execute(select(Rule.name, Rule.conditions, Rule.actions, Rule.enabled).order_by(Rule.position, Rule.id))
    items = [{"name": r.name, "if": r.conditions or {}, "then": r.actions or {}, "enabled": r.enabled} for r in rows]
    found, failures = change_rules.load_change_rules(i for i in items if change_rules.is_change_rule(i))
    for name, why in failures:
        log.warning("change rule %r is invalid and skipped: %s", name, why)
    return found


def run_change_rules(ctx: Context, tx: Tx, change: Change, previous: str | None) -> None:
    """The change rules (`on = "change"`) on a change entering its status, in the same
    transaction: each that fires queues its notices through the outbox and is audited."""
    found = _stored_change_rules(tx)
    if not found:
        return
    nodes = q.items_of(tx.session, [change.id]).get(change.id, [])
    snapshot = change_rules.ChangeSnapshot(
        change_id=change.id,
        number=change.number,
        title=change.title,
        type=cast(ChangeType, change.type),
        risk=cast(Level, change.risk),
        status=cast(ChangeStatus, change.status),
        previous=cast(ChangeStatus | None, previous),
        items=frozenset(q.node_names(tx.session, nodes).values()),
    )
    teams = {t.name: t.id for t in tx.session.execute(select(Team.name, Team.id))}
    decision = change_rules.evaluate_change(found, snapshot, teams=teams.keys())
    for rule, outcome, why in decision.trace:
        if outcome == "failed":
            log.warning("change rule %r skipped for change %s: %s", rule, change.id, why)
    url = f"{ctx.public_url.rstrip('/')}/changes/{change.id}"
    for notify in decision.notify:
        subject, text = change_rules.notice_text(snapshot, notify.rule, url)
        sent: dict[str, list[str]] = {"email": [], "slack": [], "agents": []}
        if notify.team is not None:
            members = tx.session.scalars(
                select(Agent)
                .join(TeamMember, TeamMember.agent_id == Agent.id)
                .where(TeamMember.team_id == teams[notify.team], Agent.active.is_(True))
                .order_by(Agent.id)
            )
            for agent in members:
                if queue_agent_email(tx.conn, agent.id, agent.email, agent.name, subject, text, tx.feed, tx.now) is not None:
                    sent["email"].append(agent.email)
                if queue_agent_slack(tx.conn, agent.email, subject, f"*{subject}*\n{text}", [], tx.feed, tx.now) is not None:
                    sent["slack"].append(agent.email)
                sent["agents"].append(agent.email)
        channel_id = email_channel(tx.conn)
        for address in notify.emails:
            if channel_id is None:
                break
            direct_mail.queue(
                tx.conn,
                channel_id=channel_id,
                to=address,
                subject=subject,
                text=text,
                kind="change_notice",
                feed=tx.feed,
                now=tx.now,
                thread=NOTICE_THREAD,
            )
            sent["email"].append(address)
        for slack_id in notify.slack:
            if queue_slack_channel_post(tx.conn, slack_id, subject, f"*{subject}*\n{text}", tx.feed, tx.now) is not None:
                sent["slack"].append(slack_id)
        tx.audit(
            "rule.notify",
            f"change:{change.id}",
            {"rule": notify.rule, "team": notify.team, "status": change.status, "previous": previous, **sent},
        )


async def set_status(ctx: Context, actor: Actor, change_id: int, wanted: str) -> None:
    """Move a change along its lifecycle; entering approval asks every approver."""
    _agent(actor)
    if wanted not in CHANGE_STATUSES:
        raise Invalid(f"status is one of {', '.join(CHANGE_STATUSES)}")

    def work(tx: Tx) -> None:
        change = _find(tx, change_id)
        approvers = q.approver_rows(tx.session, change.id)
        refusal = rules.next_status(
            cast(ChangeStatus, change.status), cast(ChangeStatus, wanted), cast(ChangeType, change.type), bool(approvers)
        )
        if refusal:
            raise Conflict(refusal, code="illegal_transition")
        if wanted == "scheduled":
            _check_freeze(tx, change.type, change.planned_start, change.planned_end)
        _move(ctx, tx, change, wanted, "requested")
        if wanted == "approval":
            _request_approvals(ctx, tx, change, approvers)

    await perform(ctx.db, ctx.bus, actor, work)


def _request_approvals(ctx: Context, tx: Tx, change: Change, approvers: list[ChangeApprover]) -> None:
    public = ctx.public_url.rstrip("/")
    for row in approvers:
        row.decision = row.comment = row.decided_by = row.decided_via = None
        row.decided_at = None
        tx.session.execute(delete(ChangeApprovalLink).where(ChangeApprovalLink.approver_id == row.id))
        for agent in q.approver_agents(tx.session, row):
            approve, reject = (_link(ctx, tx, row, agent, d) for d in APPROVAL_DECISIONS)
            words = APPROVAL_MAIL["es" if (agent.language or "").startswith("es") else "en"]
            subject = words["subject"].format(number=change.number, title=change.title)
            planned = (
                f"{change.planned_start.isoformat()} → {change.planned_end.isoformat()}"
                if change.planned_start and change.planned_end
                else "-"
            )
            text = words["body"].format(
                title=change.title,
                type=change.type,
                risk=change.risk,
                planned=planned,
                description=change.description,
                approve=approve,
                reject=reject,
                days=LINK_DAYS,
            )
            queue_agent_email(tx.conn, agent.id, agent.email, agent.name, subject, text, tx.feed, tx.now)
            buttons = [
                {"action_id": f"{BUTTON_PREFIX}{d}", "text": label, "value": f"{change.id}", "style": style}
                for d, label, style in (("approve", "Approve", "primary"), ("reject", "Reject", "danger"))
            ]
            slack_text = f"*{subject}*\nType: {change.type} · Risk: {change.risk}\n{public}/changes/{change.id}"
            queue_agent_slack(tx.conn, agent.email, subject, slack_text, buttons, tx.feed, tx.now)
    tx.event("change.approval_requested", _payload(change, approvers=[r.id for r in approvers]))


def _link(ctx: Context, tx: Tx, row: ChangeApprover, agent: Agent, decision: str) -> str:
    nonce = random_tokens.token_urlsafe(24)
    expires = tx.now + dt.timedelta(days=LINK_DAYS)
    tx.session.add(ChangeApprovalLink(nonce=nonce, approver_id=row.id, agent_id=agent.id, expires_at=expires))
    return f"{ctx.public_url.rstrip('/')}/changes/decide/{sign_link(ctx, nonce, decision, expires)}"


def sign_link(ctx: Context, nonce: str, decision: str, expires: dt.datetime) -> str:
    message = f"{nonce}.{decision}.{int(expires.timestamp())}"
    return f"{message}.{ctx.secrets.sign(LINK_PURPOSE, message)}"


@dataclass(frozen=True)
class LinkClaim:
    nonce: str
    decision: str
    expires: dt.datetime


def read_link(ctx: Context, token: str, now: dt.datetime) -> LinkClaim:
    """Check a link's signature and expiry (not whether it was used: the store knows that)."""
    parts = token.split(".")
    if len(token) > 300 or len(parts) != 4:
        raise NotFound("this approval link is not valid", code="bad_link")
    nonce, decision, expires_at, signature = parts
    if not token.isascii() or not expires_at.isdigit() or len(expires_at) > 12:
        raise NotFound("this approval link is not valid", code="bad_link")
    if not ctx.secrets.verify(LINK_PURPOSE, f"{nonce}.{decision}.{expires_at}", signature) or decision not in APPROVAL_DECISIONS:
        raise NotFound("this approval link is not valid", code="bad_link")
    expires = dt.datetime.fromtimestamp(int(expires_at), dt.UTC)
    if expires <= now:
        raise Invalid("this approval link has expired; decide from the change's page", code="link_expired")
    return LinkClaim(nonce, decision, expires)


async def decide(ctx: Context, actor: Actor, change_id: int, decision: str, comment: str | None = None, *, via: str = "api") -> str:
    """Record an approver's decision; returns the change's status after it."""
    agent_id = _agent(actor)
    _check_decision(decision, comment, via)

    def work(tx: Tx) -> str:
        return _decide(ctx, tx, _find(tx, change_id), agent_id, decision, comment, via)

    return await perform(ctx.db, ctx.bus, actor, work)


def _check_decision(decision: str, comment: str | None, via: str) -> None:
    if decision not in APPROVAL_DECISIONS:
        raise Invalid("decision is approve or reject")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise Invalid(f"a comment is at most {MAX_COMMENT} characters")
    if via not in VIAS:
        raise Invalid("unknown decision channel")


def _decide(ctx: Context, tx: Tx, change: Change, agent_id: int, decision: str, comment: str | None, via: str) -> str:
    if change.status != "approval":
        raise Conflict(f"the change is not waiting for approval (it is {change.status})", code="not_in_approval")
    rows = q.approver_rows(tx.session, change.id)
    mine = [r for r in rows if r.decision is None and q.may_decide(tx.session, r, agent_id)]
    if not mine:
        if any(q.may_decide(tx.session, r, agent_id) for r in rows):
            raise Conflict("you have already decided on this change", code="already_decided")
        raise Forbidden("only the change's approvers decide on it")
    for row in mine:
        row.decision, row.comment, row.decided_by, row.decided_via, row.decided_at = decision, comment, agent_id, via, tx.now
    tx.session.flush()
    tx.audit(
        "change.approval",
        f"change:{change.id}",
        {"decision": decision, "comment": comment, "via": via, "approvers": [r.id for r in mine]},
    )
    tx.event("change.approved" if decision == "approve" else "change.rejected", _payload(change, agent_id=agent_id, via=via))
    outcome = rules.approval_outcome(r.decision for r in rows)
    if outcome is not None:
        if outcome == "scheduled":
            _check_freeze(tx, change.type, change.planned_start, change.planned_end)
        _move(ctx, tx, change, outcome, "approvals")
    return change.status


async def decide_by_link(ctx: Context, token: str, comment: str | None = None) -> tuple[int, str]:
    """Spend a signed link: the decision it carries, for the agent it was sent to (the audit
    entry is theirs). Returns the change's id and its status after the decision."""
    _check_decision("approve", comment, "email")
    claim = read_link(ctx, token, utcnow())
    async with ctx.db.read() as session:
        agent = await session.scalar(
            select(Agent).join(ChangeApprovalLink, ChangeApprovalLink.agent_id == Agent.id).where(ChangeApprovalLink.nonce == claim.nonce)
        )
    if agent is None:
        raise NotFound("this approval link is not valid", code="bad_link")
    if not agent.active:
        raise Forbidden("this approver is no longer active")

    def work(tx: Tx) -> tuple[int, str]:
        link = tx.session.get(ChangeApprovalLink, claim.nonce)
        if link is None:
            raise NotFound("this approval link is not valid", code="bad_link")
        if link.used_at is not None:
            raise Conflict("this approval link has already been used", code="link_used")
        link.used_at = tx.now
        row = tx.session.get(ChangeApprover, link.approver_id)
        assert row is not None
        change = _find(tx, row.change_id)
        return change.id, _decide(ctx, tx, change, agent.id, claim.decision, comment, "email")

    return await perform(ctx.db, ctx.bus, Actor(agent.id, agent.email, agent.role == "admin"), work)


async def link_target(ctx: Context, token: str) -> tuple[LinkClaim, int, bool]:
    """What a link would decide, for the confirmation page: (claim, change id, already used)."""
    claim = read_link(ctx, token, utcnow())
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(ChangeApprover.change_id, ChangeApprovalLink.used_at)
                .join(ChangeApprovalLink, ChangeApprovalLink.approver_id == ChangeApprover.id)
                .where(ChangeApprovalLink.nonce == claim.nonce)
            )
        ).first()
    if row is None:
        raise NotFound("this approval link is not valid", code="bad_link")
    return claim, int(row[0]), row[1] is not None


async def decide_from_button(ctx: Context, channel_id: int, interaction: Interaction) -> str:
    """A Slack approval button: the presser is the agent whose e-mail Slack gives for them
    (or the contact behind their Slack identity). Answers a line for the presser."""
    if not interaction.action_id.startswith(BUTTON_PREFIX):
        return ""
    decision = interaction.action_id.removeprefix(BUTTON_PREFIX)
    value = interaction.value
    if decision not in APPROVAL_DECISIONS or not value.isdigit() or len(value) > 18:
        return "This button is not valid."
    async with ctx.db.read() as session:
        email = interaction.sender.email
        if not email:
            email = await session.scalar(
                select(Contact.email)
                .join(ContactIdentity, ContactIdentity.contact_id == Contact.id)
                .where(ContactIdentity.channel_id == channel_id, ContactIdentity.address == interaction.sender.address)
            )
        agent = await session.scalar(select(Agent).where(Agent.email == (email or "").lower(), Agent.active.is_(True))) if email else None
    if agent is None:
        return "Only Frontdesk agents decide on changes; your Slack e-mail is not an agent's."
    try:
        status = await decide(ctx, Actor(agent.id, agent.email, agent.role == "admin"), int(value), decision, None, via="slack")
    except (Conflict, Forbidden, NotFound, Invalid) as exc:
        return exc.message
    return f"Recorded: you {'approved' if decision == 'approve' else 'rejected'} change {value} (now {status})."


async def create_freeze(ctx: Context, actor: Actor, name: str, start: dt.datetime, end: dt.datetime) -> int:
    if not actor.is_admin:
        raise Forbidden("only an admin sets change freezes")
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("a freeze needs a name of at most 255 characters")
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise Invalid("a freeze's end comes after its start (ISO-8601 with a time zone)")
    _check_year(start)
    _check_year(end)

    def work(tx: Tx) -> int:
        if tx.session.scalar(select(ChangeFreeze.id).where(ChangeFreeze.name == name)) is not None:
            raise Conflict(f"a freeze named {name!r} exists", code="duplicate")
        freeze = ChangeFreeze(name=name, starts_at=start, ends_at=end, provisioned=False, created_at=tx.now)
        tx.session.add(freeze)
        tx.session.flush()
        tx.audit("change_freeze.create", f"change_freeze:{freeze.id}", {"name": name, "start": start.isoformat(), "end": end.isoformat()})
        return freeze.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def delete_freeze(ctx: Context, actor: Actor, freeze_id: int) -> None:
    if not actor.is_admin:
        raise Forbidden("only an admin sets change freezes")

    def work(tx: Tx) -> None:
        freeze = tx.session.get(ChangeFreeze, freeze_id)
        if freeze is None:
            raise NotFound.of("change freeze")
        if freeze.provisioned:
            raise Conflict("this freeze comes from the config file; change it there", code="provisioned")
        tx.session.delete(freeze)
        tx.audit("change_freeze.delete", f"change_freeze:{freeze_id}", {"name": freeze.name})

    await perform(ctx.db, ctx.bus, actor, work)


async def provision_freezes(ctx: Context, freezes: Sequence[tuple[str, dt.datetime, dt.datetime]]) -> None:
    """Make the config's `[[change_freezes]]` the provisioned freezes (read-only in the API)."""

    def work(tx: Tx) -> None:
        names = [n for n, _, _ in freezes]
        existing = {f.name: f for f in tx.session.scalars(select(ChangeFreeze))}
        for name, start, end in freezes:
            row = existing.get(name)
            if row is None:
                tx.session.add(ChangeFreeze(name=name, starts_at=start, ends_at=end, provisioned=True, created_at=tx.now))
            else:
                row.starts_at, row.ends_at, row.provisioned = start, end, True
        tx.session.execute(delete(ChangeFreeze).where(ChangeFreeze.provisioned.is_(True), ChangeFreeze.name.not_in(names)))
        if freezes:
            tx.audit("change_freeze.provision", "change_freeze:config", {"names": names})

    await perform(ctx.db, ctx.bus, Actor.system("config"), work)
