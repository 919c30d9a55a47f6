"""Which inbound message is a redelivery, and which another message reusing its id.

Every adapter promises that an external id is stable across redeliveries, and the store
keeps each (channel, external_id) once. An email's id is its Message-ID, though, which
the sender chooses, and some senders reuse one for different mails. So a message whose
id is taken counts as another message only when both its original bytes and what it
says differ from the stored one's; it is then stored under a derived id
`<id>#<12 hex of its content hash>`, which its own redeliveries find again. Transport
headers (another Received hop) change the bytes but not the content: still a duplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from channels.base import InboundMessage
from inbox.pipeline.inbound_text import MAX_EXTERNAL_ID

DERIVED_HASH_CHARS = 12


class Fingerprinted(Protocol):
    @property
    def raw_sha256(self) -> str | None: ...

    @property
    def content_sha256(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Known:
    """A message stored before, as dedup compares it."""

    message_id: int
    conversation_id: int
    raw_sha256: str | None
    content_sha256: str | None


def content_sha256(message: InboundMessage) -> str:
    """What the message says: sender, subject, text, HTML, date and files."""
    digest = hashlib.sha256()
    sent_at = message.sent_at.isoformat() if message.sent_at else ""
    for part in (
        message.sender.address,
        message.subject or "",
        message.text,
        message.html or "",
        sent_at,
    ):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    for a in message.attachments:
        digest.update(a.filename.encode("utf-8", "surrogatepass") + b"\x00" + hashlib.sha256(a.data).digest())
    return digest.hexdigest()


def derived_external_id(external_id: str, content_hash: str) -> str:
    """The id a message is stored under when another message already holds its own."""
    suffix = "#" + content_hash[:DERIVED_HASH_CHARS]
    if len(external_id) + len(suffix) > MAX_EXTERNAL_ID:
        external_id = "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()
    return external_id + suffix


def differs(held: Fingerprinted, arriving: Fingerprinted) -> bool:
    """Another message under the same id: both the original bytes and the content differ.
    Where either is unknown (rows from before, channels without raw bytes) the id alone
    decides, as the channel contract promises."""
    raw = held.raw_sha256 is not None and arriving.raw_sha256 is not None and held.raw_sha256 != arriving.raw_sha256
    content = held.content_sha256 is not None and arriving.content_sha256 is not None and held.content_sha256 != arriving.content_sha256
    return raw and content
