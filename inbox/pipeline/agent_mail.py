"""E-mail (and Slack) to an agent (an approval request), through the outbox like any reply.

An e-mail to an agent is a notice (inbox/pipeline/direct_mail.py) on the first enabled email
channel, in one resolved thread (`thread_key` "frontdesk:agent-mail") that collects what was sent to them:
it never shows in the open inbox, only its agent sees it (it holds their signed approval
links; inbox/queries/conversations.visible_to), and the outbox retries it like any send.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Connection, Table, select

from inbox.pipeline import direct_mail
from inbox.pipeline.ingest import Feed
from inbox.pipeline.replies import Reply, queue_reply
from inbox.store.db import insert_ids
from inbox.store.models import Channel, Contact, ContactIdentity, Conversation

THREAD_KEY = "frontdesk:agent-mail"
channels_t = cast(Table, Channel.__table__)
contacts_t = cast(Table, Contact.__table__)
identities_t = cast(Table, ContactIdentity.__table__)
conversations_t = cast(Table, Conversation.__table__)


def email_channel(conn: Connection) -> int | None:
    return conn.scalar(
        select(channels_t.c.id).where(channels_t.c.type == "email", channels_t.c.enabled.is_(True)).order_by(channels_t.c.id).limit(1)
    )


def queue_agent_email(
    conn: Connection, agent_id: int, email: str, name: str, subject: str, text: str, feed: Feed, now: dt.datetime
) -> int | None:
    """Queue an e-mail to an agent's address; the message id, or None without an email channel.
    It is a notice (inbox/pipeline/direct_mail.py) whose thread is assigned to the agent, and only
    they see it (it holds signed links)."""
    channel_id = email_channel(conn)
    if channel_id is None:
        return None
    return direct_mail.queue(
        conn,
        channel_id=channel_id,
        to=email.lower(),
        subject=subject,
        text=text,
        kind="agent_mail",
        feed=feed,
        now=now,
        name=name,
        thread=THREAD_KEY,
        assignee_id=agent_id,
    ).message_id


def _own_conversation(conn: Connection, channel_id: int, contact_id: int, thread_key: str, subject: str, now: dt.datetime) -> int:
    found = conn.scalar(
        select(conversations_t.c.id)
        .where(
            conversations_t.c.channel_id == channel_id,
            conversations_t.c.contact_id == contact_id,
            conversations_t.c.thread_key == thread_key,
        )
        .order_by(conversations_t.c.id)
        .limit(1)
    )
    if found is not None:
        return int(found)
    row = {
        "channel_id": channel_id,
        "contact_id": contact_id,
        "thread_key": thread_key,
        "subject": subject,
        "status": "resolved",
        "tags": [],
        "meta": {},
    }
    [new_id] = insert_ids(
        conn, conversations_t, [{**row, "resolved_at": now, "last_message_at": now, "created_at": now, "updated_at": now}]
    )
    return new_id


def slack_identity(conn: Connection, email: str) -> tuple[int, int, str] | None:
    """An agent "on Slack": a contact with the agent's e-mail known on an enabled Slack
    channel (Slack gives a user's e-mail), as (channel id, contact id, Slack user id)."""
    row = conn.execute(
        select(identities_t.c.channel_id, identities_t.c.contact_id, identities_t.c.address)
        .join(contacts_t, contacts_t.c.id == identities_t.c.contact_id)
        .join(channels_t, channels_t.c.id == identities_t.c.channel_id)
        .where(contacts_t.c.email == email.lower(), channels_t.c.type == "slack", channels_t.c.enabled.is_(True))
        .order_by(identities_t.c.id)
        .limit(1)
    ).first()
    return (int(row[0]), int(row[1]), str(row[2])) if row else None


def queue_agent_slack(
    conn: Connection, email: str, subject: str, text: str, buttons: list[dict[str, str]], feed: Feed, now: dt.datetime
) -> int | None:
    """Queue a Slack direct message with buttons to an agent; None when they are not on Slack."""
    found = slack_identity(conn, email)
    if found is None:
        return None
    channel_id, contact_id, user_id = found
    conversation_id = _own_conversation(conn, channel_id, contact_id, f"dm:{user_id}", subject, now)
    return queue_reply(conn, conversation_id, Reply(text=text, author_type="system", meta={"buttons": buttons}), feed, now)


def slack_channel(conn: Connection) -> int | None:
    return conn.scalar(
        select(channels_t.c.id).where(channels_t.c.type == "slack", channels_t.c.enabled.is_(True)).order_by(channels_t.c.id).limit(1)
    )


def queue_slack_channel_post(conn: Connection, slack_channel_id: str, subject: str, text: str, feed: Feed, now: dt.datetime) -> int | None:
    """Queue a top-level post in a Slack channel (e.g. a team's #ops, by its id C…) on the first
    enabled Slack channel; None without one. The Slack channel is a contact of its own (its id
    as the identity's address) with one resolved conversation, `thread_key` "ID:" (that
    channel, no thread), so the outbox delivers it as any reply."""
    channel_id = slack_channel(conn)
    if channel_id is None:
        return None
    contact_id = conn.scalar(
        select(identities_t.c.contact_id).where(identities_t.c.channel_id == channel_id, identities_t.c.address == slack_channel_id)
    )
    if contact_id is None:
        [contact_id] = insert_ids(conn, contacts_t, [{"name": f"Slack {slack_channel_id}", "tags": [], "created_at": now}])
        conn.execute(identities_t.insert().values(contact_id=contact_id, channel_id=channel_id, address=slack_channel_id, created_at=now))
    conversation_id = _own_conversation(conn, channel_id, int(contact_id), f"{slack_channel_id}:", subject, now)
    return queue_reply(conn, conversation_id, Reply(text=text, author_type="system"), feed, now)
