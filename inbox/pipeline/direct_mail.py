"""E-mail to someone outside any customer's conversation, through the outbox: `queue`.

Every such mail — a portal sign-in link, a status page confirmation or incident update,
mail to an agent, a change rule's notice — is queued here, in the caller's transaction
(so it is sent exactly when the change that causes it commits), as an outbox item that
the worker sends, retries and records like every other send. A mail takes one of two
shapes, by what it holds:

- `thread=None`: a *standalone* mail (a `DirectMail` row, `OutboxItem.mail_id`). It is in
  no conversation, so no agent ever sees it — for what must stay the recipient's alone,
  a one-time sign-in link. The outbox sends its subject as it is, with no footer.
- `thread="key"`: a *notice* in the address's notice thread (`thread_key`), one per
  address and thread, created resolved so it never waits in an agent's inbox; the
  message is written by `queue_reply` as every reply's. Agents see what was sent there
  (with `assignee_id`, only that agent: their own mail), and a recipient who answers
  lands in that thread.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, insert, select, update

from inbox.pipeline.ingest import Feed
from inbox.pipeline.replies import Reply, channels_t, conversations_t, outbox_t, queue_reply
from inbox.store.db import insert_ids
from inbox.store.models import Contact, ContactIdentity, DirectMail

contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
mails_t = cast(Table, DirectMail.__table__)


@dataclass(frozen=True, slots=True)
class Queued:
    """What `queue` wrote: the notice's message, or the standalone mail."""

    message_id: int | None = None
    mail_id: int | None = None


def email_channel(conn: Connection, name: str | None) -> int | None:
    """The id of the e-mail channel of that name (None when there is none, or it is not e-mail)."""
    if not name:
        return None
    return conn.scalar(select(channels_t.c.id).where(channels_t.c.name == name, channels_t.c.type == "email"))


def queue(
    conn: Connection,
    *,
    channel_id: int,
    to: str,
    subject: str,
    text: str,
    kind: str,
    feed: Feed,
    now: dt.datetime,
    html: str | None = None,
    language: str | None = None,
    name: str | None = None,
    thread: str | None = None,
    assignee_id: int | None = None,
    meta: dict[str, object] | None = None,
) -> Queued:
    """Queue one e-mail to `to` on the e-mail channel `channel_id`. `kind` says what it is
    (the standalone mail's purpose, the notice's `meta.kind`); `thread` makes it a notice
    in that thread, else it is standalone (see the module's docstring)."""
    if thread is None:
        # The outbox sends a standalone mail as text alone, to no one's thread.
        assert html is None and assignee_id is None and meta is None, "html, assignee_id and meta are a notice's (give a thread)"
        return Queued(mail_id=_standalone(conn, channel_id, to, subject, text, kind, now, language, name))
    notice = {**({"kind": kind} if kind else {}), **(meta or {})}
    conversation_id = _notice_thread(conn, channel_id, to, thread, subject, notice, feed, now, language, name, assignee_id)
    reply = Reply(text=text, html=html, author_type="system", subject=subject, meta={"notice": notice})
    return Queued(message_id=queue_reply(conn, conversation_id, reply, feed, now))


def _standalone(
    conn: Connection, channel_id: int, to: str, subject: str, text: str, kind: str, now: dt.datetime, language: str | None, name: str | None
) -> int:
    row = {"channel_id": channel_id, "address": to, "name": name, "language": language, "subject": subject, "text": text}
    [mail_id] = insert_ids(conn, mails_t, [{**row, "purpose": kind, "created_at": now}])
    conn.execute(
        insert(outbox_t).values(
            message_id=None,
            mail_id=mail_id,
            channel_id=channel_id,
            idempotency_key=f"mail-{uuid.uuid4().hex}",
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return mail_id


def _contact_for(conn: Connection, channel_id: int, address: str, now: dt.datetime, language: str | None, name: str | None) -> int:
    """The contact that has `address` on this channel, created (with its identity) when none."""
    found = conn.scalar(select(identities_t.c.contact_id).where(identities_t.c.channel_id == channel_id, identities_t.c.address == address))
    if found is not None:
        return int(found)
    [contact_id] = insert_ids(conn, contacts_t, [{"name": name, "email": address, "language": language, "tags": [], "created_at": now}])
    conn.execute(identities_t.insert().values(contact_id=contact_id, channel_id=channel_id, address=address, created_at=now))
    return contact_id


def _notice_thread(
    conn: Connection,
    channel_id: int,
    address: str,
    thread: str,
    subject: str,
    notice: dict[str, object],
    feed: Feed,
    now: dt.datetime,
    language: str | None,
    name: str | None,
    assignee_id: int | None,
) -> int:
    """The address's conversation of that thread (its subject now `subject`), created resolved when none."""
    contact_id = _contact_for(conn, channel_id, address, now, language, name)
    found = conn.scalar(
        select(conversations_t.c.id)
        .where(
            conversations_t.c.channel_id == channel_id, conversations_t.c.thread_key == thread, conversations_t.c.contact_id == contact_id
        )
        .order_by(conversations_t.c.id)
        .limit(1)
    )
    if found is not None:
        conn.execute(update(conversations_t).where(conversations_t.c.id == found).values(subject=subject))
        return int(found)
    row = {"channel_id": channel_id, "contact_id": contact_id, "thread_key": thread, "subject": subject, "status": "resolved"}
    [conversation_id] = insert_ids(
        conn,
        conversations_t,
        [
            {
                **row,
                "resolved_at": now,
                "assignee_id": assignee_id,
                "tags": [],
                "meta": {"notice": notice},
                "last_message_at": now,
                "created_at": now,
                "updated_at": now,
            }
        ],
    )
    feed.append(("conversation.created", {"conversation_id": conversation_id, "notice": True}, conversation_id))
    return conversation_id
