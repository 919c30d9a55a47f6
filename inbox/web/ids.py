"""Row ids as the web layer accepts them, the same bound for the API and the UI: ids are
64-bit in both databases, so anything outside 1..2^63-1 cannot name a row and is refused
before it reaches a query (where it would overflow the database's integer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field

MAX_ID = 2**63 - 1

# A path id: the API answers one out of range with a JSON 422, the UI with its 404 page.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
# The same bound for ids inside JSON bodies and forms.
BodyId = Annotated[int, Field(ge=1, le=MAX_ID)]


def parse_id(raw: str) -> int | None:
    """A form's or query's id as typed ("12", " 12 "), or None when it is not one that can exist."""
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None
