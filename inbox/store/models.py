"""The domain tables (SQLAlchemy 2). The database is the truth; everything else re-reads it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for seqs.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        # SQLite hands back the text SQLAlchemy stored, in UTC without its zone ("2026-12-02
        # 13:51:01.000000"): one parse with the zone appended, a tenth of the driver type's
        # parse and then `replace(tzinfo=...)` (a page of 300 conversations reads 3,000).
        parse = dt.datetime.fromisoformat

        def process(value: str | dt.datetime | None) -> dt.datetime | None:
            if not isinstance(value, str):  # None, or a driver's own datetime
                return self.process_result_value(value, dialect)
            try:
                parsed = parse(value + "+00:00")
            except ValueError:  # not SQLAlchemy's text: a zone of its own
                parsed = parse(value)
            # ("2026-12-02+00:00", a bare date, parses as midnight with no zone)
            return parsed if parsed.tzinfo is not None else parse(value).replace(tzinfo=dt.UTC)

        return process


class UTCText(TypeDecorator[str]):
    """A `UTCDateTime` read back as the text `isoformat()` gives it ("2026-12-02T13:51:01.250000+00:00",
    without the fraction when it is zero): for times a page only shows. On SQLite the stored
    text becomes that text without a datetime in between; a contact's page shows 1,500
    times, and parsing them and printing them again (printf underneath `isoformat`) was an
    eighth of its instructions. Use it with `type_coerce(column, UTCText())`."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # (a `UTCDateTime` always has one: its `process_result_value` makes times aware)
        as_datetime: Callable[[Any], dt.datetime | None] = UTCDateTime().result_processor(dialect, coltype)

        def process(value: str | dt.datetime | None) -> str | None:
            if value is None:
                return None
            if isinstance(value, str) and len(value) == 26 and value[10] == " " and value[19] == ".":
                # SQLAlchemy's own text on SQLite, "YYYY-MM-DD HH:MM:SS.ffffff", in UTC.
                fraction = value[19:]
                return f"{value[:10]}T{value[11:19]}{'' if fraction == '.000000' else fraction}+00:00"
            parsed = as_datetime(value)
            return parsed.isoformat() if parsed is not None else None

        return process


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


class Channel(Base):
    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    # Non-secret keys in clear; secrets of UI-added channels encrypted (see inbox.store.secrets).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="stopped")
    last_error: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    created_at: Mapped[dt.datetime] = _created()
    phone: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"), index=True)
    # An address the contact only claimed (a widget pre-chat form): shown, never used to merge.
    unverified_email: Mapped[str | None] = mapped_column(String(320))


class ContactIdentity(Base):
    """A contact's address on one channel."""

    __tablename__ = "contact_identity"
    __table_args__ = (UniqueConstraint("channel_id", "address"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    address: Mapped[str] = mapped_column(String(320))
    username: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = _created()


class Agent(Base):
    __tablename__ = "agent"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")  # admin | agent
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(16))
    availability: Mapped[str] = mapped_column(String(16), default="online")  # online|away|offline
    capacity: Mapped[int] = mapped_column(Integer, default=20)
    # Bumped on password change: every session signed with an older value is void.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_assigned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class Team(Base):
    __tablename__ = "team"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    assignment: Mapped[str] = mapped_column(String(16), default="round_robin")
    rr_pointer: Mapped[int | None] = mapped_column(BigInteger)  # the agent round robin served last
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class TeamMember(Base):
    __tablename__ = "team_member"

    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        Index("ix_conversation_thread", "channel_id", "thread_key", "status"),
        Index("ix_conversation_status_last", "status", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    thread_key: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(998))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|pending|snoozed|resolved
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    priority: Mapped[str | None] = mapped_column(String(2))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snoozed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_message_at: Mapped[dt.datetime] = _created()
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()
    # Merge (power tools): the conversation this one was merged into; what arrives for it lands there.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"))


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id"),
        Index("ix_message_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    external_id: Mapped[str] = mapped_column(String(512))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    author_type: Mapped[str] = mapped_column(String(8))  # contact | agent | system
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    subject: Mapped[str | None] = mapped_column(String(998))
    text: Mapped[str] = mapped_column(Text, default="")
    html: Mapped[str | None] = mapped_column(Text)  # sanitised
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    delivery: Mapped[str] = mapped_column(String(16), default="received")  # received|queued|scheduled|sent|failed|unknown|cancelled
    delivery_error: Mapped[str | None] = mapped_column(Text)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    original_text: Mapped[str | None] = mapped_column(Text)  # before the first edit
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw_sha256: Mapped[str | None] = mapped_column(String(64))
    # What the message says (sender, subject, text, files): tells a redelivery from
    # another message that reuses its external id (inbox.pipeline.ingest).
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()
    # Scheduled send (power tools): not delivered, nor shown to a widget visitor, before this.
    send_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Blob(Base):
    """Content-addressed bytes: attachments and raw originals, stored once."""

    __tablename__ = "blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(ForeignKey("blob.sha256"))
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(255))


class Ticket(Base):
    __tablename__ = "ticket"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # request | incident
    title: Mapped[str] = mapped_column(String(998), default="")
    status: Mapped[str] = mapped_column(String(8), default="new")
    priority: Mapped[str] = mapped_column(String(2), default="P3")
    impact: Mapped[str | None] = mapped_column(String(8))
    urgency: Mapped[str | None] = mapped_column(String(8))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id"), index=True)
    first_response_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Waiting on the customer stops the SLA clock: [[start, end or null], ...] in ISO-8601.
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSON, default=list)
    # SLA events already announced ("first_response:due_soon", ...), so each fires once.
    sla_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolution_due: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Problem(Base):
    __tablename__ = "problem"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(998))
    status: Mapped[str] = mapped_column(String(16), default="open")
    root_cause: Mapped[str | None] = mapped_column(Text)
    known_error: Mapped[bool] = mapped_column(Boolean, default=False)
    workaround: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class Article(Base):
    """A knowledge-base article in one language; its translations share `translation_key`.

    The search index (FTS5 on SQLite, a tsvector column on PostgreSQL) lives outside the
    mapping and is kept by inbox.store.kb_search.
    """

    __tablename__ = "article"
    __table_args__ = (
        UniqueConstraint("slug", "language"),
        UniqueConstraint("translation_key", "language"),
        Index("ix_article_status_language", "status", "language"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    slug: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="en")
    category: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown, as written
    html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published
    translation_key: Mapped[str | None] = mapped_column(String(255))
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id"), index=True)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class ArticleResolution(Base):
    """ "Solved by article": this article answered this conversation (for reporting)."""

    __tablename__ = "article_resolution"
    __table_args__ = (UniqueConstraint("conversation_id", "article_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"))
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    created_at: Mapped[dt.datetime] = _created()


class SLAPolicy(Base):
    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    priority: Mapped[str] = mapped_column(String(2), unique=True)
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Rule(Base):
    __tablename__ = "rule"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    conditions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    actions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()


class Event(Base):
    """The change feed. `seq` grows with commit order (writers serialise on it)."""

    __tablename__ = "event"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = _created()


class OutboxItem(Base):
    """One send of one message through its channel; claimed by one worker at a time."""

    __tablename__ = "outbox_item"
    # What the worker asks on every commit, "anything due on my channels?", reads only the
    # live rows (migration 0025): each status's own small index, by channel then time. Sent
    # rows pile up for ever; with an index over every status, SQLite walked the due rows of
    # the channels other nodes run, and PostgreSQL chose to scan the table instead.
    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "channel_id",
            "next_attempt_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_sending",
            "channel_id",
            "claimed_until",
            sqlite_where=text("status = 'sending'"),
            postgresql_where=text("status = 'sending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # A conversation's message, or (`mail_id`, a DirectMail) an e-mail outside any conversation.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"))
    mail_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    survey_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # a CsatSurvey: the rating question
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # pending|sending|sent|failed|unknown ("unknown": dispatched, outcome never recorded, on a
    # channel that cannot be asked; never sent again: see OutboxWorker)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = _created()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the current attempt's request was about to go out ("in flight"), committed before
    # it: a lease that expires with this set is a send in doubt, not a send never made.
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class LoginLink(Base):
    """A one-time login URL (the first admin's), stored hashed."""

    __tablename__ = "login_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = _created()


class QuarantineItem(Base):
    """Input that could not be parsed: kept raw with the error, never retried forever."""

    __tablename__ = "quarantine_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(512))
    error: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="held")  # held | retried | deleted
    created_at: Mapped[dt.datetime] = _created()


class Counter(Base):
    """Named counters (ticket and problem numbers) and small shared state."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class ChannelLease(Base):
    """Which node runs a channel's receiver. `token` grows with every takeover (fencing)."""

    __tablename__ = "channel_lease"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    token: Mapped[int] = mapped_column(BigInteger, default=1)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CannedResponse(Base):
    """A saved reply agents insert from the reply box."""

    __tablename__ = "canned_response"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()


class ConversationRead(Base):
    """When an agent last opened a conversation: newer activity shows as unread."""

    __tablename__ = "conversation_read"

    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AgentSession(Base):
    """A signed-in browser. The cookie carries only a random key, stored here as its
    SHA-256; ending the row (sign-out, password change, deactivation) refuses the cookie
    at once. `agent_version` is the agent's `session_version` when the session began."""

    __tablename__ = "agent_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    agent_version: Mapped[int] = mapped_column(Integer)
    csrf: Mapped[str] = mapped_column(String(64))
    by_link: Mapped[bool] = mapped_column(Boolean, default=False)  # began with a one-time link
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    client: Mapped[str] = mapped_column(String(64), default="")  # the client's address
    created_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# Power tools: saved views and mentions (issue 20).


class SavedView(Base):
    """A named set of inbox filters: the owner's own, or shared with every agent."""

    __tablename__ = "saved_view"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Notification(Base):
    """Something an agent should look at (kind "mention": named in a private note)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_agent_read", "agent_id", "read_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# Power tools (issue 20): macros, and the idempotency keys of bulk changes.


class Macro(Base):
    """A named list of actions applied to a conversation in one go. A personal macro is
    its owner's; a shared one anyone may apply (its owner or an admin edits it)."""

    __tablename__ = "macro"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_macro_owner_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class BulkRequest(Base):
    """A bulk change sent with an `Idempotency-Key`: the key (per caller), a digest of the
    body (the same key with another body is refused) and, once done, the result."""

    __tablename__ = "bulk_request"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_bulk_request_scope_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    scope: Mapped[str] = mapped_column(String(320))  # the caller: agent email, or "cli"
    key: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = _created()


class BulkItem(Base):
    """One conversation of a keyed bulk change, written in the same transaction as its
    change: a retry skips it, so a macro's reply goes out once."""

    __tablename__ = "bulk_item"

    request_id: Mapped[int] = mapped_column(ForeignKey("bulk_request.id", ondelete="CASCADE"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    error: Mapped[str | None] = mapped_column(String(255))


# -- outbound webhooks (issue 22) ------------------------------------------------------


class Webhook(Base):
    """An admin's subscription: the change feed's events of some types, POSTed to `url`.

    `cursor` is the last event seq delivered (or skipped as not subscribed): delivery
    follows the event table past it, one event at a time, so order holds and a restart
    resumes. The lease columns say which worker delivers it (`lease_token` grows with
    every takeover; every write of the holder is fenced on it)."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(Text)  # sealed by the SecretBox
    key: Mapped[str] = mapped_column(String(32), unique=True)  # prefix of its delivery ids
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed tries of the event at the cursor
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    lease_token: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_expires: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class WebhookDelivery(Base):
    """One attempt to deliver one event (or a test) to a webhook: the delivery log."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_log", "webhook_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(80))
    event_seq: Mapped[int | None] = mapped_column(BigInteger)  # None for a test
    event_type: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    response_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = _created()


# -- organizations, and the service desk's graph (issues 19 and 21) -------------------


class Organization(Base):
    """A customer company. A contact whose verified email is on one of its `domains`
    joins it; subscribers of a service may be whole organizations."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)  # lower-case, no "@"
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Service(Base):
    """A business service customers rely on ("Checkout", "E-mail"). Names are unique
    across services and configuration items: `affected` and `depends_on` name either."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    criticality: Mapped[str] = mapped_column(String(8), default="medium")  # high | medium | low
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)  # from the config file: read-only
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class ConfigItem(Base):
    """A configuration item: an application, server, database... that a service runs on."""

    __tablename__ = "config_item"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="other")
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id", ondelete="SET NULL"), index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class Dependency(Base):
    """One edge of the graph: `source` depends on `target`. A node is ("service", id) or
    ("config_item", id); the graph stays acyclic (the actions refuse a cycle)."""

    __tablename__ = "dependency"
    __table_args__ = (
        UniqueConstraint("source_type", "source_id", "target_type", "target_id", name="uq_dependency_edge"),
        Index("ix_dependency_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source_type: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[int] = mapped_column(BigInteger)
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int] = mapped_column(BigInteger)


class ServiceSubscriber(Base):
    """An organization or a contact that relies on a service (one of the two is set)."""

    __tablename__ = "service_subscriber"
    __table_args__ = (UniqueConstraint("service_id", "organization_id", "contact_id", name="uq_service_subscriber"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = _created()


class TicketAffected(Base):
    """A service or configuration item an incident names as affected."""

    __tablename__ = "ticket_affected"
    __table_args__ = (Index("ix_ticket_affected_node", "node_type", "node_id"),)

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class Broadcast(Base):
    """A proactive update on an incident, sent to every affected customer (or to the
    contacts of its child incidents). A public one is also an update on the status page."""

    __tablename__ = "broadcast"
    __table_args__ = (
        Index("ix_broadcast_ticket", "ticket_id", "id"),
        Index("uq_broadcast_key", "ticket_id", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(16))  # affected | children
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()
    # Service items (0013): set once every recipient is written; until then the broadcast resumes.
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class BroadcastRecipient(Base):
    """One customer of a broadcast: unique per broadcast, so each is written to once; the
    message it became (and so its outbox delivery) on the channel chosen for them."""

    __tablename__ = "broadcast_recipient"
    __table_args__ = (UniqueConstraint("broadcast_id", "contact_id", name="uq_broadcast_recipient"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))


# -- customer portal and request types (issue 22) ---------------------------------------


class PortalLink(Base):
    """A one-time portal sign-in link sent by e-mail: stored as its SHA-256, used once, expiring."""

    __tablename__ = "portal_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class DirectMail(Base):
    """An e-mail to an address outside any conversation (a portal sign-in link): its
    outbox item (`OutboxItem.mail_id`) delivers it through the named channel."""

    __tablename__ = "direct_mail"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(998))
    text: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(32))  # portal_sign_in
    created_at: Mapped[dt.datetime] = _created()


class RequestType(Base):
    """A request type of the service catalogue, made in the admin UI or the API
    (`provisioned`: from the config file's `[[request_types]]`, read-only there)."""

    __tablename__ = "request_type"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    team: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[str | None] = mapped_column(String(2))
    approver: Mapped[str | None] = mapped_column(String(320))  # an agent's e-mail
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class TicketRequest(Base):
    """What a customer answered when opening a ticket with a request type, and its approval."""

    __tablename__ = "ticket_request"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True)
    request_type: Mapped[str] = mapped_column(String(120), index=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    approver: Mapped[str | None] = mapped_column(String(320))
    approval: Mapped[str | None] = mapped_column(String(8))  # waiting | approved | rejected (None: none needed)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str | None] = mapped_column(Text)


# -- change management (issue 21) ------------------------------------------------------


class Change(Base):
    """A planned change to services or configuration items (ITIL change management)."""

    __tablename__ = "change"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[str] = mapped_column(String(998))
    type: Mapped[str] = mapped_column(String(16))  # standard | normal | emergency
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    risk: Mapped[str] = mapped_column(String(8), default="low")
    # [{code, points, params, text}] (routing.changes.RiskReason); plain strings before 0020
    risk_reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    planned_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    planned_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    backout_plan: Mapped[str] = mapped_column(Text, default="")
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id", ondelete="SET NULL"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    status_changed_at: Mapped[dt.datetime] = _created()
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


class ChangeItem(Base):
    """A service or configuration item a change touches."""

    __tablename__ = "change_item"
    __table_args__ = (Index("ix_change_item_node", "node_type", "node_id"),)

    change_id: Mapped[int] = mapped_column(ForeignKey("change.id", ondelete="CASCADE"), primary_key=True)
    node_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    node_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class ChangeApprover(Base):
    """Who must approve a change: an agent, or a team (any one member decides for it).
    The decision, once made, is kept on the row; each decision is also audited."""

    __tablename__ = "change_approver"
    __table_args__ = (UniqueConstraint("change_id", "agent_id", "team_id", name="uq_change_approver"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"))
    decision: Mapped[str | None] = mapped_column(String(8))  # approve | reject | None (pending)
    comment: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    decided_via: Mapped[str | None] = mapped_column(String(8))  # api | ui | email | slack
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ChangeApprovalLink(Base):
    """A signed approval link sent by e-mail: single use, so its nonce is stored and spent."""

    __tablename__ = "change_approval_link"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    approver_id: Mapped[int] = mapped_column(ForeignKey("change_approver.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ChangeFreeze(Base):
    """A window in which normal and standard changes may not be planned (emergency ones may)."""

    __tablename__ = "change_freeze"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    provisioned: Mapped[bool] = mapped_column(Boolean, default=False)  # from [[change_freezes]]: read-only
    created_at: Mapped[dt.datetime] = _created()


# -- the public status page and surge detection (issue 21) ----------------------------


class StatusSubscriber(Base):
    """An e-mail address subscribed to the status page's incident updates. It counts once
    `confirmed_at` is set (from the signed link of the confirmation e-mail); `token` is
    its unsubscribe secret (random, in every e-mail's unsubscribe link)."""

    __tablename__ = "status_subscriber"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-case
    language: Mapped[str] = mapped_column(String(2), default="en")
    token: Mapped[str] = mapped_column(String(64), unique=True)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class StatusNotice(Base):
    """One status e-mail to one address (a confirmation, or a public incident update):
    unique per subscriber and broadcast, so each update is e-mailed once. The message
    row it became (its conversation is the address's status thread) carries the outbox
    delivery."""

    __tablename__ = "status_notice"
    __table_args__ = (UniqueConstraint("subscriber_id", "broadcast_id", name="uq_status_notice"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("status_subscriber.id", ondelete="CASCADE"), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"))  # None: the confirmation
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _created()


class IncidentSuggestion(Base):
    """A surge of similar inbound messages, suggested as a major incident.

    `status`: open → accepted (then `ticket_id` is the major incident) or dismissed.
    `conversation_ids` are the conversations of the surge; `node_type`/`node_id`/`name`
    the service or configuration item most of them name (none when they name none)."""

    __tablename__ = "incident_suggestion"
    __table_args__ = (Index("ix_incident_suggestion_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    conversation_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    message_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    node_type: Mapped[str | None] = mapped_column(String(16))
    node_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(255))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _created()


# -- organizations' e-mail domains (the agent's desk) ------------------------------------


class OrganizationDomain(Base):
    """One e-mail domain of an organization, unique across organizations: the ingest finds a
    new contact's organization by the domain of its verified address in one look-up.
    `Organization.domains` lists the same domains, in the order they were given."""

    __tablename__ = "organization_domain"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)


# --- CSAT: satisfaction surveys ---------------------------------------------------------


class CsatSurvey(Base):
    """The one satisfaction survey of a conversation (unique per conversation), written in
    the transaction that resolved it, on a channel with `csat = true`; its outbox item
    (`OutboxItem.survey_id`) asks the customer on that channel. Rated once, before
    `expires_at`; the agent and team are the conversation's when it was resolved."""

    __tablename__ = "csat_survey"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), unique=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    rating: Mapped[int | None] = mapped_column(Integer)  # 1..5
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), index=True)
    rated_via: Mapped[str | None] = mapped_column(String(16))  # web | widget | telegram | slack


# Reports at scale (migration 0020): the dashboard's figures and its CSV export read the
# conversations of a date range over this one covering index, paged by (created_at, id);
# erasure finds a contact's messages by author.
Index(
    "ix_conversation_report",
    Conversation.created_at,
    Conversation.id,
    Conversation.team_id,
    Conversation.assignee_id,
    Conversation.channel_id,
    Conversation.first_response_at,
    Conversation.resolved_at,
    Conversation.merged_into_id,
)
Index("ix_message_contact", Message.contact_id)
