"""Receiver leases: one holder per channel, takeover after expiry, fencing of the old holder."""

from __future__ import annotations

import datetime as dt
import functools

import pytest

from inbox.runtime.services import Services
from inbox.store import leases
from inbox.store.leases import LeaseLost
from inbox.store.models import utcnow
from tests.fixtures.inbox import add_channel, inbound


async def test_one_holder_until_the_lease_expires(services: Services) -> None:
    channel = await add_channel(services)
    now = utcnow()
    a = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="a", ttl=10, now=now))
    b = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="b", ttl=10, now=now))
    assert a is not None and a.token == 1 and b is None
    renewed = await services.db.run(
        functools.partial(leases.acquire, channel_id=channel.id, holder="a", ttl=10, now=now + dt.timedelta(seconds=5))
    )
    assert renewed == a
    later = now + dt.timedelta(seconds=30)
    taken = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="b", ttl=10, now=later))
    assert taken is not None and taken.holder == "b" and taken.token == 2


async def test_a_fenced_ingest_from_the_old_holder_is_refused(services: Services) -> None:
    channel = await add_channel(services)
    now = utcnow()
    old = await services.db.run(
        functools.partial(leases.acquire, channel_id=channel.id, holder="a", ttl=1, now=now - dt.timedelta(seconds=60))
    )
    new = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="b", ttl=30))
    assert old is not None and new is not None
    with pytest.raises(LeaseLost):
        await services.ingestor.ingest(channel, [inbound("late")], cursor="stale", fence=old)
    [ok] = await services.ingestor.ingest(channel, [inbound("fresh")], cursor="new", fence=new)
    assert ok.message_id and await services.ingestor.cursor(channel) == "new"


async def test_release_lets_another_node_take_over_at_once(services: Services) -> None:
    channel = await add_channel(services)
    a = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="a", ttl=60))
    assert a is not None
    await services.db.run(functools.partial(leases.release, fence=a))
    b = await services.db.run(functools.partial(leases.acquire, channel_id=channel.id, holder="b", ttl=60))
    assert b is not None and b.holder == "b"
