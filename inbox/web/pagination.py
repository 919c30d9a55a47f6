"""Opaque cursors for keyset pagination: {"items": [...], "next_cursor": "..."}."""

from __future__ import annotations

import base64
import json
from typing import Any

from inbox.web.errors import ApiError


def encode(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode(cursor: str | None, arity: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid cursor") from None
    if not isinstance(values, list) or len(values) != arity:
        raise ApiError(400, "invalid cursor")
    if any(isinstance(v, bool) or (isinstance(v, int) and not 0 <= v < 2**63) or not isinstance(v, int | str) for v in values):
        raise ApiError(400, "invalid cursor")
    return values


def page(items: list[Any], limit: int, next_values: list[Any] | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": encode(next_values) if next_values is not None and len(items) == limit else None}
