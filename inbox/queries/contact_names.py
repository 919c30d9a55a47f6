"""What a contact is called wherever an agent reads it: the one rule for display names.

Contacts keep what the channel gave (a widget visitor's name is its thread key, `v:…`,
until they say who they are); agents read a name, an address, or "Visitor 42" — never
an internal key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Channel-made names that are keys, not names: a widget visitor or identified widget user.
_INTERNAL = re.compile(r"^[vu]:\S*$")


def display_name(name: str | None, email: str | None, contact_id: int, *, visitor: str = "Visitor") -> str:
    """The contact's name, else their email address, else `visitor` and the contact's
    number (short and stable: the same visitor keeps it)."""
    cleaned = (name or "").strip()
    if cleaned and not _INTERNAL.match(cleaned):
        return cleaned
    if email:
        return email
    return f"{visitor} {contact_id}"


def display_name_of(contact: Mapping[str, Any], visitor: str = "Visitor") -> str:
    """`display_name` of a contact in its API shape ({"id", "name", "email"})."""
    return display_name(contact.get("name"), contact.get("email"), int(contact.get("id") or 0), visitor=visitor)
