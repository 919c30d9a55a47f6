"""Channels added by admins through the UI or the API (not from the config file).

Their settings live in the `channel` row, secrets sealed (inbox.store.secrets). A change is
committed, audited and announced on the bus as a `channels.changed` signal; every node's
runtime then reloads what it runs (inbox.runtime.channels.ChannelRuntime.reload). Channels of the
config file are provisioned and read-only here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import channels
from channels.base import ChannelConfig, ChannelContext, CheckResult
from inbox.config import describe_errors
from inbox.events import Bus
from inbox.store import audit
from inbox.store.db import Database
from inbox.store.models import Channel
from inbox.store.secrets import SecretBox, SecretError, masked, merge_settings

log = logging.getLogger(__name__)

CHANGED = {"kind": "channels.changed"}


class ChannelSettingsError(ValueError):
    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.status = status
        self.problems = problems


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: int
    name: str
    type: str
    enabled: bool
    provisioned: bool
    status: str
    last_error: str | None
    settings: dict[str, Any]  # secrets masked

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "enabled": self.enabled,
            "provisioned": self.provisioned,
            "status": self.status,
            "last_error": self.last_error,
            "settings": self.settings,
        }


def view(row: Channel) -> ChannelView:
    return ChannelView(row.id, row.name, row.type, row.enabled, row.provisioned, row.status, row.last_error, masked(row.settings or {}))


def validate(type_name: str, name: str, settings: dict[str, Any]) -> ChannelConfig:
    """The adapter's own config model decides; errors name the key, as `config check` does."""
    try:
        model = channels.config_model(type_name)
    except channels.UnknownChannelType as exc:
        raise ChannelSettingsError(422, [f"type: {exc}"]) from None
    try:
        return model.model_validate({**settings, "name": name, "type": type_name})
    except ValidationError as exc:
        raise ChannelSettingsError(422, describe_errors(exc)) from None


def config_of(row: Channel, in_file: Callable[[str], ChannelConfig | None], box: SecretBox) -> ChannelConfig:
    """The settings a channel row runs with: the config file's for a provisioned channel,
    else its stored settings, secrets opened. ChannelSettingsError when unusable."""
    if row.provisioned:
        found = in_file(row.name)
        if found is None:
            raise ChannelSettingsError(409, ["this channel is no longer in the config file"])
        return found
    try:
        return validate(row.type, row.name, box.open_settings(row.settings or {}))
    except SecretError as exc:
        raise ChannelSettingsError(409, [str(exc)]) from None


async def create(db: Database, bus: Bus, box: SecretBox, actor: int | None, name: str, type_name: str, settings: dict[str, Any], enabled: bool = True) -> ChannelView:
    settings = {k: v for k, v in settings.items() if k not in ("name", "type", "enabled")}
    validate(type_name, name, settings)
    async with db.transaction() as session:
        if await session.scalar(select(Channel.id).where(Channel.name == name)) is not None:
            raise ChannelSettingsError(409, [f"name: a channel named {name!r} exists already"])
        row = Channel(name=name, type=type_name, settings=box.seal_settings(settings), provisioned=False, enabled=enabled, status="stopped")
        session.add(row)
        await session.flush()
        await audit.record(session, actor, "channel.create", f"channel:{row.id}", {"name": name, "type": type_name, "keys": sorted(settings)})
        result = view(row)
    await bus.signal(CHANGED)
    return result


async def update(
    db: Database, bus: Bus, box: SecretBox, actor: int | None, channel_id: int, settings: dict[str, Any] | None, enabled: bool | None
) -> ChannelView:
    """Change settings (a secret left out, empty or masked keeps its stored value) or
    enable/disable. Provisioned channels are edited in the config file, not here."""
    async with db.transaction() as session:
        row = await _editable(session, channel_id)
        if settings is not None:
            given = {k: v for k, v in settings.items() if k not in ("name", "type", "enabled")}
            merged = merge_settings(dict(row.settings or {}), given)  # a masked secret keeps the stored one
            try:
                validate(row.type, row.name, box.open_settings(merged))
            except SecretError as exc:
                raise ChannelSettingsError(409, [str(exc)]) from None
            row.settings = box.seal_settings(merged)
        if enabled is not None:
            row.enabled = enabled
        await audit.record(
            session,
            actor,
            "channel.update",
            f"channel:{row.id}",
            {"keys": sorted(settings or {}), **({"enabled": enabled} if enabled is not None else {})},
        )
        result = view(row)
    await bus.signal(CHANGED)
    return result


async def delete(db: Database, bus: Bus, actor: int | None, channel_id: int) -> None:
    """Only a channel that never carried a conversation can be deleted; others are disabled."""
    from inbox.store.models import Conversation

    async with db.transaction() as session:
        row = await _editable(session, channel_id)
        if await session.scalar(select(Conversation.id).where(Conversation.channel_id == row.id).limit(1)) is not None:
            raise ChannelSettingsError(409, ["the channel has conversations; disable it instead (enabled = false)"])
        await audit.record(session, actor, "channel.delete", f"channel:{row.id}", {"name": row.name})
        await session.delete(row)
    await bus.signal(CHANGED)


async def _editable(session: AsyncSession, channel_id: int) -> Channel:
    row = await session.get(Channel, channel_id)
    if row is None:
        raise ChannelSettingsError(404, ["no such channel"])
    if row.provisioned:
        raise ChannelSettingsError(409, ["this channel comes from the config file; change it there"])
    return row


async def load(db: Database, box: SecretBox) -> list[ChannelConfig]:
    """The enabled UI-managed channels, with their secrets opened. A row whose settings no
    longer validate (an upgrade, another secret_key) is reported on the row and skipped."""
    async with db.read() as session:
        rows = (await session.scalars(select(Channel).where(Channel.provisioned.is_(False)).order_by(Channel.id))).all()
    configs: list[ChannelConfig] = []
    for row in rows:
        if not row.enabled:
            continue
        try:
            configs.append(validate(row.type, row.name, box.open_settings(row.settings or {})))
        except (ChannelSettingsError, SecretError) as exc:
            log.error("channel %s: stored settings are not usable: %s", row.name, exc)
            async with db.transaction() as session:
                found = await session.get(Channel, row.id)
                if found is not None:
                    found.status, found.last_error = "error", str(exc)
    return configs


async def check(config: ChannelConfig, context: ChannelContext) -> list[CheckResult]:
    """`frontdesk channels test` and the admin's Test button: log in, report each step."""
    adapter = channels.build(config, context)
    run_checks = getattr(adapter, "check", None)
    if run_checks is None:
        return [CheckResult("checks", True, "this channel type has nothing to check")]
    try:
        results: list[CheckResult] = await run_checks()
    except Exception as exc:  # a check that crashes is a failed check, not a 500
        return [CheckResult("checks", False, f"{type(exc).__name__}: {exc}")]
    return results
