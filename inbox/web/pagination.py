"""Opaque cursors for keyset pagination: {"items": [...], "next_cursor": "..."}.

Every cursor we make holds the sort keys of a page's last row: zero or more UTC
timestamps (ISO 8601) and then the row's id. `decode` accepts exactly that shape and
answers anything else — a cursor we did not make — with 400, never a 500 from deeper down.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from inbox.web.errors import ApiError
from inbox.web.ids import MAX_ID

MAX_CURSOR_CHARS = 512  # ours are under 100


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS or not cursor.isascii():
        raise _invalid()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.b64decode(padded.encode(), altchars=b"-_", validate=True))
    except (
        ValueError,
        binascii.Error,
        RecursionError,
    ):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _invalid() from None
    if not isinstance(values, list) or len(values) != arity:
        raise _invalid()
    *stamps, last = values
    if not _is_id(last) or not all(_is_utc_timestamp(v) for v in stamps):
        raise _invalid()
    return values


def page(items: list[Any], limit: int, next_values: list[Any] | None) -> dict[str, Any]:
    return {
        "items": items,
        "next_cursor": encode(next_values) if next_values is not None and len(items) == limit else None,
    }


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID


def _is_utc_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.utcoffset() == dt.timedelta(0)


def _invalid() -> ApiError:
    return ApiError(400, "invalid cursor: use the next_cursor of a previous page")
