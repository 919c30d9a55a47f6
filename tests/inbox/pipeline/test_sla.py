"""SLA due times on tickets, pausing while pending, and due-soon / breached events, once each."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inbox.actions.runner import CLI, perform
from inbox.config import Config
from inbox.pipeline import tickets as domain
from inbox.runtime.services import Services
from inbox.runtime.sla_watch import SlaWatch
from inbox.store.models import Event, Ticket
from tests.fixtures.inbox import add_channel, inbound, make_config

SLA = {
    "sla": [{"priority": "P1", "first_response": "30m", "resolution": "4h", "due_soon": "10m"}],
}


async def test_incident_gets_due_times_and_events_fire_once(db_url: str) -> None:
    config: Config = make_config(db_url, **SLA)
    services = Services.build(config)
    try:
        channel = await add_channel(services)
        [r] = await services.ingestor.ingest(channel, [inbound("m1", subject="Outage")])
        ticket_id = await perform(
            services.db,
            services.bus,
            CLI,
            lambda tx: domain.open_ticket(tx.conn, r.conversation_id, "incident", services.policy, tx.feed, impact="high", urgency="high"),
        )
        async with services.db.read() as session:
            ticket = await session.get(Ticket, ticket_id)
        assert ticket.priority == "P1"
        created = ticket.created_at
        assert ticket.first_response_due - created < dt.timedelta(minutes=31)
        assert dt.timedelta(hours=3, minutes=59) < ticket.resolution_due - created < dt.timedelta(hours=4, minutes=1)
        watch = SlaWatch(services.db, services.bus, services.policy)
        assert await watch.run_once(now=created + dt.timedelta(minutes=5)) == 0
        assert await watch.run_once(now=created + dt.timedelta(minutes=25)) == 1  # first response due soon
        assert await watch.run_once(now=created + dt.timedelta(minutes=26)) == 0  # announced once
        assert await watch.run_once(now=created + dt.timedelta(minutes=45)) == 1  # breached
        async with services.db.read() as session:
            kinds = list(await session.scalars(select(Event.type).where(Event.type.startswith("sla.")).order_by(Event.seq)))
        assert kinds == ["sla.due_soon", "sla.breached"]
    finally:
        await services.db.dispose()


async def test_pending_pauses_the_resolution_clock(db_url: str) -> None:
    services = Services.build(make_config(db_url, **SLA))
    try:
        channel = await add_channel(services)
        [r] = await services.ingestor.ingest(channel, [inbound("m1")])
        ticket_id = await perform(
            services.db,
            services.bus,
            CLI,
            lambda tx: domain.open_ticket(tx.conn, r.conversation_id, "incident", services.policy, tx.feed, impact="high", urgency="high"),
        )
        async with services.db.read() as session:
            before = (await session.get(Ticket, ticket_id)).resolution_due
        start = dt.datetime.now(dt.UTC)
        await perform(
            services.db,
            services.bus,
            CLI,
            lambda tx: domain.change_status(tx.conn, ticket_id, "pending", services.policy, tx.feed, now=start),
        )
        async with services.db.read() as session:
            assert (await session.get(Ticket, ticket_id)).resolution_due is None  # the clock is stopped
        await perform(
            services.db,
            services.bus,
            CLI,
            lambda tx: domain.change_status(tx.conn, ticket_id, "open", services.policy, tx.feed, now=start + dt.timedelta(hours=2)),
        )
        async with services.db.read() as session:
            after = (await session.get(Ticket, ticket_id)).resolution_due
        assert dt.timedelta(hours=1, minutes=59) < after - before < dt.timedelta(hours=2, minutes=1)
    finally:
        await services.db.dispose()
