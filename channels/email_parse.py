"""Raw RFC 5322 bytes into an InboundMessage, with the stdlib `email` package (policy.default).

Decodes every charset and RFC 2047 word it can (and replaces what it cannot), keeps text
and HTML, turns other parts into attachments under a size cap, marks mail from robots
as automated, and finds what the message answers. Raises ValueError for input that is
not a usable email (no headers, no sender): the adapter quarantines it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_module
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import nh3

from channels.base import InboundAttachment, InboundMessage, Sender
from channels.email_quotes import shown_text

MAX_SHOWN_TEXT = 200_000
MAX_HTML = 2_000_000
MAX_DEPTH = 30
MAX_REFERENCES = 50
_MSGID = re.compile(r"<([^<>\s]{1,500})>")
_TICKET = re.compile(r"\[#(\d{1,9})\]")
_OUR_KEY = re.compile(r"^([0-9a-f]{32})@(.+)$")
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
_LIST_HEADERS = ("List-Id", "List-Unsubscribe", "List-Post", "List-Help", "List-Owner")
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Autoresponder")


@dataclass(frozen=True, slots=True)
class ParseOptions:
    own_domain: str  # the domain of our Message-IDs
    own_addresses: frozenset[str] = frozenset()  # our From addresses, lower-case
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass
class _Body:
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[InboundAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_email(raw: bytes, options: ParseOptions) -> InboundMessage:
    """Parse one message; ValueError when it cannot become a message."""
    if not raw.strip():
        raise ValueError("empty message")
    try:
        return _parse(raw, options)
    except ValueError:
        raise
    except Exception as exc:  # the email package raises many kinds on hostile input
        raise ValueError(f"cannot parse the message: {type(exc).__name__}: {exc}") from exc


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID (without <>) of raw bytes, or None: for dedup keys of unparseable mail."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    match = re.search(rb"(?im)^message-id:\s*<([^<>\s]{1,500})>", head)
    return match.group(1).decode("ascii", "replace") if match else None


def headers_only(head: bytes, note: str) -> bytes:
    """A message of `head`'s headers and `note` as its body (for mail too big to fetch)."""
    lines = re.split(rb"\r?\n", head.rstrip(b"\r\n"))
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith((b"content-type:", b"content-transfer-encoding:", b"content-disposition:"))
        if not skipping:
            kept.append(line)
    kept += [b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit", b"", note.encode()]
    return b"\r\n".join(kept) + b"\r\n"


def _parse(raw: bytes, options: ParseOptions) -> InboundMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if not msg.keys():
        raise ValueError("no headers: not an email message")
    name, address = _sender(msg)
    if not address:
        raise ValueError("no sender address in From")
    message_id = _first_id(_header(msg, "Message-ID"))
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = _header(msg, "Subject")
    body = _Body()
    _walk(msg, body, options, depth=0)
    html = "\n".join(body.htmls) if body.htmls else None
    if html is not None and len(html) > MAX_HTML:
        body.notes.append(f"HTML body of {len(html)} characters not kept")
        html = None
    full = "\n\n".join(t.strip("\n") for t in body.texts) if body.texts else (html_to_text(html) if html else "")
    text = shown_text(full) if full else ""
    if len(text) > MAX_SHOWN_TEXT:
        text = text[:MAX_SHOWN_TEXT] + "\n[…]"
    if body.notes:
        text = (text + "\n\n" if text else "") + "\n".join(f"[{n}]" for n in body.notes)
    ticket = _TICKET.search(subject or "")
    reason = automated_reason(msg, address, message_id, options)
    meta: dict[str, Any] = {"message_id": message_id, "to": _addresses(msg, "To"), "cc": _addresses(msg, "Cc")}
    if reason:
        meta["automated_reason"] = reason
    reply_to = _addresses(msg, "Reply-To")
    if reply_to:
        meta["reply_to"] = reply_to[0]
    language = (_header(msg, "Content-Language") or "").split(",")[0].strip()[:16] or None
    return InboundMessage(
        external_id=external_id,
        sender=Sender(address=address, name=name, email=address if "@" in address else None, language=language),
        text=text,
        html=html,
        subject=subject,
        references=_references(msg, options.own_domain),
        ticket_number=int(ticket.group(1)) if ticket else None,
        attachments=tuple(body.attachments),
        sent_at=_date(msg),
        automated=reason is not None,
        meta=meta,
        raw=raw,
    )


# -- headers -----------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str | None:
    """A header decoded (RFC 2047, any charset), unfolded; None when absent."""
    try:
        value = msg.get(name)
        if value is None:
            return None
        text = str(value)
    except Exception:  # a header the policy cannot parse: decode its words by hand
        raws = [v for k, v in msg.raw_items() if k.lower() == name.lower()]
        if not raws:
            return None
        text = _decode_words(str(raws[0]))
    text = re.sub(r"\s+", " ", text.replace("\x00", "")).strip()
    return text or None


def _decode_words(value: str) -> str:
    out = []
    for chunk, charset in decode_header(value):
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(_decode_bytes(chunk, charset))
    return "".join(out)


def _sender(msg: Message) -> tuple[str | None, str | None]:
    candidates = []
    try:
        header = msg.get("From")
        candidates = [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
    except Exception:
        candidates = []
    if not candidates:
        value = _header(msg, "From") or _header(msg, "Sender")
        candidates = getaddresses([value]) if value else []
    for display, addr in candidates:
        addr = (addr or "").strip().strip("<>").lower()
        if addr and addr != "<>" and len(addr) <= 320:
            return (display or None), addr
    return None, None


def _addresses(msg: Message, name: str) -> list[str]:
    value = _header(msg, name)
    if not value:
        return []
    return [a.lower() for _, a in getaddresses([value]) if a][:50]


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _MSGID.search(value)
    if match:
        return match.group(1)
    token = value.strip()
    return token if token and " " not in token and len(token) <= 500 else None


def _references(msg: Message, own_domain: str) -> tuple[str, ...]:
    ids: list[str] = []
    for name in ("References", "In-Reply-To"):
        ids += _MSGID.findall(_header(msg, name) or "")
    out: list[str] = []
    for ref in ids:
        if ref not in out:
            out.append(ref)
        # Our own reply's Message-ID is <key@domain>; its stored id is "out:key" until
        # the outbox records the Message-ID, so a fast answer still finds its thread.
        ours = _OUR_KEY.match(ref)
        if ours and ours.group(2).lower() == own_domain.lower() and f"out:{ours.group(1)}" not in out:
            out.append(f"out:{ours.group(1)}")
    return tuple(out[-MAX_REFERENCES:])


def _date(msg: Message) -> dt.datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None


def automated_reason(msg: Message, sender: str, message_id: str | None, options: ParseOptions) -> str | None:
    """Why this mail comes from a robot (never to be answered automatically), or None."""
    auto = (_header(msg, "Auto-Submitted") or "no").lower()
    if not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = (_header(msg, "Precedence") or "").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in _AUTOREPLY_HEADERS:
        if msg.get(name) is not None:
            return f"{name} header"
    if (_header(msg, "Return-Path") or "").replace(" ", "") == "<>":
        return "empty Return-Path (a bounce)"
    for name in _LIST_HEADERS:
        if msg.get(name) is not None:
            return f"mailing list ({name})"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report"
    if sender.split("@", 1)[0] in _BOUNCE_SENDERS:
        return "mail from a mailer daemon"
    if message_id and message_id.lower().endswith("@" + options.own_domain.lower()):
        return "our own message"
    if sender in options.own_addresses:
        return "sent from our own address"
    return None


# -- body ---------------------------------------------------------------------------------


def _walk(part: Message, body: _Body, options: ParseOptions, depth: int) -> None:
    if depth > MAX_DEPTH:
        body.notes.append("parts nested too deeply were not read")
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822" or (part.is_multipart() and ctype.startswith("message/")):
        _attach_message(part, body, options)
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, body, options, depth + 1)
        return
    disposition = part.get_content_disposition()
    filename = _filename(part)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        content = _text_of(part)
        (body.texts if ctype == "text/plain" else body.htmls).append(content)
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = str(part.get_payload()).encode("utf-8", "replace")
    _attach(body, options, filename or _default_name(ctype, len(body.attachments) + 1), ctype, data, part, disposition)


def _attach(body: _Body, options: ParseOptions, filename: str, ctype: str, data: bytes, part: Message | None, disposition: str | None) -> None:
    if len(data) > options.max_attachment_bytes:
        body.notes.append(f"attachment {filename} ({len(data)} bytes) not stored: over the {options.max_attachment_bytes}-byte limit")
        return
    content_id = _first_id(_header(part, "Content-ID")) if part is not None else None
    inline = disposition == "inline" or (disposition is None and content_id is not None and ctype.startswith("image/"))
    body.attachments.append(InboundAttachment(filename=filename, content_type=ctype, data=data, inline=inline, content_id=content_id))


def _attach_message(part: Message, body: _Body, options: ParseOptions) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes(policy=policy.default.clone(linesep="\r\n"))
        except Exception:
            data = inner.as_string(policy=policy.compat32).encode("utf-8", "replace")
        subject = _header(inner, "Subject") or "forwarded message"
    else:
        data = str(payload).encode("utf-8", "replace")
        subject = "forwarded message"
    name = re.sub(r"[^\w .,()-]+", "_", subject)[:80].strip() or "message"
    _attach(body, options, f"{name}.eml", "message/rfc822", data, part, "attachment")


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    name = re.sub(r"[\x00-\x1f/\\]+", "_", str(name)).strip()
    return name[:255] or None


def _default_name(ctype: str, n: int) -> str:
    ext = mimetypes.guess_extension(ctype) or ".bin"
    return f"part-{n}{ext}"


def _text_of(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    return _decode_bytes(data, part.get_content_charset())


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, then UTF-8, then Windows-1252; never fail."""
    tried = []
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate or candidate in tried:
            continue
        tried.append(candidate)
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeError):
            continue
    return data.decode("latin-1")


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (for mail that has no text part)."""
    marked = _BLOCK_END.sub("\n", html)
    stripped = nh3.clean(marked, tags=set())
    text = html_module.unescape(stripped)
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()

