"""An OutboundMessage as an email: text and HTML from templates/email, our Message-ID,
the thread's In-Reply-To/References, the subject with "Re:" and the ticket token.

The Message-ID is derived from the send's idempotency key, so a retried send carries
the same one and the customer's mail program recognises a repeat.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html as html_module
import re
import unicodedata
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses
from pathlib import Path

import jinja2
import nh3
from markupsafe import Markup

from channels.base import OutboundMessage

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|vs|ref|rif|r)\s*(\[\d+\])?\s*:", re.IGNORECASE)
_KEY = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


class EmailTemplates:
    """templates/email/reply.{txt,html}, loaded and compiled once."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        loader = jinja2.FileSystemLoader(str(directory))
        self._text = jinja2.Environment(loader=loader, autoescape=False, keep_trailing_newline=True).get_template("reply.txt")
        self._html = jinja2.Environment(loader=loader, autoescape=True).get_template("reply.html")

    def render(self, outbound: OutboundMessage) -> tuple[str, str]:
        language = outbound.recipient.language or "en"
        context = {
            "author_name": outbound.author_name,
            "ticket_number": outbound.ticket_number,
            "language": language,
            "portal_url": outbound.portal_url,
        }
        text = self._text.render(text=outbound.text, **context).strip() + "\n"
        body = nh3.clean(outbound.html, link_rel="noopener noreferrer nofollow") if outbound.html else _paragraphs(outbound.text)
        html = self._html.render(body=Markup(body), **context)
        return text, html


def message_id(key: str, domain: str) -> str:
    """The Message-ID (without <>) of the send with idempotency key `key`."""
    local = key if _KEY.match(key) else hashlib.sha256(key.encode()).hexdigest()
    return f"{local}@{domain}"


NO_SUBJECT = {"en": "your message", "es": "su mensaje"}


def reply_subject(subject: str | None, ticket_number: int | None, language: str | None = None) -> str:
    """ "Re: " once, and the ticket token; a conversation without a subject (a chat
    continued by email) gets "Re: your message" in the customer's language."""
    subject = (subject or "").strip() or NO_SUBJECT.get(language or "en", NO_SUBJECT["en"])
    if ticket_number is not None and f"[#{ticket_number}]" not in subject:
        subject = f"{subject} [#{ticket_number}]"
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def compose(
    outbound: OutboundMessage,
    *,
    sender: str,
    domain: str,
    templates: EmailTemplates,
    now_header: str | None = None,
) -> EmailMessage:
    """Build the message; ValueError when the recipient is not an email address."""
    # The address the customer wrote from (their identity on this channel) wins over the
    # contact's main email, which an agent may have changed.
    recipient = outbound.recipient
    address = recipient.address if "@" in recipient.address else (recipient.email or recipient.address)
    parsed = getaddresses([address])
    if len(parsed) != 1 or "@" not in parsed[0][1]:
        raise ValueError(f"not an email address: {address!r}")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = formataddr((display_name(outbound.recipient.name), parsed[0][1]))
    if outbound.standalone:
        msg["Subject"] = (outbound.subject or "").strip() or NO_SUBJECT.get(outbound.recipient.language or "en", NO_SUBJECT["en"])
    else:
        msg["Subject"] = reply_subject(outbound.subject, outbound.ticket_number, outbound.recipient.language)
    msg["Message-ID"] = f"<{message_id(outbound.idempotency_key, domain)}>"
    msg["Date"] = now_header or format_datetime(dt.datetime.now(dt.UTC))
    references = [r for r in outbound.references if _is_message_id(r)]
    if outbound.in_reply_to and _is_message_id(outbound.in_reply_to):
        msg["In-Reply-To"] = f"<{outbound.in_reply_to}>"
        if outbound.in_reply_to not in references:
            references.append(outbound.in_reply_to)
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references[-20:])
    if outbound.author_name is None:
        # No agent wrote it: an auto-reply or notification (RFC 3834), so robots stay quiet.
        msg["Auto-Submitted"] = "auto-generated" if outbound.standalone else "auto-replied"
    text, html = templates.render(outbound)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for attachment in outbound.attachments:
        maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
        if maintype == "text" or not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


def _is_message_id(value: str) -> bool:
    """External ids that are real Message-IDs (not our "out:" keys or content hashes)."""
    return "@" in value and not value.startswith(("out:", "sha256:")) and not re.search(r"[\s<>]", value)


def display_name(value: str | None) -> str | None:
    """A contact's name fit for a header: controls (CR, LF, vertical tab, form feed, NUL…),
    format characters and line/paragraph separators become spaces — Python splits header
    lines on several of them — so a name can neither break the reply nor add a header."""
    if not value:
        return None
    cleaned = "".join(" " if unicodedata.category(c) in _NOT_IN_NAMES else c for c in value)
    return re.sub(r"\s+", " ", cleaned).strip()[:200] or None


_NOT_IN_NAMES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _paragraphs(text: str) -> str:
    blocks = [b for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "".join("<p>" + html_module.escape(b).replace("\n", "<br>") + "</p>" for b in blocks)
