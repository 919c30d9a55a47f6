"""Reading conversations: who may see what, the lists, the JSON shapes of conversations and messages.

A `who` of None is a system caller (the CLI, a rule, the SLA watch): it sees everything."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Connection,
    Executable,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
    type_coerce,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, aliased

from inbox.auth import Principal
from inbox.pipeline.agent_mail import THREAD_KEY as AGENT_MAIL_THREAD
from inbox.queries.contact_names import display_name, visitor_number
from inbox.store import search
from inbox.store.models import (
    Agent,
    Attachment,
    Channel,
    Contact,
    Conversation,
    ConversationRead,
    Message,
    Team,
    TeamMember,
    Ticket,
    UTCDateTime,
    UTCText,
    utcnow,
)

TEAMS_OF = select(TeamMember.team_id).where(TeamMember.agent_id == bindparam("agent_id"))
CONVERSATION_ID = select(Conversation.id).where(Conversation.id == bindparam("conversation_id"))


def teams_of(session: Session | Connection, agent_id: int) -> list[int]:
    return list(session.scalars(TEAMS_OF, {"agent_id": agent_id}))


def visible_to(session: Session | Connection, who: Principal | None) -> ColumnElement[bool]:
    """Admins see everything; agents see unteamed conversations, their teams' and their own."""
    if who is None or who.is_admin:
        return true()
    teams = teams_of(session, who.agent_id)
    seen = or_(
        Conversation.team_id.is_(None),
        Conversation.team_id.in_(teams) if teams else false(),
        Conversation.assignee_id == who.agent_id,
    )
    # What was e-mailed to an agent (signed approval links) is theirs alone (inbox/pipeline/agent_mail.py).
    return and_(seen, or_(Conversation.thread_key.is_distinct_from(AGENT_MAIL_THREAD), Conversation.assignee_id == who.agent_id))


async def visibility(session: AsyncSession, who: Principal | None) -> ColumnElement[bool]:
    return await session.run_sync(visible_to, who)


def find_visible(session: Session, who: Principal | None, conversation_id: int) -> Conversation | None:
    return session.scalar(select(Conversation).where(Conversation.id == conversation_id, visible_to(session, who)))


def is_visible(conn: Connection, who: Principal | None, conversation_id: int) -> bool:
    """`find_visible` without loading the conversation (a write's check, on its connection);
    for an admin or the system one statement built once."""
    if who is None or who.is_admin:
        return conn.scalar(CONVERSATION_ID, {"conversation_id": conversation_id}) is not None
    query = select(Conversation.id).where(Conversation.id == conversation_id, visible_to(conn, who))
    return conn.scalar(query) is not None


async def get_visible(session: AsyncSession, who: Principal | None, conversation_id: int) -> Conversation | None:
    return await session.run_sync(find_visible, who, conversation_id)


@dataclass(frozen=True, slots=True)
class ListFilter:
    status: str | None = None
    channel: str | None = None
    assignee: str | None = None  # me | none | EMAIL
    team: str | None = None
    q: str | None = None
    priority: str | None = None
    tag: str | None = None
    my_teams: bool = False  # only the caller's teams' conversations
    waiting_minutes_over: int | None = None  # the customer has waited longer than this (see `waiting_over`)
    sla: str | None = None  # due_soon | breached (see `sla_is`)


SLA_DUE_SOON = dt.timedelta(hours=1)


def waiting_over(minutes: int, now: dt.datetime) -> ColumnElement[bool]:
    """The customer is waiting: their last inbound message is newer than our last public
    reply (an outbound message that is not a private note and not automated; none counts as
    never), and it came more than `minutes` ago. Private notes and auto-replies answer nobody."""
    last_in = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == Conversation.id, Message.direction == "in", Message.deleted_at.is_(None))
        .scalar_subquery()
    )
    last_reply = (
        select(func.max(Message.created_at))
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == "out",
            Message.private.is_(False),
            Message.automated.is_(False),
            Message.deleted_at.is_(None),
        )
        .scalar_subquery()
    )
    return and_(last_in.is_not(None), last_in <= now - dt.timedelta(minutes=minutes), or_(last_reply.is_(None), last_in > last_reply))


def sla_is(state: str, now: dt.datetime) -> ColumnElement[bool]:
    """A ticket of the conversation (not closed) has a target not met: `breached` when its due
    time has passed, `due_soon` when it falls within the next hour. The targets are the ticket's
    first response (met by the ticket's or the conversation's first response) and resolution."""
    first_met = func.coalesce(Ticket.first_response_at, Conversation.first_response_at)

    def due(column: Any) -> ColumnElement[bool]:
        if state == "breached":
            return column <= now
        return and_(column > now, column <= now + SLA_DUE_SOON)

    return (
        select(Ticket.id)
        .where(
            Ticket.conversation_id == Conversation.id,
            Ticket.status != "closed",
            or_(
                and_(Ticket.first_response_due.is_not(None), due(Ticket.first_response_due), first_met.is_(None)),
                and_(Ticket.resolution_due.is_not(None), due(Ticket.resolution_due), Ticket.resolved_at.is_(None)),
            ),
        )
        .exists()
    )


def matching(session: Session, who: Principal, filters: ListFilter, now: dt.datetime | None = None) -> Select[Any]:
    """The statement of a list: rows of `LISTED` that `who` may see and `filters` keep."""
    query = select(*LISTED).where(visible_to(session, who))
    now = now or utcnow()
    if filters.status:
        query = query.where(Conversation.status == filters.status)
    if filters.priority:
        query = query.where(Conversation.priority == filters.priority)
    if filters.channel:
        query = query.join(Channel, Channel.id == Conversation.channel_id).where(Channel.name == filters.channel)
    if filters.assignee == "me":
        query = query.where(Conversation.assignee_id == who.agent_id)
    elif filters.assignee == "none":
        query = query.where(Conversation.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Conversation.assignee_id == select(Agent.id).where(Agent.email == filters.assignee.lower()).scalar_subquery())
    if filters.my_teams:
        query = query.where(Conversation.team_id.in_(select(TeamMember.team_id).where(TeamMember.agent_id == who.agent_id)))
    if filters.team:
        query = query.where(Conversation.team_id == select(Team.id).where(Team.name == filters.team).scalar_subquery())
    if filters.tag:
        # JSON arrays differ between SQLite and PostgreSQL; a quoted LIKE works on both.
        query = query.where(Conversation.tags.cast(Text).like(f'%"{_escape_like(filters.tag)}"%', escape="\\"))
    if filters.q:
        dialect = search.dialect_of(session)
        common = search.common_lexemes(session) if dialect == "postgresql" else frozenset()
        query = query.where(_search(dialect, filters.q, common))
    if filters.waiting_minutes_over is not None:
        query = query.where(waiting_over(filters.waiting_minutes_over, now))
    if filters.sla:
        query = query.where(sla_is(filters.sla, now))
    return query


TICKET_NUMBER = re.compile(r"#?(\d{1,9})")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _search(dialect: str, q: str, common: frozenset[str]) -> ColumnElement[bool]:
    """What `q` finds: conversations with a message matching its words (the newest
    matches, see inbox.store.search), or whose subject holds it; a ticket's number ("123"
    or "#123") finds its conversation, an e-mail address its contact's conversations."""
    q = q.strip()
    # One set of ids (a UNION of small indexed lookups), then the list's order over it.
    found: list[Select[Any]] = [search.subject_matches(dialect, q)]
    matching = search.matching_conversations(dialect, q, common)
    if matching is not None:
        found.append(matching)
    if number := TICKET_NUMBER.fullmatch(q):
        found.append(select(Ticket.conversation_id).where(Ticket.number == int(number.group(1)), Ticket.conversation_id.is_not(None)))
    if EMAIL.fullmatch(q):
        found.append(select(Conversation.id).where(Conversation.contact_id.in_(select(Contact.id).where(Contact.email == q.lower()))))
    return Conversation.id.in_(union(*found) if len(found) > 1 else found[0])


def list_rows(
    session: Session,
    who: Principal,
    filters: ListFilter,
    *,
    after: tuple[str, int] | None,
    limit: int,
    now: dt.datetime | None = None,
) -> list[Any]:
    """Rows of `LISTED` (what `describe` shows), the newest first, after the keyset `after`."""
    query = matching(session, who, filters, now)
    if after is not None:
        at = dt.datetime.fromisoformat(after[0])
        query = query.where(or_(Conversation.last_message_at < at, and_(Conversation.last_message_at == at, Conversation.id < after[1])))
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    # On the connection: Core rows without the ORM's loading of them (they are not objects).
    return list(session.connection().execute(query).all())


async def list_conversations(
    session: AsyncSession,
    who: Principal,
    filters: ListFilter,
    *,
    after: tuple[str, int] | None,
    limit: int,
    now: dt.datetime | None = None,
) -> list[Any]:
    return await session.run_sync(list_rows, who, filters, after=after, limit=limit, now=now)


def count_rows(session: Session, who: Principal, filters: ListFilter, now: dt.datetime | None = None) -> int:
    """How many conversations the list would show (every page), as `who` may see them."""
    found = matching(session, who, filters, now).with_only_columns(Conversation.id).subquery()
    return int(session.scalar(select(func.count()).select_from(found)) or 0)


async def count_conversations(session: AsyncSession, who: Principal, filters: ListFilter, *, now: dt.datetime | None = None) -> int:
    return await session.run_sync(count_rows, who, filters, now)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# The columns a list shows (rows, not ORM objects: loading hundreds of `Conversation`s cost
# more CPU than their statements), and the statements of `conversation_shapes`, built once.
LISTED_NAMES = (
    "id", "channel_id", "contact_id", "status", "subject", "assignee_id", "team_id", "priority", "tags", "snoozed_until",
    "first_response_at", "last_message_at", "created_at", "updated_at", "merged_into_id",
)  # fmt: skip
LISTED = tuple(Conversation.__table__.c[name] for name in LISTED_NAMES)
# `LISTED` with the times read as the text the shape shows (see `UTCText`), for rows that are
# only shaped: a contact's page has hundreds.
LISTED_SHOWN = tuple(type_coerce(c, UTCText()).label(c.name) if isinstance(c.type, UTCDateTime) else c for c in LISTED)


def _listed_values(conversations: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """The values of `LISTED_NAMES` in their order, per conversation: rows of `LISTED` as they
    are (unpacking a row costs a tenth of reading its fields by name), anything else (ORM
    objects) field by field. A list is one or the other."""
    if getattr(conversations[0], "_fields", None) == LISTED_NAMES:
        return conversations
    return [tuple(getattr(c, name) for name in LISTED_NAMES) for c in conversations]


def _among(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`column` is one of the ids given as parameter `name`. On PostgreSQL one array
    parameter: the statement's text is the same however many ids (an expanding IN renders a
    placeholder per id on every execution, and asyncpg prepares a statement per list length);
    on SQLite the expanding IN measured faster than an IN over `json_each`."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(BigInteger)))
    return column.in_(bindparam(name, expanding=True))


def _last_public(*columns: Any) -> Select[Any]:
    """`columns` of each conversation's last public message (`max(id)` of them, read backwards),
    correlated to `Conversation`."""
    m = aliased(Message)
    return (
        select(*(getattr(m, name) for name in columns))
        .where(m.conversation_id == Conversation.id, m.private.is_(False), m.automated.is_(False), m.deleted_at.is_(None))
        .order_by(m.id.desc())
        .limit(1)
        .correlate(Conversation)
    )


def _previews(dialect: str, listed: ColumnElement[bool]) -> Executable:
    """(conversation_id, text, subject) of the last public message of the conversations
    `listed` keeps. PostgreSQL reads the message where it finds it (a LATERAL join: on the
    contact page a fifth of the time of looking its id up first and the row by it after);
    SQLite has no LATERAL, and looks the ids up."""
    if dialect == "postgresql":
        last = _last_public("text", "subject").lateral()
        return select(Conversation.id, last.c.text, last.c.subject).join(last, true()).where(listed)
    ids = select(_last_public("id").scalar_subquery()).where(listed)
    return select(Message.conversation_id, Message.text, Message.subject).where(Message.id.in_(ids))


@dataclass(frozen=True, slots=True)
class _ShapeStatements:
    channels: Executable
    contacts: Executable
    agents: Executable
    teams: Executable
    tickets: Executable
    previews: Executable
    waiting: Executable


def _shape_statements(dialect: str, of_contact: bool = False) -> _ShapeStatements:
    """The statements of `conversation_shapes`. The lookups by conversation take the ids as
    parameter `ids` (and `replied_ids`); with `of_contact`, the conversations of the contact
    given as `contact_id` instead: a contact's page lists hundreds, and an IN of hundreds of
    parameters costs more to render on every execution than the statement takes (the rows of
    conversations not listed are looked up too and not used)."""

    def among(column: Any, name: str = "ids") -> ColumnElement[bool]:
        return _among(dialect, column, name)

    def among_conversations(column: Any, name: str = "ids") -> ColumnElement[bool]:
        if of_contact:
            return column.in_(select(Conversation.id).where(Conversation.contact_id == bindparam("contact_id")).scalar_subquery())
        return among(column, name)

    listed = Conversation.contact_id == bindparam("contact_id") if of_contact else among(Conversation.id)

    # Since when the customer waits for an answer: their first message after our last public
    # reply (private notes and automated messages answer nobody, as in `waiting_over`).
    replied = (
        select(Message.conversation_id, func.max(Message.created_at).label("at"))
        .where(
            among_conversations(Message.conversation_id, "replied_ids"),
            Message.direction == "out",
            Message.private.is_(False),
            Message.automated.is_(False),
            Message.deleted_at.is_(None),
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    return _ShapeStatements(
        channels=select(Channel.id, Channel.name, Channel.type).where(among(Channel.id)),
        contacts=select(Contact.id, Contact.name, Contact.email).where(among(Contact.id)),
        agents=select(Agent.id, Agent.email, Agent.name).where(among(Agent.id)),
        teams=select(Team.id, Team.name).where(among(Team.id)),
        tickets=select(
            Ticket.conversation_id, Ticket.id, Ticket.number, Ticket.kind, Ticket.status, Ticket.priority, Ticket.first_response_due,
            Ticket.first_response_at, Ticket.resolution_due, Ticket.resolved_at,
        )
        .where(among_conversations(Ticket.conversation_id))
        .order_by(Ticket.id.desc()),
        # Each conversation's last public message: not a private note, not deleted, not an
        # automated one (an auto-reply or a ticket's notice says nothing about the case). Per
        # conversation the index (conversation_id, id) read backwards, stopping at the first
        # (usually the last message): not every message of every conversation.
        previews=_previews(dialect, listed),
        waiting=select(Message.conversation_id, type_coerce(func.min(Message.created_at), UTCText()).label("since"))
        .outerjoin(replied, replied.c.conversation_id == Message.conversation_id)
        .where(
            among_conversations(Message.conversation_id),
            Message.direction == "in",
            Message.deleted_at.is_(None),
            or_(replied.c.at.is_(None), Message.created_at > replied.c.at),
        )
        .group_by(Message.conversation_id),
    )  # fmt: skip


_SHAPES = {dialect: _shape_statements(dialect) for dialect in ("sqlite", "postgresql")}
_CONTACT_SHAPES = {dialect: _shape_statements(dialect, of_contact=True) for dialect in ("sqlite", "postgresql")}


async def describe(session: AsyncSession, conversations: Sequence[Any]) -> list[dict[str, Any]]:
    """The API shape of conversations (`Conversation`s or rows of `LISTED`), in one hop."""
    if not conversations:
        return []
    return await session.run_sync(conversation_shapes, conversations)


def conversation_shapes(session: Session, conversations: Sequence[Any], *, contact_id: int | None = None) -> list[dict[str, Any]]:
    """`describe` on the session's own thread: a few set-based lookups in statements built
    once. `contact_id`: the conversations are (some of) that contact's, looked up by it."""
    if not conversations:
        return []
    dialect = session.get_bind().dialect.name
    st = _SHAPES[dialect] if contact_id is None else _CONTACT_SHAPES[dialect]
    if session.autoflush:
        session.flush()  # what `session.execute` would do first (a no-op when nothing is pending)
    conn = session.connection()  # Core rows, without the ORM's loading of them
    values = _listed_values(conversations)
    # The ids to look up, column by column (a row's fields by name cost more than the lookups).
    ids, channel_ids, contact_ids, _, _, assignee_ids, team_column = islice(zip(*values, strict=True), 7)
    agent_ids = set(assignee_ids) - {None}
    team_ids = set(team_column) - {None}
    conv_ids = list(ids)
    # `.all()`: one fetch of every row (iterating a result fetches them one at a time).
    channels = {r.id: r for r in conn.execute(st.channels, {"ids": list(set(channel_ids))}).all()}
    contacts = {r.id: r for r in conn.execute(st.contacts, {"ids": list(set(contact_ids))}).all()}
    agents = {r.id: r for r in conn.execute(st.agents, {"ids": list(agent_ids)}).all()} if agent_ids else {}
    teams = {r.id: r.name for r in conn.execute(st.teams, {"ids": list(team_ids)}).all()} if team_ids else {}
    of_them = {"ids": conv_ids, "replied_ids": conv_ids} if contact_id is None else {"contact_id": contact_id}
    tickets = {r.conversation_id: r for r in conn.execute(st.tickets, of_them).all()}
    previews = {cid: preview_of(text or subject) for cid, text, subject in conn.execute(st.previews, of_them).all()}
    waiting = {cid: since for cid, since in conn.execute(st.waiting, of_them).all() if since is not None}
    # What many rows share is shaped once: the contact page's rows are all one contact's.
    people = {
        r.id: {
            "id": r.id,
            "name": r.name,
            "email": r.email,
            "display_name": display_name(r.name, r.email, r.id),
            "visitor_number": visitor_number(r.name, r.email, r.id),
        }
        for r in contacts.values()
    }
    now = utcnow()
    out = []
    for (
        id_, channel_id, contact_id, status, subject, assignee_id, team_id, priority, tags, snoozed_until,
        first_response_at, last_message_at, created_at, updated_at, merged_into_id,
    ) in values:  # fmt: skip
        ticket = tickets.get(id_)
        channel = channels[channel_id]
        assignee = agents.get(assignee_id) if assignee_id else None
        since = waiting.get(id_)
        out.append(
            {
                "id": id_,
                "channel": channel.name,
                "channel_type": channel.type,
                "status": status,
                "subject": subject,
                "contact": dict(people[contact_id]),
                "assignee": assignee.email if assignee else None,
                "assignee_name": (assignee.name or assignee.email) if assignee else None,
                "preview": previews.get(id_, ""),
                "waiting_since": _iso(since),
                "team": teams.get(team_id) if team_id else None,
                "priority": priority,
                "tags": list(tags or []),
                "snoozed_until": _iso(snoozed_until),
                "first_response_at": _iso(first_response_at),
                "last_message_at": _iso(last_message_at),
                "created_at": _iso(created_at),
                "updated_at": _iso(updated_at),
                "merged_into": merged_into_id,
                "ticket": (
                    {"id": ticket.id, "number": ticket.number, "kind": ticket.kind, "status": ticket.status, "priority": ticket.priority}
                    if ticket
                    else None
                ),
                "sla": sla_badge(ticket, first_response_at, now) if ticket else None,
            }
        )
    return out


def _iso(value: dt.datetime | str | None) -> str | None:
    """A time as the API shows it (rows of `LISTED_SHOWN` bring the text already)."""
    return value if value is None or isinstance(value, str) else value.isoformat()


PREVIEW = 120


def preview_of(text: str | None) -> str:
    """The start of a message on one line: at most `PREVIEW` characters, an ellipsis when cut."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1].rstrip() + "…"


def sla_badge(ticket: Any, conversation_first_response: dt.datetime | None, now: dt.datetime) -> dict[str, Any] | None:
    """The ticket's nearest target not met yet: when it is due and whether it is `breached`,
    `due_soon` (within `SLA_DUE_SOON`) or `ok` (the same targets as `sla_is`). `ticket` is a
    `Ticket` or a row with its columns."""
    if ticket.status == "closed":
        return None
    pending = []
    if ticket.first_response_due and (ticket.first_response_at or conversation_first_response) is None:
        pending.append(ticket.first_response_due)
    if ticket.resolution_due and ticket.resolved_at is None:
        pending.append(ticket.resolution_due)
    if not pending:
        return None
    due = min(pending)
    state = "breached" if due <= now else "due_soon" if due <= now + SLA_DUE_SOON else "ok"
    return {"due_at": due.isoformat(), "state": state}


# The statements of the message shapes, built once: every reply answers with its shape.
_MESSAGE_FILES = (
    select(Attachment.id, Attachment.message_id, Attachment.filename, Attachment.content_type, Attachment.size)
    .where(Attachment.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(Attachment.id)
)
_CHANNEL_NAMES = select(Channel.id, Channel.name).where(Channel.id.in_(bindparam("ids", expanding=True)))
_AGENT_NAMES = select(Agent.id, Agent.name).where(Agent.id.in_(bindparam("ids", expanding=True)))
_CONTACT_NAMES = select(Contact.id, Contact.name, Contact.email).where(Contact.id.in_(bindparam("ids", expanding=True)))
MESSAGE_COLUMNS = (
    "id", "conversation_id", "channel_id", "direction", "author_type", "agent_id", "contact_id", "subject", "text",
    "html", "private", "delivery", "delivery_error", "automated", "edited_at", "original_text", "deleted_at",
    "created_at", "sent_at", "send_at",
)  # fmt: skip
_MESSAGE_SHOWN = (
    select(
        *(Message.__table__.c[name] for name in MESSAGE_COLUMNS),
        Channel.name.label("channel_name"),
        Agent.name.label("agent_name"),
        Contact.name.label("contact_name"),
        Contact.email.label("contact_email"),
    )
    .join(Channel, Channel.id == Message.channel_id)
    .outerjoin(Agent, Agent.id == Message.agent_id)
    .outerjoin(Contact, Contact.id == Message.contact_id)
    .where(Message.id == bindparam("message_id"))
)  # fmt: skip


def _files_by_message(session: Session | Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    files: dict[int, list[dict[str, Any]]] = {}
    for a in session.execute(_MESSAGE_FILES, {"ids": ids}):
        files.setdefault(a.message_id, []).append(
            {"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size, "url": f"/attachments/{a.id}"}
        )
    return files


def message_shapes(session: Session, messages: Sequence[Any]) -> list[dict[str, Any]]:
    """Messages (`Message`s or rows of `MESSAGE_COLUMNS`) as the API shows them (with
    attachments and author names)."""
    if not messages:
        return []
    if session.autoflush:
        session.flush()  # what `session.execute` would do first (a no-op when nothing is pending)
    conn = session.connection()  # Core rows, without the ORM's loading of them
    attachments = _files_by_message(conn, [m.id for m in messages])
    agent_ids = [m.agent_id for m in messages if m.agent_id]
    contact_ids = [m.contact_id for m in messages if m.contact_id]
    channels = {r.id: r.name for r in conn.execute(_CHANNEL_NAMES, {"ids": list({m.channel_id for m in messages})})}
    agents = {r.id: r.name for r in conn.execute(_AGENT_NAMES, {"ids": list(set(agent_ids))})} if agent_ids else {}
    contact_rows = conn.execute(_CONTACT_NAMES, {"ids": list(set(contact_ids))}).all() if contact_ids else []
    contacts = {r.id: display_name(r.name, r.email, r.id) for r in contact_rows}
    numbers = {r.id: visitor_number(r.name, r.email, r.id) for r in contact_rows}
    out = []
    for m in messages:
        author_name = (
            agents.get(m.agent_id) if m.author_type == "agent" and m.agent_id else contacts.get(m.contact_id) if m.contact_id else None
        )
        number = numbers.get(m.contact_id) if m.author_type == "contact" and m.contact_id else None
        out.append(_message_shape(m, channels.get(m.channel_id), author_name, attachments.get(m.id, []), number))
    return out


def message_shape(conn: Connection, message_id: int, *, with_files: bool = True) -> dict[str, Any] | None:
    """One message as the API shows it (`message_shapes` of one, in statements built once);
    `with_files=False` when the caller knows it has no attachments (one statement fewer)."""
    m = conn.execute(_MESSAGE_SHOWN, {"message_id": message_id}).first()
    if m is None:
        return None
    if m.author_type == "agent" and m.agent_id:
        author_name = m.agent_name
    elif m.contact_id:
        author_name = display_name(m.contact_name, m.contact_email, m.contact_id)
    else:
        author_name = None
    files = _files_by_message(conn, [m.id]).get(m.id, []) if with_files else []
    number = visitor_number(m.contact_name, m.contact_email, m.contact_id) if m.author_type == "contact" and m.contact_id else None
    return _message_shape(m, m.channel_name, author_name, files, number)


def _message_shape(
    m: Any, channel: str | None, author_name: str | None, attachments: list[dict[str, Any]], visitor: int | None
) -> dict[str, Any]:
    """The JSON of a message (an ORM `Message` or a row with its columns); `visitor` is a nameless
    contact author's visitor number."""
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "channel": channel,
        "direction": m.direction,
        "author": {
            "type": m.author_type,
            "id": m.agent_id if m.author_type == "agent" else m.contact_id,
            "name": author_name,
            "visitor_number": visitor,
        },
        "subject": m.subject,
        "text": m.text,
        "html": m.html,
        "private": m.private,
        "delivery": m.delivery,
        "delivery_error": m.delivery_error,
        "automated": m.automated,
        "edited_at": _iso(m.edited_at),
        "original_text": m.original_text,
        "deleted": m.deleted_at is not None,
        "attachments": attachments,
        "created_at": _iso(m.created_at),
        "sent_at": _iso(m.sent_at),
        "send_at": _iso(m.send_at),
    }


async def describe_messages(session: AsyncSession, messages: Sequence[Any]) -> list[dict[str, Any]]:
    return await session.run_sync(message_shapes, messages)


# A page of a conversation's messages: rows of the columns `_message_shape` shows, by a
# statement built once (ids start at 1, so no cursor is `after_id` 0).
_MESSAGES_PAGE = (
    select(*(Message.__table__.c[name] for name in MESSAGE_COLUMNS))
    .where(Message.conversation_id == bindparam("conversation_id"), Message.id > bindparam("after_id"))
    .order_by(Message.id)
    .limit(bindparam("limit"))
)


def message_rows(session: Session, conversation_id: int, *, after_id: int | None, limit: int) -> list[Any]:
    """The conversation's messages after `after_id`, the oldest first: rows for `message_shapes`."""
    params = {"conversation_id": conversation_id, "after_id": after_id or 0, "limit": limit}
    return list(session.connection().execute(_MESSAGES_PAGE, params).all())


async def messages_of(session: AsyncSession, conversation_id: int, *, after_id: int | None, limit: int) -> list[Any]:
    return await session.run_sync(message_rows, conversation_id, after_id=after_id, limit=limit)


async def ids_matching(session: AsyncSession, who: Principal, filters: ListFilter, *, limit: int) -> list[int]:
    """The ids of the conversations a list with these filters shows (all pages), newest
    first, at most `limit` of them."""
    return [c.id for c in await list_conversations(session, who, filters, after=None, limit=limit)]


async def unread_among(session: AsyncSession, agent_id: int, conv_ids: Sequence[int]) -> set[int]:
    """The conversations with news for the agent since they last opened them: a customer's
    message, or another agent's reply or note. What the agent did themselves, and what the
    system sent because of it (a ticket's notice, an auto-reply), is not news to them."""
    if not conv_ids:
        return set()
    news = (
        select(Message.conversation_id, func.max(Message.created_at).label("at"))
        .where(
            Message.conversation_id.in_(conv_ids),
            Message.deleted_at.is_(None),
            or_(Message.direction == "in", and_(Message.author_type == "agent", Message.agent_id != agent_id)),
        )
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = await session.execute(
        select(news.c.conversation_id, news.c.at, ConversationRead.read_at).outerjoin(
            ConversationRead, and_(ConversationRead.conversation_id == news.c.conversation_id, ConversationRead.agent_id == agent_id)
        )
    )
    unread = set()
    for r in rows:
        at, read_at = _aware(r.at), _aware(r.read_at)
        if at is not None and (read_at is None or read_at < at):
            unread.add(r.conversation_id)
    return unread


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    if isinstance(value, str):  # SQLite may hand an aggregate back as text
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value
