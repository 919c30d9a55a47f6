"""Raw RFC 5322 bytes into an InboundMessage, with the stdlib `email` package.

The message is parsed once with policy compat32 (headers stay raw strings) and each
header is decoded here, once: RFC 2047 words and raw 8-bit bytes through
`email_charsets` (never lone surrogates), addresses split before any display name is
decoded (a name is never read as addresses). Header blocks with a junk first line or an
unindented continuation are recovered. Keeps text and HTML, turns other parts into
attachments under a size cap, reads bounce and receipt reports (`email_bounces`),
marks mail from robots as automated, and finds what the message answers. Raises
ValueError for input that is not a usable email (no headers, no sender): the adapter
quarantines it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import html as html_module
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import nh3

from channels import email_bounces
from channels.base import InboundAttachment, InboundMessage, Sender
from channels.email_charsets import codec_for, decode, decode_guessed, valid_text
from channels.email_quotes import shown_text

MAX_SHOWN_TEXT = 200_000
MAX_HTML = 2_000_000
MAX_DEPTH = 30
MAX_REFERENCES = 50
_MSGID = re.compile(r"<([^<>\s]{1,500})>")
_TICKET = re.compile(r"\[#(\d{1,9})\]")
_OUR_KEY = re.compile(r"^([0-9a-f]{32})@(.+)$")
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote|pre|table)\s*>")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t\r\n]+(=\?)")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r?\n")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_SPACE = re.compile(r"\s+")
_FIELD_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_ADDR_SPEC = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+")
_RECEIVED_FROM = re.compile(r"(?i)^\s*from\s+\[?([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
_ROBOT_NAMES = re.compile(r"(?i)mail delivery|delivery subsystem|postmaster|mailer[- ]daemon|mail administrator|mail system")
_BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-owner")
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Autoresponder")
_PARSER = BytesParser(policy=policy.compat32)
_SERIALISE = policy.compat32.clone(linesep="\r\n")


@dataclass(frozen=True, slots=True)
class ParseOptions:
    own_domain: str  # the domain of our Message-IDs
    own_addresses: frozenset[str] = frozenset()  # our From addresses, lower-case
    max_attachment_bytes: int = 10 * 1024 * 1024


@dataclass
class _Body:
    charset: str | None  # the message's declared charset, for undeclared header bytes
    texts: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[InboundAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: email_bounces.Report = field(default_factory=email_bounces.Report)


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
    kept += [
        b"Content-Type: text/plain; charset=utf-8",
        b"Content-Transfer-Encoding: 8bit",
        b"",
        note.encode(),
    ]
    return b"\r\n".join(kept) + b"\r\n"


def recovered_head(raw: bytes) -> bytes:
    """`raw` with a readable header block: junk lines before the first header (an mbox
    `From ` line, garbage) dropped, an unindented line between two headers (a broken
    fold) joined to the header above. Unchanged when the block is sound."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    lines = head.split(b"\n")
    fields = [bool(_FIELD_LINE.match(line)) or line[:1] in (b" ", b"\t") for line in lines]
    if all(fields):
        return raw
    if not any(fields):
        return raw  # no header at all: refused later as "no headers"
    first = fields.index(True)
    last = len(fields) - 1 - fields[::-1].index(True)
    fixed = [line if ok or i > last else b" " + line for i, (line, ok) in enumerate(zip(lines, fields, strict=True)) if i >= first]
    return b"\n".join(fixed) + (raw[end.start() :] if end else b"")


def _parse(raw: bytes, options: ParseOptions) -> InboundMessage:
    msg = _PARSER.parsebytes(recovered_head(raw))
    headers = _Headers(msg, _declared_charset(msg))
    if not headers.values:
        raise ValueError("no headers: not an email message")
    name, address, null_sender = _sender(headers, msg.get_content_type() == "multipart/report")
    message_id = _first_id(headers.text("message-id"))
    external_id = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = headers.text("subject")
    body = _Body(headers.charset)
    _walk(msg, body, options, depth=0)
    html = "\n".join(body.htmls) if body.htmls else None
    if html is not None and len(html) > MAX_HTML:
        body.notes.append(f"HTML body of {len(html)} characters not kept")
        html = None
    full = "\n\n".join(t.strip("\n") for t in body.texts) if body.texts else (html_to_text(html) if html else "")
    references = _MSGID.findall(headers.text("references") or "")
    in_reply_to = _first_id(headers.text("in-reply-to"))
    bounce = _bounce_reason(headers, msg, body, subject, full, name, address, null_sender)
    meta: dict[str, Any] = {
        "message_id": message_id,
        "to": _addresses(headers, "to"),
        "cc": _addresses(headers, "cc"),
    }
    if bounce:
        facts = email_bounces.bounce_facts(
            body.report,
            full,
            f"<{in_reply_to}>" if in_reply_to else None,
            [f"<{r}>" for r in references],
        )
        if facts is not None:
            meta["bounce"] = facts
    # A bounce is shown whole: its quoted headers are the facts an agent needs.
    text = full.strip() if bounce else (shown_text(full) if full else "")
    if len(text) > MAX_SHOWN_TEXT:
        text = text[:MAX_SHOWN_TEXT] + "\n[…]"
    reports = []
    if body.report.delivery_blocks:
        reports.append(email_bounces.report_text(body.report.delivery_blocks, "Delivery report"))
    if body.report.disposition_blocks:
        reports.append(email_bounces.report_text(body.report.disposition_blocks, "Read receipt"))
    text = "\n\n".join([t for t in (text, *reports) if t])
    if body.notes:
        text = (text + "\n\n" if text else "") + "\n".join(f"[{n}]" for n in body.notes)
    ticket = _TICKET.search(subject or "")
    reason = bounce or automated_reason(headers, msg, address, message_id, options)
    if reason:
        meta["automated_reason"] = reason
    reply_to = _addresses(headers, "reply-to")
    if reply_to:
        meta["reply_to"] = reply_to[0]
    language = (headers.text("content-language") or "").split(",")[0].strip()[:16] or None
    return InboundMessage(
        external_id=external_id,
        sender=Sender(address=address, name=name, email=address, language=language),
        text=valid_text(text),
        html=valid_text(html) if html is not None else None,
        subject=subject,
        references=_references(references, in_reply_to, options.own_domain),
        ticket_number=int(ticket.group(1)) if ticket else None,
        attachments=tuple(body.attachments),
        sent_at=_date(headers.text("date")),
        automated=reason is not None,
        meta=meta,
        raw=raw,
    )


# -- headers -----------------------------------------------------------------------------


class _Headers:
    """A part's headers read once: raw values by lower-case name, decoded on demand."""

    __slots__ = ("values", "charset", "_decoded")

    def __init__(self, part: Message, charset: str | None) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in part.raw_items():
            self.values.setdefault(name.lower(), []).append(value)
        self.charset = charset
        self._decoded: dict[str, str | None] = {}

    def raw(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def text(self, name: str) -> str | None:
        """The first `name` header decoded and unfolded; None when absent or empty."""
        if name not in self._decoded:
            values = self.values.get(name)
            self._decoded[name] = decode_header_text(values[0], self.charset) or None if values else None
        return self._decoded[name]


def decode_header_text(value: str, charset: str | None) -> str:
    """A raw header value as one line of valid text: 8-bit bytes decoded (UTF-8, then
    the declared charset, then a guess), RFC 2047 words decoded, controls removed."""
    value = _unbytes(value, charset)
    if "=?" in value:
        value = _decode_words(value)
    return _SPACE.sub(" ", _CONTROLS.sub(" ", value)).strip()


def _unbytes(value: str, charset: str | None) -> str:
    """compat32 keeps undecodable 8-bit header bytes as lone surrogates: decode them."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = codec_for(charset)
    if codec is not None:
        try:
            return valid_text(data.decode(codec))
        except (UnicodeDecodeError, LookupError):
            pass
    return decode_guessed(data)


def _decode_words(value: str) -> str:
    """RFC 2047: adjacent words joined (a multibyte character may span two), each run
    decoded through email_charsets; text between words kept as it is."""
    value = _BETWEEN_WORDS.sub(r"\1\2", _FOLD.sub("", value))
    out: list[str] = []
    position = 0
    pending: list[bytes] = []
    pending_charset = ""
    for match in _ENCODED_WORD.finditer(value):
        if match.start() != position or match.group(1).lower() != pending_charset:
            if pending:
                out.append(decode(b"".join(pending), pending_charset.split("*", 1)[0]))
                pending = []
            out.append(value[position : match.start()])
        pending_charset = match.group(1).lower()
        pending.append(_word_bytes(match.group(2), match.group(3)))
        position = match.end()
    if pending:
        out.append(decode(b"".join(pending), pending_charset.split("*", 1)[0]))
    out.append(value[position:])
    return "".join(out)


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
        try:
            return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def _declared_charset(msg: Message) -> str | None:
    """The charset the message declares for its text: of its first part that has one."""
    for part in msg.walk():
        charset = part.get_param("charset")
        if isinstance(charset, str):
            return charset
        if part.get_content_maintype() != "multipart":
            return None
    return None


def _address_candidates(headers: _Headers, name: str) -> list[tuple[str, str]]:
    out = []
    for value in headers.raw(name):
        # Split the raw value: encoded words are still encoded here, so a display name
        # never contributes addresses whatever it decodes to.
        out += getaddresses([_FOLD.sub(" ", value)])
    return out


def _clean_address(raw: str, charset: str | None) -> str | None:
    address = _unbytes(raw, charset).strip().strip("<>").strip().rstrip(".").lower()
    if not _ADDR_SPEC.fullmatch(address) or len(address) > 320:
        return None
    local, _, domain = address.rpartition("@")
    return address if local and "." not in (domain[:1], domain[-1:]) and ".." not in domain else None


def _display_name(raw: str, charset: str | None) -> str | None:
    name = decode_header_text(raw, charset).strip(" \"'")
    return name[:200] or None


def _sender(headers: _Headers, report: bool) -> tuple[str | None, str, bool]:
    """(name, address, null sender): the first usable address of every From, then
    Sender, Reply-To, Return-Path; an empty `<>`, or a report without any address,
    is the mailer itself (a bounce)."""
    null_sender = False
    from_name: str | None = None
    for header in ("from", "sender", "reply-to", "return-path"):
        for display, addr in _address_candidates(headers, header):
            address = _clean_address(addr, headers.charset)
            name = _display_name(display, headers.charset) if display else None
            if address:
                return (name or from_name), address, False
            if header == "from" and from_name is None:
                from_name = name
        if any(v.replace(" ", "").replace("\t", "").rstrip("\r\n").endswith("<>") for v in headers.raw(header)):
            null_sender = True
    if null_sender or report:
        return (
            from_name or "Mail Delivery System",
            f"mailer-daemon@{_sending_domain(headers)}",
            True,
        )
    raise ValueError("no sender address in From, Sender, Reply-To or Return-Path")


def _sending_domain(headers: _Headers) -> str:
    for value in headers.raw("return-path"):
        address = _clean_address(value, None)
        if address:
            return address.rpartition("@")[2]
    for value in headers.raw("received")[:1]:
        match = _RECEIVED_FROM.match(_unbytes(value, None))
        if match:
            return match.group(1).lower()
    message_id = _first_id(headers.text("message-id"))
    if message_id and "@" in message_id:
        domain = message_id.rpartition("@")[2].lower()
        if re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain):
            return domain
    return "unknown.invalid"


def _addresses(headers: _Headers, name: str) -> list[str]:
    found = []
    for _, addr in _address_candidates(headers, name):
        address = _clean_address(addr, headers.charset)
        if address:
            found.append(address)
    return found[:50]


def _first_id(value: str | None) -> str | None:
    if not value:
        return None
    match = _MSGID.search(value)
    if match:
        return match.group(1)
    token = value.strip()
    return token if token and " " not in token and len(token) <= 500 else None


def _references(references: list[str], in_reply_to: str | None, own_domain: str) -> tuple[str, ...]:
    out: list[str] = []
    for ref in [*references, *([in_reply_to] if in_reply_to else [])]:
        if ref not in out:
            out.append(ref)
        # Our own reply's Message-ID is <key@domain>; its stored id is "out:key" until
        # the outbox records the Message-ID, so a fast answer still finds its thread.
        ours = _OUR_KEY.match(ref)
        if ours and ours.group(2).lower() == own_domain.lower() and f"out:{ours.group(1)}" not in out:
            out.append(f"out:{ours.group(1)}")
    return tuple(out[-MAX_REFERENCES:])


def _date(value: str | None) -> dt.datetime | None:
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


def _bounce_reason(
    headers: _Headers,
    msg: Message,
    body: _Body,
    subject: str | None,
    text: str,
    name: str | None,
    address: str,
    null_sender: bool,
) -> str | None:
    """Why this is a non-delivery report, or None. A delivery-status part is enough; else
    two of: a bounce subject, a bounce sentence in the text, a mailer as sender, a report
    — one alone is what a customer might write ("Undeliverable parcel")."""
    if body.report.delivery_blocks:
        return "delivery status report"
    signals = [
        email_bounces.subject_reason(subject),
        email_bounces.body_reason(text),
        "mail from the mail system"
        if null_sender or address.split("@", 1)[0] in _BOUNCE_SENDERS or _ROBOT_NAMES.search(name or "")
        else None,
        "empty Return-Path" if any(v.strip() == "<>" for v in headers.raw("return-path")) else None,
        "multipart/report" if msg.get_content_type() == "multipart/report" and not body.report.disposition_blocks else None,
    ]
    found = [s for s in signals if s]
    return "bounce: " + "; ".join(found) if len(found) >= 2 else None


def automated_reason(headers: _Headers, msg: Message, sender: str, message_id: str | None, options: ParseOptions) -> str | None:
    """Why this mail comes from a robot (never to be answered automatically), or None."""
    auto = (headers.text("auto-submitted") or "no").lower()
    if not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = (headers.text("precedence") or "").lower()
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in _AUTOREPLY_HEADERS:
        if name.lower() in headers.values:
            return f"{name} header"
    if (headers.text("return-path") or "").replace(" ", "") == "<>":
        return "empty Return-Path (a bounce)"
    for name in _LIST_HEADERS:
        if name in headers.values:
            return f"mailing list ({name.title()})"
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
    if ctype in ("message/delivery-status", "message/disposition-notification"):
        blocks = _report_blocks(part, body.charset)
        (body.report.delivery_blocks if ctype == "message/delivery-status" else body.report.disposition_blocks).extend(blocks)
        return
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
    filename = _filename(part, body.charset)
    if ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        content = _text_of(part)
        (body.texts if ctype == "text/plain" else body.htmls).append(content)
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = valid_text(str(part.get_payload())).encode("utf-8", "replace")
    if ctype == "text/rfc822-headers":
        returned = _first_id(_Headers(_PARSER.parsebytes(data, headersonly=True), None).text("message-id"))
        if returned:
            body.report.returned_ids.append(f"<{returned}>")
    _attach(
        body,
        options,
        filename or _default_name(ctype, len(body.attachments) + 1),
        ctype,
        data,
        part,
        disposition,
    )


def _report_blocks(part: Message, charset: str | None) -> list[list[tuple[str, str]]]:
    """The "Field: value" blocks of a delivery-status or disposition report, decoded."""
    payload = part.get_payload()
    if isinstance(payload, list):
        sources = [sub for sub in payload if isinstance(sub, Message)]
    else:  # a report the parser left as text (e.g. base64-encoded): parse each block
        data = part.get_payload(decode=True)
        raw = data if isinstance(data, bytes) else str(payload).encode("utf-8", "surrogateescape")
        sources = [
            _PARSER.parsebytes(block.strip() + b"\n", headersonly=True) for block in re.split(rb"\r?\n[ \t]*\r?\n", raw) if block.strip()
        ]
    blocks = []
    for source in sources:
        block = [(valid_text(_unbytes(name, None)), decode_header_text(value, charset)) for name, value in source.raw_items()]
        if block:
            blocks.append(block)
    return blocks


def _attach(
    body: _Body,
    options: ParseOptions,
    filename: str,
    ctype: str,
    data: bytes,
    part: Message | None,
    disposition: str | None,
) -> None:
    if len(data) > options.max_attachment_bytes:
        body.notes.append(f"attachment {filename} ({len(data)} bytes) not stored: over the {options.max_attachment_bytes}-byte limit")
        return
    content_id = _first_id(_part_header(part, "content-id")) if part is not None else None
    inline = disposition == "inline" or (disposition is None and content_id is not None and ctype.startswith("image/"))
    body.attachments.append(
        InboundAttachment(
            filename=filename,
            content_type=valid_text(ctype),
            data=data,
            inline=inline,
            content_id=content_id,
        )
    )


def _part_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return decode_header_text(value, None) or None
    return None


def _attach_message(part: Message, body: _Body, options: ParseOptions) -> None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes(policy=_SERIALISE)
        except Exception:
            data = inner.as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")
        headers = _Headers(inner, body.charset)
        subject = headers.text("subject") or "forwarded message"
        returned = _first_id(headers.text("message-id"))
        if returned:
            body.report.returned_ids.append(f"<{returned}>")
    else:
        data = str(payload).encode("utf-8", "surrogateescape")
        subject = "forwarded message"
    name = re.sub(r"[^\w .,()-]+", "_", subject)[:80].strip() or "message"
    _attach(body, options, f"{name}.eml", "message/rfc822", data, part, "attachment")


def _filename(part: Message, charset: str | None) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name and "\ufffd" in name:
        # compat32 turned raw 8-bit bytes into U+FFFD: read the header's bytes ourselves.
        name = _filename_from_bytes(part, part.get_param("charset") or charset) or name
    if not name:
        return None
    name = str(name)
    if "=?" in name:  # RFC 2047 inside a parameter: not the standard, but what many send
        name = _decode_words(name)
    name = re.sub(r"[\x00-\x1f\x7f/\\]+", "_", valid_text(name)).strip()
    return name[:255] or None


def _filename_from_bytes(part: Message, charset: Any) -> str | None:
    for key, value in part.raw_items():
        if key.lower() in ("content-disposition", "content-type"):
            clean = Message()
            clean[key] = _unbytes(value, charset if isinstance(charset, str) else None)
            found = clean.get_filename()
            if found:
                return str(found)
    return None


def _default_name(ctype: str, n: int) -> str:
    ext = mimetypes.guess_extension(ctype) or (".txt" if ctype.startswith("text/") else ".bin")
    return f"part-{n}{ext}"


def _text_of(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return valid_text(payload) if isinstance(payload, str) else ""
    charset = part.get_param("charset")
    return decode(data, charset if isinstance(charset, str) else None)


def html_to_text(html: str) -> str:
    """Plain text of an HTML body (for mail that has no text part)."""
    marked = _BLOCK_END.sub("\n", html)
    stripped = nh3.clean(marked, tags=set())
    text = html_module.unescape(stripped)
    lines = [re.sub(r"[ \t\xa0]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
