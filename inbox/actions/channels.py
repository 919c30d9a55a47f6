"""Channels added by admins through the UI or the API (not from the config file): create,
change settings or enable/disable, delete, and the audit entry of a connection test.

Settings are checked by the adapter's own config model and stored with their secrets
sealed (inbox.store.secrets). After commit a `channels.changed` signal goes on the bus;
every node's runtime then reloads what it runs (inbox.runtime.channels). Channels of the
config file are provisioned and read-only here.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.queries.channels import ChannelView, validate, view
from inbox.store.models import Channel, Conversation
from inbox.store.secrets import SecretError, merge_settings, secrets_only

CHANGED = {"kind": "channels.changed"}
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
NAME_PATTERN = "a lowercase slug: letters, digits, - and _, at most 63, starting with a letter or digit"
_RESERVED = ("name", "type", "enabled")


def _checked_name(name: str) -> str:
    if not SLUG.fullmatch(name):
        raise Invalid(f"name: {NAME_PATTERN}")
    return name


async def create_channel(
    ctx: Context, actor: Actor, name: str, type_name: str, settings: dict[str, Any], enabled: bool = True
) -> ChannelView:
    name = _checked_name(name.strip().lower())
    settings = {k: v for k, v in settings.items() if k not in _RESERVED}
    validate(type_name, name, settings)

    def work(tx: Tx) -> ChannelView:
        if tx.conn.scalar(select(Channel.id).where(Channel.name == name)) is not None:
            raise Conflict(f"name: a channel named {name!r} exists already")
        row = Channel(
            name=name,
            type=type_name,
            settings=ctx.secrets.seal_settings(settings),
            provisioned=False,
            enabled=enabled,
            status="stopped",
            created_at=tx.now,
        )
        tx.session.add(row)
        tx.session.flush()
        tx.audit("channel.create", f"channel:{row.id}", {"name": name, "type": type_name, "keys": sorted(settings)})
        return view(row)

    try:
        created = await perform(ctx.db, ctx.bus, actor, work)
    except IntegrityError:
        raise Conflict(f"name: a channel named {name!r} exists already") from None
    await ctx.bus.signal(CHANGED)
    return created


def _editable(tx: Tx, channel_id: int) -> Channel:
    row = tx.session.get(Channel, channel_id)
    if row is None:
        raise NotFound.of("channel")
    if row.provisioned:
        raise Conflict("this channel comes from the config file; change it there", code="read_only")
    return row


async def update_channel(
    ctx: Context,
    actor: Actor,
    channel_id: int,
    settings: dict[str, Any] | None = None,
    enabled: bool | None = None,
    *,
    replace: bool = False,
) -> ChannelView:
    """Change settings (a secret left out, empty or masked keeps its stored value) or
    enable/disable. The keys given change and the others stay, or with `replace` (the admin
    form, which sends every key) the settings become those given, secrets again excepted."""

    def work(tx: Tx) -> ChannelView:
        row = _editable(tx, channel_id)
        if settings is not None:
            given = {k: v for k, v in settings.items() if k not in _RESERVED}
            base = dict(row.settings or {})
            if replace:
                base = secrets_only(base)
            merged = merge_settings(base, given)  # a masked secret keeps the stored one
            try:
                validate(row.type, row.name, ctx.secrets.open_settings(merged))
            except SecretError as exc:
                raise Conflict(f"the stored secrets cannot be opened: {exc}") from None
            row.settings = ctx.secrets.seal_settings(merged)
        if enabled is not None:
            row.enabled = enabled
        tx.audit(
            "channel.update", f"channel:{row.id}", {"keys": sorted(settings or {}), **({"enabled": enabled} if enabled is not None else {})}
        )
        return view(row)

    changed = await perform(ctx.db, ctx.bus, actor, work)
    await ctx.bus.signal(CHANGED)
    return changed


async def delete_channel(ctx: Context, actor: Actor, channel_id: int) -> None:
    """Only a channel that never carried a conversation can be deleted; others are disabled."""

    def work(tx: Tx) -> None:
        row = _editable(tx, channel_id)
        if tx.conn.scalar(select(Conversation.id).where(Conversation.channel_id == row.id).limit(1)) is not None:
            raise Conflict("the channel has conversations; disable it instead (enabled = false)")
        tx.audit("channel.delete", f"channel:{row.id}", {"name": row.name})
        tx.session.delete(row)

    await perform(ctx.db, ctx.bus, actor, work)
    await ctx.bus.signal(CHANGED)


async def record_test(ctx: Context, actor: Actor, channel_id: int, ok: bool) -> None:
    """The audit entry of a connection test (the test itself changes nothing)."""
    await perform(ctx.db, ctx.bus, actor, lambda tx: tx.audit("channel.test", f"channel:{channel_id}", {"ok": ok}))
