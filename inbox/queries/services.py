"""Reads of the service desk's graph: services, configuration items, what they depend on and
what depends on them, subscribers, what an incident affects and whom that reaches.

The functions are synchronous over an ORM `Session` so actions (inside their transaction)
and the API (through `AsyncSession.run_sync`) share them. A configuration item that names a
service is something that service runs on: the walks treat it as an edge service → item.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inbox.store.models import (
    Broadcast,
    BroadcastRecipient,
    Channel,
    ConfigItem,
    Contact,
    Conversation,
    Dependency,
    Message,
    Organization,
    Service,
    ServiceSubscriber,
    Team,
    Ticket,
    TicketAffected,
)
from routing import impact
from routing.impact import Edge, Node

SERVICE = "service"
CONFIG_ITEM = "config_item"


def _pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    return {row[0]: row[1] for row in rows}


def stored_edges(session: Session) -> list[Edge]:
    """The explicit dependency edges."""
    rows = session.execute(select(Dependency.source_type, Dependency.source_id, Dependency.target_type, Dependency.target_id))
    return [((r[0], r[1]), (r[2], r[3])) for r in rows]


def all_edges(session: Session) -> list[Edge]:
    """Every edge the walks follow: the stored ones, plus service → each item that names it."""
    implicit = session.execute(select(ConfigItem.service_id, ConfigItem.id).where(ConfigItem.service_id.is_not(None)))
    return [*stored_edges(session), *(((SERVICE, int(s)), (CONFIG_ITEM, c)) for s, c in implicit if s is not None)]


def node_names(session: Session, nodes: Iterable[Node]) -> dict[Node, str]:
    nodes = list(nodes)
    out: dict[Node, str] = {}
    service_ids = [i for t, i in nodes if t == SERVICE]
    item_ids = [i for t, i in nodes if t == CONFIG_ITEM]
    if service_ids:
        out.update({(SERVICE, i): n for i, n in session.execute(select(Service.id, Service.name).where(Service.id.in_(service_ids)))})
    if item_ids:
        out.update(
            {(CONFIG_ITEM, i): n for i, n in session.execute(select(ConfigItem.id, ConfigItem.name).where(ConfigItem.id.in_(item_ids)))}
        )
    return out


def find_names(session: Session, names: Sequence[str]) -> dict[str, Node]:
    """The node each name is (names are unique across services and items); unknown names are absent."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    out: dict[str, Node] = {n: (SERVICE, i) for i, n in session.execute(select(Service.id, Service.name).where(Service.name.in_(wanted)))}
    for i, n in session.execute(select(ConfigItem.id, ConfigItem.name).where(ConfigItem.name.in_(wanted))):
        out[n] = (CONFIG_ITEM, i)
    return out


def name_taken(session: Session, name: str, *, but: Node | None = None) -> bool:
    service = session.scalar(select(Service.id).where(Service.name == name))
    item = session.scalar(select(ConfigItem.id).where(ConfigItem.name == name))
    return (service is not None and (SERVICE, service) != but) or (item is not None and (CONFIG_ITEM, item) != but)


def direct_targets(session: Session, node: Node) -> list[Node]:
    rows = session.execute(
        select(Dependency.target_type, Dependency.target_id)
        .where(Dependency.source_type == node[0], Dependency.source_id == node[1])
        .order_by(Dependency.id)
    )
    return [(r[0], r[1]) for r in rows]


def _named(session: Session, reach: dict[Node, int]) -> list[dict[str, Any]]:
    names = node_names(session, reach)
    rows = [{"type": t, "id": i, "name": names.get((t, i), "?"), "distance": d} for (t, i), d in reach.items()]
    return sorted(rows, key=lambda r: (r["distance"], r["name"]))


def impact_of(session: Session, node: Node) -> dict[str, Any]:
    """What `node` depends on and what depends on it, transitively, each with its distance."""
    edges = all_edges(session)
    return {
        "depends_on": _named(session, impact.depends_on(edges, [node])),
        "dependents": _named(session, impact.dependents(edges, [node])),
    }


def _team_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = [i for i in set(ids) if i is not None]
    if not wanted:
        return {}
    return _pairs(session.execute(select(Team.id, Team.name).where(Team.id.in_(wanted))))


def _depends_on_names(session: Session, nodes: Sequence[Node]) -> dict[Node, list[str]]:
    if not nodes:
        return {}
    out: dict[Node, list[str]] = {n: [] for n in nodes}
    sources = {n for n in nodes}
    rows = [r for r in stored_edges(session) if r[0] in sources]
    names = node_names(session, [t for _, t in rows])
    for source, target in rows:
        out[source].append(names.get(target, "?"))
    return out


def describe_services(session: Session, services: Sequence[Service]) -> list[dict[str, Any]]:
    teams = _team_names(session, [s.team_id for s in services])
    deps = _depends_on_names(session, [(SERVICE, s.id) for s in services])
    ids = [s.id for s in services]
    counts: dict[int, int] = {}
    if ids:
        counts = _pairs(
            session.execute(
                select(ServiceSubscriber.service_id, func.count())
                .where(ServiceSubscriber.service_id.in_(ids))
                .group_by(ServiceSubscriber.service_id)
            )
        )
    return [
        {
            "id": s.id,
            "type": SERVICE,
            "name": s.name,
            "description": s.description,
            "criticality": s.criticality,
            "team": teams.get(s.team_id) if s.team_id else None,
            "depends_on": deps.get((SERVICE, s.id), []),
            "subscribers": counts.get(s.id, 0),
            "provisioned": s.provisioned,
            "created_at": s.created_at.isoformat(),
            "updated_at": s.updated_at.isoformat(),
        }
        for s in services
    ]


def describe_items(session: Session, items: Sequence[ConfigItem]) -> list[dict[str, Any]]:
    deps = _depends_on_names(session, [(CONFIG_ITEM, c.id) for c in items])
    names = node_names(session, [(SERVICE, c.service_id) for c in items if c.service_id is not None])
    return [
        {
            "id": c.id,
            "type": CONFIG_ITEM,
            "name": c.name,
            "kind": c.kind,
            "service": names.get((SERVICE, c.service_id)) if c.service_id is not None else None,
            "depends_on": deps.get((CONFIG_ITEM, c.id), []),
            "attributes": c.attributes or {},
            "provisioned": c.provisioned,
            "created_at": c.created_at.isoformat(),
            "updated_at": c.updated_at.isoformat(),
        }
        for c in items
    ]


def list_nodes(session: Session, node_type: str) -> list[dict[str, Any]]:
    """Every service, or every configuration item, by name, as the API shows them."""
    if node_type == SERVICE:
        return describe_services(session, list(session.scalars(select(Service).order_by(Service.name))))
    return describe_items(session, list(session.scalars(select(ConfigItem).order_by(ConfigItem.name))))


def describe_node(session: Session, node: Node) -> dict[str, Any] | None:
    """One service or configuration item as the API shows it; None when there is none."""
    node_type, node_id = node
    if node_type == SERVICE:
        service = session.get(Service, node_id)
        return describe_services(session, [service])[0] if service is not None else None
    item = session.get(ConfigItem, node_id)
    return describe_items(session, [item])[0] if item is not None else None


def subscribers_of(session: Session, service_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            ServiceSubscriber.id,
            ServiceSubscriber.organization_id,
            Organization.name,
            ServiceSubscriber.contact_id,
            Contact.name,
            Contact.email,
        )
        .outerjoin(Organization, Organization.id == ServiceSubscriber.organization_id)
        .outerjoin(Contact, Contact.id == ServiceSubscriber.contact_id)
        .where(ServiceSubscriber.service_id == service_id)
        .order_by(ServiceSubscriber.id)
    )
    out = []
    for sub_id, org_id, org_name, contact_id, contact_name, email in rows:
        if org_id is not None:
            out.append({"id": sub_id, "organization_id": org_id, "organization": org_name})
        else:
            out.append({"id": sub_id, "contact_id": contact_id, "name": contact_name, "email": email})
    return out


# -- what an incident affects, and whom --------------------------------------------------------


def affected_nodes(session: Session, ticket_id: int) -> list[Node]:
    rows = session.execute(
        select(TicketAffected.node_type, TicketAffected.node_id)
        .where(TicketAffected.ticket_id == ticket_id)
        .order_by(TicketAffected.node_type)
    )
    return [(r[0], r[1]) for r in rows]


def affected_names(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[str]]:
    if not ticket_ids:
        return {}
    rows = session.execute(
        select(TicketAffected.ticket_id, TicketAffected.node_type, TicketAffected.node_id).where(TicketAffected.ticket_id.in_(ticket_ids))
    ).all()
    names = node_names(session, [(r[1], r[2]) for r in rows])
    out: dict[int, list[str]] = {i: [] for i in ticket_ids}
    for ticket_id, node_type, node_id in rows:
        out[ticket_id].append(names.get((node_type, node_id), "?"))
    return {k: sorted(v) for k, v in out.items()}


@dataclass
class Reached:
    """One affected customer and why they are."""

    contact_id: int
    why: list[dict[str, Any]] = field(default_factory=list)


def hit_services(session: Session, ticket_id: int) -> dict[int, str]:
    """Every service an incident's outage reaches: those it names, and everything that depends
    (transitively) on what it names. Service id → the name of what the ticket named that reaches it."""
    named = affected_nodes(session, ticket_id)
    if not named:
        return {}
    edges = all_edges(session)
    names = node_names(session, named)
    out: dict[int, str] = {}
    for node in named:
        reached = {node: 0, **impact.dependents(edges, [node])}
        for (node_type, node_id), _ in sorted(reached.items(), key=lambda kv: kv[1]):
            if node_type == SERVICE:
                out.setdefault(node_id, names.get(node, "?"))
    return out


def affected_customers(session: Session, ticket_id: int, audience: str = "affected") -> list[Reached]:
    """The subscribers (organizations expanded to their contacts) of every service the ticket
    hits, through dependencies, plus the contacts of its child incidents; ordered by contact id.
    With `audience="children"` only the contacts of the child incidents."""
    reached: dict[int, Reached] = {}

    def add(contact_id: int, why: dict[str, Any]) -> None:
        reached.setdefault(contact_id, Reached(contact_id)).why.append(why)

    if audience == "affected":
        services = hit_services(session, ticket_id)
        if services:
            service_names = node_names(session, [(SERVICE, i) for i in services])
            subs = session.execute(
                select(ServiceSubscriber.service_id, ServiceSubscriber.contact_id, ServiceSubscriber.organization_id).where(
                    ServiceSubscriber.service_id.in_(list(services))
                )
            ).all()
            org_ids = {o for _, _, o in subs if o is not None}
            members: dict[int, list[int]] = {}
            org_names: dict[int, str] = {}
            if org_ids:
                for cid, oid in session.execute(
                    select(Contact.id, Contact.organization_id).where(
                        Contact.organization_id.in_(org_ids), Contact.merged_into_id.is_(None)
                    )
                ):
                    if oid is not None:
                        members.setdefault(oid, []).append(cid)
                org_names = _pairs(session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))))
            for service_id, contact_id, org_id in subs:
                why: dict[str, Any] = {"service": service_names.get((SERVICE, service_id), "?"), "via": services[service_id]}
                if contact_id is not None:
                    add(contact_id, why)
                elif org_id is not None:
                    for member in members.get(org_id, []):
                        add(member, {**why, "organization": org_names.get(org_id)})
    children = session.execute(
        select(Conversation.contact_id, Ticket.number)
        .join(Conversation, Conversation.id == Ticket.conversation_id)
        .where(Ticket.parent_id == ticket_id)
        .order_by(Ticket.id)
    )
    for contact_id, number in children:
        if contact_id is not None:
            add(contact_id, {"child_incident": number})
    # A merged contact's subscription reaches the contact it became.
    merged = _pairs(
        session.execute(
            select(Contact.id, Contact.merged_into_id).where(Contact.id.in_(list(reached)), Contact.merged_into_id.is_not(None))
        )
    )
    for old, new in merged.items():
        if new is None:
            continue
        gone = reached.pop(old)
        for why in gone.why:
            add(new, why)
    return [reached[c] for c in sorted(reached)]


def describe_customers(session: Session, people: Sequence[Reached]) -> list[dict[str, Any]]:
    ids = [p.contact_id for p in people]
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))} if ids else {}
    return [
        {
            "contact_id": p.contact_id,
            "name": contacts[p.contact_id].name if p.contact_id in contacts else None,
            "email": contacts[p.contact_id].email if p.contact_id in contacts else None,
            "why": p.why,
        }
        for p in people
    ]


# -- broadcasts ----------------------------------------------------------------------------------


def broadcasts_of(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """Each broadcast of a ticket with its delivery per channel (from the messages' delivery)."""
    rows = list(session.scalars(select(Broadcast).where(Broadcast.ticket_id == ticket_id).order_by(Broadcast.id.desc())))
    out = []
    for b in rows:
        counts = session.execute(
            select(Channel.name, Channel.type, Message.delivery, func.count())
            .select_from(BroadcastRecipient)
            .outerjoin(Channel, Channel.id == BroadcastRecipient.channel_id)
            .outerjoin(Message, Message.id == BroadcastRecipient.message_id)
            .where(BroadcastRecipient.broadcast_id == b.id)
            .group_by(Channel.name, Channel.type, Message.delivery)
        ).all()
        channels: dict[str, dict[str, Any]] = {}
        skipped = 0
        for name, type_, delivery, n in counts:
            if name is None:
                skipped += n
                continue
            entry = channels.setdefault(name, {"channel": name, "type": type_, "queued": 0, "sent": 0, "failed": 0, "unknown": 0})
            state = delivery if delivery in ("sent", "failed", "unknown") else "queued"
            entry[state] += n
        out.append(
            {
                "id": b.id,
                "text": b.text,
                "audience": b.audience,
                "public": b.public,
                "created_at": b.created_at.isoformat(),
                "complete": b.completed_at is not None,
                "recipients": sum(n for *_, n in counts),
                "skipped": skipped,
                "channels": sorted(channels.values(), key=lambda c: c["channel"]),
            }
        )
    return out
