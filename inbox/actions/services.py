"""Services and configuration items (the service desk's graph), their subscribers, and
proactive broadcasts to the customers an incident affects.

Writes to the graph are configuration: admins only. A name is unique across services and
items (409); `depends_on` names either, and a dependency that would close a cycle is
refused (422) naming the path. Provisioned ones (from the config file) are read-only (409).

A broadcast is written in batches, each its own transaction: the broadcast row first, then
`BATCH` recipients at a time, each recipient's `BroadcastRecipient` row (unique per broadcast
and contact) written with its message and outbox item. Until every recipient exists the
broadcast is incomplete, and `resume_broadcasts` (at start-up) continues it: a crash between
batches neither misses nor doubles anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import delete, func, insert, select

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Forbidden, Invalid, NotFound
from inbox.markdown import render_markdown
from inbox.pipeline.replies import Reply, queue_reply
from inbox.queries import services as graph
from inbox.queries.tickets import find_visible_ticket
from inbox.store.models import (
    Broadcast,
    BroadcastRecipient,
    Channel,
    ConfigItem,
    Contact,
    ContactIdentity,
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
from routing.impact import Node
from routing.vocabulary import BROADCAST_AUDIENCES, CONFIG_ITEM_KINDS, LEVELS

MAX_NAME = 255
MAX_DESCRIPTION = 10_000
MAX_DEPENDS = 100
MAX_ATTRIBUTES = 50
MAX_TEXT = 10_000
MAX_KEY = 128
BATCH = 100


@dataclass(frozen=True, slots=True)
class NodeChanges:
    """What to set on a service or configuration item; None leaves it as it is."""

    name: str | None = None
    description: str | None = None
    criticality: str | None = None
    team: str | None = None  # "" clears it
    kind: str | None = None
    service: str | None = None  # "" clears it
    depends_on: tuple[str, ...] | None = None
    attributes: Mapping[str, Any] | None = None


def _admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("admin role required to change services and configuration items")


def _clean(changes: NodeChanges) -> NodeChanges:
    name = changes.name.strip() if changes.name is not None else None
    if name is not None and not name:
        raise Invalid("a name is required")
    if name is not None and len(name) > MAX_NAME:
        raise Invalid(f"a name is at most {MAX_NAME} characters")
    if changes.description is not None and len(changes.description) > MAX_DESCRIPTION:
        raise Invalid(f"a description is at most {MAX_DESCRIPTION} characters")
    if changes.criticality is not None and changes.criticality not in LEVELS:
        raise Invalid(f"criticality must be one of {', '.join(LEVELS)}")
    if changes.kind is not None and changes.kind not in CONFIG_ITEM_KINDS:
        raise Invalid(f"kind must be one of {', '.join(CONFIG_ITEM_KINDS)}")
    depends = None
    if changes.depends_on is not None:
        depends = tuple(dict.fromkeys(n.strip() for n in changes.depends_on if n.strip()))
        if len(depends) > MAX_DEPENDS:
            raise Invalid(f"at most {MAX_DEPENDS} dependencies")
    if changes.attributes is not None and len(changes.attributes) > MAX_ATTRIBUTES:
        raise Invalid(f"at most {MAX_ATTRIBUTES} attributes")
    return NodeChanges(
        name=name,
        description=changes.description,
        criticality=changes.criticality,
        team=changes.team.strip() if changes.team is not None else None,
        kind=changes.kind,
        service=changes.service.strip() if changes.service is not None else None,
        depends_on=depends,
        attributes=dict(changes.attributes) if changes.attributes is not None else None,
    )


def _id_named(tx: Tx, model: type[Team] | type[Service], what: str, name: str) -> int | None:
    """The id of the team or service of that name ("" is none); Invalid when there is no such one."""
    if not name:
        return None
    found = tx.session.scalar(select(model.id).where(model.name == name))
    if found is None:
        raise Invalid(f"no {what} named {name!r}", code=f"unknown_{what}")
    return int(found)


def _set_depends(tx: Tx, node: Node, names: Sequence[str], *, service_of_item: int | None = None) -> list[str]:
    found = graph.find_names(tx.session, names)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise Invalid(f"depends_on names no service or configuration item {unknown[0]!r}", code="unknown_dependency")
    targets = [found[n] for n in names]
    edges = graph.all_edges(tx.session)
    if service_of_item is not None:  # the item's own service is an edge service → item
        edges = [e for e in edges if e[1] != node] + [((graph.SERVICE, service_of_item), node)]
    cycle = impact.cycle_through(edges, node, targets)
    if cycle is not None:
        names_of = graph.node_names(tx.session, cycle)
        path = " → ".join(names_of.get(n, "?") for n in cycle)
        raise Invalid(f"that dependency would make a cycle: {path}", code="cycle")
    tx.conn.execute(delete(Dependency).where(Dependency.source_type == node[0], Dependency.source_id == node[1]))
    if targets:
        tx.conn.execute(
            insert(Dependency), [{"source_type": node[0], "source_id": node[1], "target_type": t, "target_id": i} for t, i in targets]
        )
    return list(names)


def _check_name(tx: Tx, name: str, but: Node | None = None) -> None:
    if graph.name_taken(tx.session, name, but=but):
        raise Conflict(f"a service or configuration item is already named {name!r}", code="name_taken")


@dataclass(frozen=True, slots=True)
class NodeKind:
    """What differs between the graph's two kinds of node, services and configuration
    items: the table, the names in audit entries and errors, and the kind's own fields
    (`fields` for a new row, `apply` on an update). Everything else is one code path."""

    node_type: str  # graph.SERVICE | graph.CONFIG_ITEM (a Node's first half); also the audit noun
    model: type[Service] | type[ConfigItem]
    label: str  # in errors: "no such service", "this configuration item comes from the config file"
    fields: Callable[[Tx, NodeChanges], dict[str, Any]]
    created: Callable[[NodeChanges, Any], dict[str, Any]]  # the kind's part of the `.create` audit details
    apply: Callable[[Tx, Any, NodeChanges, dict[str, Any]], bool]  # True: the item's own service changed

    def audit(self, verb: str) -> str:
        return f"{self.node_type}.{verb}"

    def target(self, node_id: int) -> str:
        return f"{self.node_type}:{node_id}"


def _service_fields(tx: Tx, c: NodeChanges) -> dict[str, Any]:
    return {
        "description": c.description or "",
        "criticality": c.criticality or "medium",
        "team_id": _id_named(tx, Team, "team", c.team or ""),
    }


def _apply_service(tx: Tx, service: Service, c: NodeChanges, done: dict[str, Any]) -> bool:
    if c.description is not None and c.description != service.description:
        service.description = done["description"] = c.description
    if c.criticality is not None and c.criticality != service.criticality:
        service.criticality = done["criticality"] = c.criticality
    if c.team is not None:
        team_id = _id_named(tx, Team, "team", c.team)
        if team_id != service.team_id:
            service.team_id = team_id
            done["team"] = c.team or None
    return False


def _item_fields(tx: Tx, c: NodeChanges) -> dict[str, Any]:
    return {
        "kind": c.kind or "other",
        "service_id": _id_named(tx, Service, "service", c.service or ""),
        "attributes": dict(c.attributes or {}),
    }


def _apply_item(tx: Tx, item: ConfigItem, c: NodeChanges, done: dict[str, Any]) -> bool:
    if c.kind is not None and c.kind != item.kind:
        item.kind = done["kind"] = c.kind
    if c.attributes is not None and dict(c.attributes) != (item.attributes or {}):
        item.attributes = done["attributes"] = dict(c.attributes)
    if c.service is not None:
        service_id = _id_named(tx, Service, "service", c.service)
        if service_id != item.service_id:
            item.service_id = service_id
            done["service"] = c.service or None
            return True
    return False


SERVICES = NodeKind(
    node_type=graph.SERVICE,
    model=Service,
    label="service",
    fields=_service_fields,
    created=lambda c, row: {"criticality": row.criticality, "team": c.team or None},
    apply=_apply_service,
)
CONFIG_ITEMS = NodeKind(
    node_type=graph.CONFIG_ITEM,
    model=ConfigItem,
    label="configuration item",
    fields=_item_fields,
    created=lambda c, row: {"kind": row.kind, "service": c.service or None},
    apply=_apply_item,
)


def _service_of(row: Service | ConfigItem) -> int | None:
    """An item's own service: an edge service → item that a dependency must not close a cycle with."""
    return row.service_id if isinstance(row, ConfigItem) else None


def _writable(tx: Tx, spec: NodeKind, node_id: int) -> Service | ConfigItem:
    row = cast(Service | ConfigItem | None, tx.session.get(spec.model, node_id))
    if row is None:
        raise NotFound.of(spec.label)
    if row.provisioned:
        raise Conflict(f"this {spec.label} comes from the config file; change it there", code="provisioned")
    return row


async def create_node(ctx: Context, actor: Actor, spec: NodeKind, changes: NodeChanges, *, provisioned: bool = False) -> int:
    """A new service or configuration item (admins only); its id."""
    _admin(actor)
    c = _clean(changes)
    if c.name is None:
        raise Invalid("a name is required")

    def work(tx: Tx) -> int:
        assert c.name is not None
        _check_name(tx, c.name)
        row = spec.model(name=c.name, provisioned=provisioned, created_at=tx.now, updated_at=tx.now, **spec.fields(tx, c))
        tx.session.add(row)
        tx.session.flush()
        depends = _set_depends(tx, (spec.node_type, row.id), c.depends_on or (), service_of_item=_service_of(row))
        tx.audit(spec.audit("create"), spec.target(row.id), {"name": c.name, **spec.created(c, row), "depends_on": depends})
        return row.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_node(ctx: Context, actor: Actor, spec: NodeKind, node_id: int, changes: NodeChanges) -> None:
    """Change what `changes` names of a service or configuration item (admins only; not a provisioned one)."""
    _admin(actor)
    c = _clean(changes)

    def work(tx: Tx) -> None:
        _apply(tx, spec, _writable(tx, spec, node_id), c)

    await perform(ctx.db, ctx.bus, actor, work)


def _apply(tx: Tx, spec: NodeKind, row: Service | ConfigItem, c: NodeChanges) -> dict[str, Any]:
    done: dict[str, Any] = {}
    node = (spec.node_type, row.id)
    if c.name is not None and c.name != row.name:
        _check_name(tx, c.name, node)
        row.name = done["name"] = c.name
    relinked = spec.apply(tx, row, c, done)
    if c.depends_on is not None or relinked:
        before = graph.direct_targets(tx.session, node)
        names = c.depends_on if c.depends_on is not None else _current_names(tx, node)
        _set_depends(tx, node, names, service_of_item=_service_of(row))
        if c.depends_on is not None and graph.direct_targets(tx.session, node) != before:
            done["depends_on"] = list(c.depends_on)
    if done:
        row.updated_at = tx.now
        tx.audit(spec.audit("update"), spec.target(row.id), done)
    return done


def _current_names(tx: Tx, node: Node) -> tuple[str, ...]:
    targets = graph.direct_targets(tx.session, node)
    names = graph.node_names(tx.session, targets)
    return tuple(names[t] for t in targets if t in names)


async def delete_node(ctx: Context, actor: Actor, spec: NodeKind, node_id: int) -> None:
    """Delete a service or configuration item (admins only; not a provisioned one), its edges and what incidents say of it."""
    _admin(actor)

    def work(tx: Tx) -> None:
        row = _writable(tx, spec, node_id)
        tx.conn.execute(delete(Dependency).where(Dependency.source_type == spec.node_type, Dependency.source_id == node_id))
        tx.conn.execute(delete(Dependency).where(Dependency.target_type == spec.node_type, Dependency.target_id == node_id))
        tx.conn.execute(delete(TicketAffected).where(TicketAffected.node_type == spec.node_type, TicketAffected.node_id == node_id))
        tx.session.delete(row)
        tx.audit(spec.audit("delete"), spec.target(node_id), {"name": row.name})

    await perform(ctx.db, ctx.bus, actor, work)


# -- subscribers ---------------------------------------------------------------------------------


async def add_subscriber(
    ctx: Context, actor: Actor, service_id: int, *, organization_id: int | None = None, contact_id: int | None = None
) -> int:
    _admin(actor)
    if (organization_id is None) == (contact_id is None):
        raise Invalid("give either organization_id or contact_id")

    def work(tx: Tx) -> int:
        if tx.session.get(Service, service_id) is None:
            raise NotFound.of("service")
        if organization_id is not None and tx.session.get(Organization, organization_id) is None:
            raise NotFound.of("organization")
        if contact_id is not None:
            contact = tx.session.get(Contact, contact_id)
            if contact is None or contact.merged_into_id is not None:
                raise NotFound.of("contact")
        existing = tx.session.scalar(
            select(ServiceSubscriber.id).where(
                ServiceSubscriber.service_id == service_id,
                ServiceSubscriber.organization_id.is_(None)
                if organization_id is None
                else ServiceSubscriber.organization_id == organization_id,
                ServiceSubscriber.contact_id.is_(None) if contact_id is None else ServiceSubscriber.contact_id == contact_id,
            )
        )
        if existing is not None:
            raise Conflict("already a subscriber of this service", code="already_subscribed")
        sub = ServiceSubscriber(service_id=service_id, organization_id=organization_id, contact_id=contact_id, created_at=tx.now)
        tx.session.add(sub)
        tx.session.flush()
        details = {"subscriber": sub.id, "organization_id": organization_id, "contact_id": contact_id}
        tx.audit("service.subscribe", f"service:{service_id}", details)
        return sub.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def remove_subscriber(ctx: Context, actor: Actor, service_id: int, subscriber_id: int) -> None:
    _admin(actor)

    def work(tx: Tx) -> None:
        sub = tx.session.get(ServiceSubscriber, subscriber_id)
        if sub is None or sub.service_id != service_id:
            raise NotFound.of("subscriber")
        details = {"subscriber": sub.id, "organization_id": sub.organization_id, "contact_id": sub.contact_id}
        tx.session.delete(sub)
        tx.audit("service.unsubscribe", f"service:{service_id}", details)

    await perform(ctx.db, ctx.bus, actor, work)


# -- what an incident affects -------------------------------------------------------------------------


def set_affected(tx: Tx, ticket_id: int, names: Sequence[str]) -> list[str] | None:
    """Inside a ticket update: make the ticket name exactly these services/items. Returns the
    names when that changed anything (None when it did not)."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if len(wanted) > MAX_DEPENDS:
        raise Invalid(f"at most {MAX_DEPENDS} affected services or items")
    found = graph.find_names(tx.session, wanted)
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise Invalid(f"affected names no service or configuration item {unknown[0]!r}", code="unknown_affected")
    before = set(graph.affected_nodes(tx.session, ticket_id))
    after = {found[n] for n in wanted}
    if before == after:
        return None
    tx.conn.execute(delete(TicketAffected).where(TicketAffected.ticket_id == ticket_id))
    if after:
        tx.conn.execute(insert(TicketAffected), [{"ticket_id": ticket_id, "node_type": t, "node_id": i} for t, i in sorted(after)])
    return sorted(wanted)


# -- broadcasts -------------------------------------------------------------------------------------------


async def start_broadcast(
    ctx: Context,
    actor: Actor,
    ticket_id: int,
    text: str,
    *,
    audience: str = "affected",
    public: bool = True,
    idempotency_key: str | None = None,
) -> tuple[int, bool]:
    """Write the broadcast row, then every recipient in batches. Returns (broadcast id, created):
    a retry with the same idempotency key returns the first broadcast and sends nothing again."""
    text = text.strip()
    if not text:
        raise Invalid("a broadcast needs text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"a broadcast is at most {MAX_TEXT} characters")
    if audience not in BROADCAST_AUDIENCES:
        raise Invalid(f"audience must be one of {', '.join(BROADCAST_AUDIENCES)}")
    key = (idempotency_key or "").strip() or None
    if key is not None and len(key) > MAX_KEY:
        raise Invalid(f"an idempotency key is at most {MAX_KEY} characters")

    def work(tx: Tx) -> tuple[int, bool]:
        ticket = find_visible_ticket(tx.session, actor.principal, ticket_id)
        if ticket is None:
            raise NotFound.of("ticket")
        if ticket.kind != "incident":
            raise Invalid("only an incident broadcasts", code="not_incident")
        if key is not None:
            earlier = tx.session.scalar(select(Broadcast).where(Broadcast.ticket_id == ticket_id, Broadcast.idempotency_key == key))
            if earlier is not None:
                if (earlier.text, earlier.audience, earlier.public) != (text, audience, public):
                    raise Conflict("this idempotency key was used for a different broadcast", code="idempotency_mismatch")
                return earlier.id, False
        row = Broadcast(
            ticket_id=ticket_id,
            text=text,
            audience=audience,
            public=public,
            agent_id=actor.agent_id,
            idempotency_key=key,
            created_at=tx.now,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit("broadcast.create", f"ticket:{ticket_id}", {"broadcast": row.id, "audience": audience, "public": public})
        return row.id, True

    broadcast_id, created = await perform(ctx.db, ctx.bus, actor, work)
    await continue_broadcast(ctx, broadcast_id)
    return broadcast_id, created


async def continue_broadcast(ctx: Context, broadcast_id: int) -> None:
    """Write the missing recipients, a batch per transaction, until the broadcast is complete."""
    actor = Actor.system("broadcast")
    while not await perform(ctx.db, ctx.bus, actor, lambda tx: _batch(tx, broadcast_id)):
        pass


async def resume_broadcasts(ctx: Context) -> int:
    """Continue every broadcast a crash left incomplete (at start-up). Returns how many."""
    async with ctx.db.read() as session:
        ids = list(await session.scalars(select(Broadcast.id).where(Broadcast.completed_at.is_(None)).order_by(Broadcast.id)))
    for broadcast_id in ids:
        await continue_broadcast(ctx, broadcast_id)
    return len(ids)


def _batch(tx: Tx, broadcast_id: int) -> bool:
    """One batch of recipients; True when the broadcast is complete."""
    b = tx.session.get(Broadcast, broadcast_id)
    if b is None or b.completed_at is not None:
        return True
    done = set(tx.session.scalars(select(BroadcastRecipient.contact_id).where(BroadcastRecipient.broadcast_id == broadcast_id)))
    people = [p for p in graph.affected_customers(tx.session, b.ticket_id, b.audience) if p.contact_id not in done]
    batch = people[:BATCH]
    reply = Reply(text=b.text, html=render_markdown(b.text), agent_id=b.agent_id, meta={"broadcast_id": b.id})
    email = tx.session.scalar(select(Channel.id).where(Channel.type == "email", Channel.enabled.is_(True)).order_by(Channel.id))
    latest = _latest_inbound(tx, [p.contact_id for p in batch])
    sent = skipped = 0
    for person in batch:
        conversation_id = _conversation_for(tx, person.contact_id, latest.get(person.contact_id), email, b)
        message_id = channel_id = None
        if conversation_id is not None:
            message_id = queue_reply(tx.conn, conversation_id, reply, tx.feed, tx.now)
            channel_id = tx.conn.scalar(select(Message.channel_id).where(Message.id == message_id))
            sent += 1
        else:
            skipped += 1
        tx.conn.execute(
            insert(BroadcastRecipient).values(broadcast_id=b.id, contact_id=person.contact_id, channel_id=channel_id, message_id=message_id)
        )
    complete = len(people) <= BATCH
    if complete:
        b.completed_at = tx.now
    if batch:
        tx.audit("broadcast.deliver", f"ticket:{b.ticket_id}", {"broadcast": b.id, "queued": sent, "skipped": skipped})
    return complete


def _latest_inbound(tx: Tx, contact_ids: Sequence[int]) -> dict[int, int]:
    """The conversation of each contact's latest message (for a batch, in two queries)."""
    if not contact_ids:
        return {}
    newest = tx.conn.execute(
        select(func.max(Message.id)).where(Message.contact_id.in_(contact_ids), Message.direction == "in").group_by(Message.contact_id)
    ).scalars()
    ids = [i for i in newest if i is not None]
    if not ids:
        return {}
    rows = tx.conn.execute(select(Message.contact_id, Message.conversation_id).where(Message.id.in_(ids)))
    return {int(c): int(v) for c, v in rows if c is not None}


def _conversation_for(tx: Tx, contact_id: int, latest: int | None, email_channel: int | None, b: Broadcast) -> int | None:
    """The conversation of the customer's latest message (so on the channel they last wrote
    on); else their email conversation, a new one if need be (when they have an address and
    there is an email channel); else None."""
    if latest is not None:
        conversation_id = latest
        for _ in range(10):  # a merged conversation's messages live on in the one it joined
            merged = tx.conn.scalar(select(Conversation.merged_into_id).where(Conversation.id == conversation_id))
            if merged is None:
                return int(conversation_id)
            conversation_id = merged
        return None
    contact = tx.session.get(Contact, contact_id)
    if email_channel is None or contact is None or not contact.email:
        return None
    address = contact.email.lower()
    owner = tx.conn.scalar(
        select(ContactIdentity.contact_id).where(ContactIdentity.channel_id == email_channel, ContactIdentity.address == address)
    )
    if owner is not None and owner != contact_id:
        return None
    if owner is None:
        tx.conn.execute(insert(ContactIdentity).values(contact_id=contact_id, channel_id=email_channel, address=address, created_at=tx.now))
    existing = tx.conn.scalar(
        select(Conversation.id)
        .where(Conversation.contact_id == contact_id, Conversation.channel_id == email_channel, Conversation.merged_into_id.is_(None))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    if existing is not None:
        return int(existing)
    subject = tx.conn.scalar(select(Ticket.title).where(Ticket.id == b.ticket_id)) or "Service update"
    row = Conversation(
        channel_id=email_channel, contact_id=contact_id, subject=subject[:998], status="pending", created_at=tx.now, last_message_at=tx.now
    )
    tx.session.add(row)
    tx.session.flush()
    tx.event("conversation.created", {"conversation_id": row.id, "channel_id": email_channel}, row.id)
    return row.id
