"""What a contact is called wherever an agent reads it: the one rule for display names.

Contacts keep what the channel gave (a widget visitor's name is its thread key, `v:…`,
until they say who they are); agents read a name, an address, or "Visitor 42" — never
an internal key. The word "Visitor" is the page's language ("Visitante 42"); the API keeps
the English form in `display_name` and the number alone in `visitor_number`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Channel-made names that are keys, not names: a widget visitor or identified widget user.
_INTERNAL = re.compile(r"^[vu]:\S*$")


def real_name(name: str | None) -> str:
    """The name a contact gave, or "" when there is none (blank, or a channel's key)."""
    cleaned = (name or "").strip()
    return "" if _INTERNAL.match(cleaned) else cleaned


def visitor_number(name: str | None, email: str | None, contact_id: int) -> int | None:
    """The number a contact without a name or an address goes by (the contact's id, short
    and stable: the same visitor keeps it); None for a contact with either."""
    cleaned = (name or "").strip()
    if (cleaned and not _INTERNAL.match(cleaned)) or email:
        return None
    return contact_id


def display_name(name: str | None, email: str | None, contact_id: int, *, visitor: str = "Visitor") -> str:
    """The contact's name, else their email address, else `visitor` and the contact's number."""
    number = visitor_number(name, email, contact_id)
    if number is not None:
        return f"{visitor} {number}"
    cleaned = (name or "").strip()
    return cleaned if cleaned and not _INTERNAL.match(cleaned) else str(email)


def display_name_of(contact: Mapping[str, Any] | Any, visitor: str = "Visitor") -> str:
    """`display_name` of a contact in any shape a page holds: a stored row or object
    ({"id" or "contact_id", "name", "email"}), or an API shape that already carries
    `visitor_number` (then only the word is the page's own)."""

    def get(key: str) -> Any:
        return contact.get(key) if isinstance(contact, Mapping) else getattr(contact, key, None)

    if isinstance(contact, Mapping) and "visitor_number" in contact:
        number = contact["visitor_number"]
        if number is not None:
            return f"{visitor} {number}"
        return str(contact.get("display_name") or contact.get("name") or "")
    contact_id = get("contact_id") or get("id") or 0
    return display_name(get("name"), get("email"), int(contact_id), visitor=visitor)


def is_visitor_key(address: str | None) -> bool:
    """Whether an identity's address is an anonymous widget visitor's key (`v:…`): meaningless
    to an agent, so pages say "anonymous visitor" instead."""
    return bool(address) and str(address).startswith("v:") and bool(_INTERNAL.match(str(address)))
