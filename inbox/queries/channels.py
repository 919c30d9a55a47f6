"""Channels as the admin pages and the API show them (secrets masked), and what a stored
channel row runs with: its settings checked by the adapter's own config model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

import channels
from channels.base import ChannelConfig
from inbox.config import describe_errors
from inbox.errors import Conflict, Invalid
from inbox.store.models import Channel
from inbox.store.secrets import SecretBox, SecretError, masked

# Every type an admin may add: the adapters' registry, one entry each.
CHANNEL_TYPES: tuple[str, ...] = tuple(sorted(channels.ADAPTERS))


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


def list_channels(session: Session) -> list[ChannelView]:
    return [view(c) for c in session.scalars(select(Channel).order_by(Channel.name)).all()]


def validate(type_name: str, name: str, settings: dict[str, Any]) -> ChannelConfig:
    """The adapter's own config model decides; problems name the key, as `config check`
    does. Raises Invalid listing every problem."""
    try:
        model = channels.config_model(type_name)
    except channels.UnknownChannelType as exc:
        raise Invalid(f"type: {exc}") from None
    try:
        return model.model_validate({**settings, "name": name, "type": type_name})
    except ValidationError as exc:
        raise Invalid("; ".join(describe_errors(exc))) from None


def config_of(row: Channel, in_file: Callable[[str], ChannelConfig | None], box: SecretBox) -> ChannelConfig:
    """The settings a channel row runs with: the config file's for a provisioned channel,
    else its stored settings, secrets opened. Conflict when they are not usable."""
    if row.provisioned:
        found = in_file(row.name)
        if found is None:
            raise Conflict("this channel is no longer in the config file")
        return found
    try:
        return validate(row.type, row.name, box.open_settings(row.settings or {}))
    except SecretError as exc:
        raise Conflict(f"the stored settings are not usable: {exc}") from None
    except Invalid as exc:
        raise Conflict(f"the stored settings are not usable: {exc.message}") from None
