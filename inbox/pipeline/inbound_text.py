"""Every text an adapter hands in, made storable: valid Unicode, no NUL, within its column.

Adapters decode what the outside world sends, and the outside world sends broken text:
the `email` package keeps undecodable header bytes as surrogate escapes, JSON (Slack,
Telegram, the widget, spool files) may carry a lone `\\ud83d` from an emoji cut in half.
Neither database can store a lone surrogate, so one such character would fail the whole
batch. `normalise` repairs them (and strips NUL, and cuts or hashes what is too long) for
every text field and every string in `meta`, without changing what a clean message means.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import re
from typing import Any

from channels.base import InboundMessage

MAX_EXTERNAL_ID = 512
MAX_ADDRESS = 320
MAX_TEXT = 1_000_000

_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")  # what errors="surrogateescape" made of bytes 0x80..0xFF
_LONE = re.compile("[\ud800-\udfff]")


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 were most likely written in Windows-1252 (a superset of Latin-1)."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("cp1252", "replace"), error.end


codecs.register_error("frontdesk-cp1252", _cp1252_fallback)


def repair_text(value: str) -> str:
    """`value` as valid Unicode without NUL: surrogate pairs joined, escaped bytes decoded
    as UTF-8 (else Windows-1252), any other lone surrogate replaced by U+FFFD."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _PAIR.sub(lambda m: m.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), value)
            value = _ESCAPED_BYTES.sub(
                lambda m: m.group().encode("utf-8", "surrogateescape").decode("utf-8", "frontdesk-cp1252"),
                value,
            )
            value = _LONE.sub("\ufffd", value)
    return value.replace("\x00", "") if "\x00" in value else value


def _clean(value: str | None, limit: int | None = None) -> str | None:
    """Valid Unicode, no NUL (PostgreSQL text cannot hold it), no more than the column takes."""
    if value is None:
        return None
    value = repair_text(value)
    return value[:limit] if limit is not None else value


def _clean_key(value: str | None, limit: int = 255) -> str | None:
    """A lookup key too long for its column is hashed, never cut (cut keys could collide)."""
    value = _clean(value)
    if value is None or len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def clean_json(value: Any) -> Any:
    """Every string of a JSON value (keys too) repaired."""
    if isinstance(value, str):
        return repair_text(value)
    if isinstance(value, dict):
        return {repair_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def normalise(message: InboundMessage) -> InboundMessage:
    """Make any adapter's message storable on both databases without changing its meaning."""
    if _storable_as_is(message):
        return message
    sender = message.sender
    return dataclasses.replace(
        message,
        external_id=_clean(message.external_id) or "",
        sender=dataclasses.replace(
            sender,
            address=_clean(sender.address) or "",
            name=_clean(sender.name, 255),
            email=_clean(sender.email, 320),
            username=_clean(sender.username, 255),
            language=_clean(sender.language, 16),
        ),
        text=_clean(message.text) or "",
        html=_clean(message.html),
        subject=_clean(message.subject, 998),
        thread_key=_clean_key(message.thread_key),
        references=tuple(r for r in (_clean(r) for r in message.references) if r),
        target_external_id=_clean(message.target_external_id),
        attachments=tuple(
            dataclasses.replace(
                a,
                filename=_clean(a.filename, 255) or "attachment",
                content_type=_clean(a.content_type, 255) or "application/octet-stream",
                content_id=_clean(a.content_id, 255),
            )
            for a in message.attachments
        ),
        meta=clean_json(message.meta),
    )


def _storable_as_is(message: InboundMessage) -> bool:
    """A cheap, conservative test for the usual message that `normalise` would not change:
    valid Unicode without NUL everywhere, nothing over its column's limit, no attachments.
    Rebuilding every message field by field was a fifth of the ingest's time."""
    sender = message.sender
    texts = [message.external_id, message.text, sender.address, *message.references]
    for value, limit in (
        (message.html, None),
        (message.subject, 998),
        (message.thread_key, 255),
        (message.target_external_id, None),
        (sender.name, 255),
        (sender.email, 320),
        (sender.username, 255),
        (sender.language, 16),
    ):
        if value is not None:
            if limit is not None and len(value) > limit:
                return False
            texts.append(value)
    if message.attachments or not all(message.references):
        return False
    joined = "".join(texts)
    if repair_text(joined) != joined:
        return False
    return not message.meta or clean_json(message.meta) == message.meta


def problem_with(message: InboundMessage) -> str | None:
    """Why a message cannot be stored as it is, or None."""
    if not message.external_id or len(message.external_id) > MAX_EXTERNAL_ID:
        return f"external_id must be 1..{MAX_EXTERNAL_ID} characters"
    if not message.sender.address or len(message.sender.address) > MAX_ADDRESS:
        return f"sender address must be 1..{MAX_ADDRESS} characters"
    if len(message.text) > MAX_TEXT:
        return f"text longer than {MAX_TEXT} characters"
    if message.kind != "message" and not message.target_external_id:
        return f"a {message.kind} needs target_external_id"
    return None
