"""Channel adapters, one module each, registered by their config `type`."""

from __future__ import annotations

import importlib

from channels.base import Channel, ChannelConfig, ChannelContext

# type -> "module:Class". Adding a channel is adding a module and a line here.
ADAPTERS: dict[str, str] = {
    "spool": "channels.spool:SpoolChannel",
    "email": "channels.email:EmailChannel",
    "widget": "channels.widget:WidgetChannel",
    "slack": "channels.slack:SlackChannel",
    "telegram": "channels.telegram:TelegramChannel",
}


class UnknownChannelType(LookupError):
    pass


def adapter_class(type_name: str) -> type[Channel]:
    try:
        target = ADAPTERS[type_name]
    except KeyError:
        raise UnknownChannelType(f"unknown channel type {type_name!r}; expected one of {', '.join(sorted(ADAPTERS))}") from None
    module_name, _, class_name = target.partition(":")
    cls: type[Channel] = getattr(importlib.import_module(module_name), class_name)
    return cls


def icon_of(type_name: str) -> str:
    """The one-character icon of a channel type ("•" for a type no adapter has)."""
    try:
        return adapter_class(type_name).icon
    except UnknownChannelType:
        return "•"


def delivers_on_commit(type_name: str) -> bool:
    try:
        return adapter_class(type_name).delivers_on_commit
    except UnknownChannelType:
        return False


def config_model(type_name: str) -> type[ChannelConfig]:
    return adapter_class(type_name).config_model


def build(config: ChannelConfig, context: ChannelContext) -> Channel:
    cls = adapter_class(config.type)
    return cls(config, context)  # type: ignore[call-arg]
