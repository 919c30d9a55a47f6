"""Channel capabilities are declared on the adapters, so the core never names a channel type."""

from __future__ import annotations

import pytest

import channels
from channels.base import (
    SupportsAttach,
    SupportsCheck,
    SupportsParse,
    SupportsRelay,
    SupportsWebhook,
)

ALL = sorted(channels.ADAPTERS)


@pytest.mark.parametrize("type_name", ALL)
def test_every_adapter_declares_its_icon_and_how_replies_are_delivered(type_name: str) -> None:
    cls = channels.adapter_class(type_name)
    assert len(cls.icon) == 1
    assert isinstance(cls.delivers_on_commit, bool)
    assert channels.icon_of(type_name) == cls.icon


def test_only_the_widget_delivers_by_commit_and_unknown_types_are_safe() -> None:
    assert [t for t in ALL if channels.delivers_on_commit(t)] == ["widget"]
    assert channels.delivers_on_commit("carrier-pigeon") is False
    assert channels.icon_of("carrier-pigeon") == "•"


def test_optional_capabilities_are_protocols_the_core_checks_with_isinstance() -> None:
    by_type = {t: channels.adapter_class(t) for t in ALL}
    takes_webhooks = sorted(t for t, c in by_type.items() if issubclass(c, SupportsWebhook))
    assert takes_webhooks == sorted(t for t, c in by_type.items() if hasattr(c, "handle_webhook"))
    assert {"slack", "telegram"} <= set(takes_webhooks)
    assert all(issubclass(c, SupportsAttach) == hasattr(c, "attach") for c in by_type.values())
    assert all(issubclass(c, SupportsCheck) == hasattr(c, "check") for c in by_type.values())
    assert issubclass(by_type["email"], SupportsParse) and issubclass(by_type["spool"], SupportsParse)
    assert [t for t, c in by_type.items() if issubclass(c, SupportsRelay)] == ["widget"]


def test_each_adapter_says_what_to_do_with_a_send_in_doubt_and_only_telegram_holds() -> None:
    by_type = {t: channels.adapter_class(t).in_doubt for t in ALL}
    assert set(by_type.values()) <= {"resend", "look", "hold"}
    assert by_type["telegram"] == "hold" and by_type["slack"] == "look" and by_type["email"] == "resend"
    assert [t for t, v in by_type.items() if v == "hold"] == ["telegram"]
