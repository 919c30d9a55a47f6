"""Untrusted input at the channel boundary: JSON read with bounds, text made storable.

Whatever a sender controls (a spool file, a signed webhook body, a widget frame) is
read here so that no input can crash or wedge an adapter: nesting is bounded (a deep
document is refused instead of raising RecursionError later, in json.dumps or in a
library), size is bounded, NaN and Infinity are refused (the databases' JSON columns
take neither), and lone surrogates — which JSON's "\\udc80" escapes can carry but no
encoder can write — are replaced with U+FFFD, the replacement character.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper than any real payload: a Telegram update or Slack event is under 10 levels.
MAX_DEPTH = 64

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Unreadable(ValueError):
    """The input cannot be read as what it claims to be; the message says why."""


class TooDeep(Unreadable):
    """Valid JSON, perhaps, but nested deeper than the reader allows."""


def repair_text(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the usual text unchanged)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def repaired(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """A parsed JSON value with every string (keys too) repaired; Unreadable if nested
    deeper than `max_depth`."""
    _check_depth(value, max_depth)
    return _repair(value)


def load_json(raw: bytes | str, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one JSON document from outside: bounded, repaired, or Unreadable saying why."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise Unreadable(f"{len(raw)} bytes is over the limit of {max_bytes}")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise TooDeep(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    except ValueError as exc:  # JSONDecodeError, NaN, integers over Python's digit limit
        raise Unreadable(f"not JSON: {exc}") from None
    return repaired(data, max_depth)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(value: Any, max_depth: int) -> None:
    # Iterative: the check itself must not recurse on what it is checking.
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise TooDeep(f"nested deeper than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def _repair(value: Any) -> Any:
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        return {repair_text(k) if isinstance(k, str) else k: _repair(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair(v) for v in value]
    return value
