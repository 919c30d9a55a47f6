"""What the rules see of an inbound message: plain, frozen facts gathered by the inbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field


def domain_of(address: str | None) -> str | None:
    """The domain of an email address, lower-cased; None when it is not one."""
    if not address or "@" not in address:
        return None
    domain = address.rpartition("@")[2].strip().rstrip(".").casefold()
    return domain or None


@dataclass(frozen=True, slots=True)
class MessageSnapshot:
    """One inbound message with the context rules may test.

    `sender_address` is the identity on the channel (an email address, a Telegram user
    id, ...); `sender_email` is an email address when the channel knows one.
    `sender_domain` defaults to the domain of whichever of the two is an email address.
    """

    channel: str
    channel_type: str
    sender_address: str
    text: str = ""
    subject: str | None = None
    sender_email: str | None = None
    sender_domain: str | None = None
    contact_tags: frozenset[str] = frozenset()
    language: str | None = None
    in_business_hours: bool = True
    conversation_is_new: bool = True
    automated: bool = False
    received_at: dt.datetime | None = None
    conversation_id: int | None = None
    message_id: int | None = None
    # A request opened with a request type (the portal's or the widget's form): its name
    # and the answers, {field name: text}.
    request_type: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sender_domain is None:
            domain = domain_of(self.sender_email) or domain_of(self.sender_address)
            object.__setattr__(self, "sender_domain", domain)
        else:
            object.__setattr__(self, "sender_domain", self.sender_domain.strip().lstrip("@").casefold())
        if not isinstance(self.contact_tags, frozenset):
            object.__setattr__(self, "contact_tags", frozenset(self.contact_tags))
