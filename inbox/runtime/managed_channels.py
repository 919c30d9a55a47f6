"""Channels added by admins (inbox.actions.channels) as a running node sees them: the
enabled ones to run, and the connection test of any channel.

A stored row whose settings no longer validate (an upgrade, another secret_key) is
reported on the row and skipped, never run half-configured.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

import channels
from channels.base import ChannelConfig, ChannelContext, CheckResult, SupportsCheck
from inbox.actions import channels as channel_actions
from inbox.actions.runner import Actor
from inbox.errors import Invalid, NotFound
from inbox.queries.channels import config_of, validate
from inbox.runtime.services import Services
from inbox.store.db import Database
from inbox.store.models import Channel
from inbox.store.secrets import SecretBox, SecretError

log = logging.getLogger(__name__)


async def load(db: Database, box: SecretBox) -> list[ChannelConfig]:
    """The enabled UI-managed channels, with their secrets opened."""
    async with db.read() as session:
        rows = (await session.scalars(select(Channel).where(Channel.provisioned.is_(False)).order_by(Channel.id))).all()
    configs: list[ChannelConfig] = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            configs.append(validate(row.type, row.name, box.open_settings(row.settings or {})))
        except (Invalid, SecretError) as exc:
            log.error("channel %s: stored settings are not usable: %s", row.name, exc)
            async with db.transaction() as session:
                found = await session.get(Channel, row.id)
                if found is not None:
                    found.status, found.last_error = "error", str(exc)
    return configs


async def check(config: ChannelConfig, context: ChannelContext) -> list[CheckResult]:
    """`frontdesk channels test` and the admin's Test button: log in, report each step."""
    adapter = channels.build(config, context)
    if not isinstance(adapter, SupportsCheck):
        return [CheckResult("checks", True, "this channel type has nothing to check")]
    try:
        results: list[CheckResult] = await adapter.check()
    except Exception as exc:  # a check that crashes is a failed check, not a 500
        return [CheckResult("checks", False, f"{type(exc).__name__}: {exc}")]
    return results


async def test(svc: Services, actor: Actor, channel_id: int) -> tuple[str, list[CheckResult]]:
    """Test a channel (of the config file or added by an admin) with the settings it runs
    with; nothing is sent. Audited as `channel.test`. Conflict when its settings are not
    usable (nothing was tested then)."""
    async with svc.db.read() as session:
        row = await session.get(Channel, channel_id)
    if row is None:
        raise NotFound.of("channel")
    results = await check(config_of(row, svc.config.channel, svc.secrets), svc.channels.context)
    await channel_actions.record_test(svc.ctx, actor, row.id, all(r.ok for r in results))
    return row.name, results
