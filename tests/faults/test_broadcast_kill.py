"""SIGKILL in the middle of a broadcast to 500 customers: none missed, none doubled.

500 customers subscribed to a service (400 who wrote on a spool channel, 100 in the chat
widget); an incident on an item the service depends on broadcasts to them. The real daemon
is killed once the first recipients are written and before the last; the next start resumes
the broadcast, and every customer ends up with exactly one message, delivered once.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from inbox import config as config_module
from inbox.actions import services as actions
from inbox.actions import tickets as tickets
from inbox.actions.runner import CLI
from inbox.pipeline.ingest import ChannelRef
from inbox.runtime.services import Services
from inbox.store.models import BroadcastRecipient, Channel, Conversation, Message, ServiceSubscriber
from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.fixtures.inbox import inbound
from tests.inbox.runtime.test_daemon import spool_channel

SPOOL, WIDGET = 400, 100
TEXT = "Checkout is down; we are on it."


async def seed(node: Daemon) -> int:
    """The customers, the graph and the incident, written through the actions; the ticket id."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        await svc.channels.provision(svc.config.channels)  # as a start does
        async with svc.db.read() as session:
            refs = {c.name: ChannelRef(c.id, c.name, c.type) for c in await session.scalars(select(Channel))}
        spool = [inbound(f"s{i}", sender=f"user{i}@example.com", text="down?", thread_key=f"t{i}") for i in range(SPOOL)]
        widget = [inbound(f"w{i}", sender=f"visitor-{i}", text="is it down?", thread_key=f"v{i}") for i in range(WIDGET)]
        await svc.ingestor.ingest(refs["drop"], spool)
        await svc.ingestor.ingest(refs["website"], widget)
        await actions.create_item(svc.ctx, CLI, actions.NodeChanges(name="pg-main", kind="database"))
        service_id = await actions.create_service(svc.ctx, CLI, actions.NodeChanges(name="Checkout", depends_on=("pg-main",)))
        async with svc.db.read() as session:
            contacts = list(await session.scalars(select(Conversation.contact_id).order_by(Conversation.id)))
            first = await session.scalar(select(Conversation.id).order_by(Conversation.id))
        assert len(set(contacts)) == SPOOL + WIDGET and first is not None
        async with svc.db.transaction() as session:  # 500 subscribers at once (the action adds one)
            session.add_all([ServiceSubscriber(service_id=service_id, contact_id=c) for c in contacts])
        ticket_id = await tickets.open_ticket(svc.ctx, CLI, first, "incident", title="Checkout down")
        await tickets.update_ticket(svc.ctx, CLI, ticket_id, tickets.TicketChanges(affected=("pg-main",)))
        return ticket_id
    finally:
        await svc.db.dispose()


async def per_contact(node: Daemon) -> tuple[list[int], int, dict[str, int]]:
    """Recipient rows per contact, distinct broadcast messages, and their delivery states."""
    svc = Services.build(config_module.load(str(node.config_path), node._env()))
    try:
        async with svc.db.read() as session:
            rows = (
                await session.execute(select(func.count()).select_from(BroadcastRecipient).group_by(BroadcastRecipient.contact_id))
            ).all()
            messages = await session.scalar(select(func.count(func.distinct(BroadcastRecipient.message_id))))
            states = dict(
                (
                    await session.execute(
                        select(Message.delivery, func.count())
                        .join(BroadcastRecipient, BroadcastRecipient.message_id == Message.id)
                        .group_by(Message.delivery)
                    )
                ).all()
            )
        return [r[0] for r in rows], int(messages or 0), {str(k): int(v) for k, v in states.items()}
    finally:
        await svc.db.dispose()


def test_sigkill_mid_broadcast_misses_and_doubles_no_one(daemon: Daemon, tmp_path: Path) -> None:  # noqa: F811
    daemon.channels = [spool_channel(tmp_path), {"name": "website", "type": "widget", "allowed_origins": []}]
    token = daemon.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    ticket_id = asyncio.run(seed(daemon))
    daemon.start()

    def report() -> dict[str, Any]:
        items = httpx.get(f"{daemon.url}/api/v1/tickets/{ticket_id}/broadcasts", headers=headers, timeout=30).json()["items"]
        return dict(items[0]) if items else {}

    def send() -> None:
        try:
            httpx.post(f"{daemon.url}/api/v1/tickets/{ticket_id}/broadcast", json={"text": TEXT}, headers=headers, timeout=60)
        except httpx.HTTPError:
            pass  # killed under it

    sender = threading.Thread(target=send)
    sender.start()
    seen = wait_until(lambda: report().get("recipients") or None, interval=0.01, what="the first batch of recipients")
    daemon.kill()
    sender.join()
    assert 0 < seen < SPOOL + WIDGET, f"the kill landed after the broadcast ({seen} recipients)"

    daemon.start()  # resumes the broadcast
    done = wait_until(
        lambda: (r := report()).get("complete") and sum(c["sent"] for c in r["channels"]) == SPOOL + WIDGET and r,
        timeout=90,
        what="every recipient written and sent",
    )
    assert done["recipients"] == SPOOL + WIDGET and done["skipped"] == 0
    assert {c["channel"]: c["sent"] for c in done["channels"]} == {"drop": SPOOL, "website": WIDGET}
    counts, messages, states = asyncio.run(per_contact(daemon))
    assert len(counts) == SPOOL + WIDGET and set(counts) == {1}, "a customer missed or doubled"
    assert messages == SPOOL + WIDGET and states == {"sent": SPOOL + WIDGET}
    written = [json.loads(p.read_text()) for p in (tmp_path / "out").glob("*.json")]
    sent_to = [w["to"] for w in written if w["text"] == TEXT]
    assert len(sent_to) == SPOOL and len(set(sent_to)) == SPOOL
