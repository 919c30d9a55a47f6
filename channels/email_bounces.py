"""Bounces and receipts: recognised by their subject and body as well as their headers,
their machine-readable reports (RFC 3464 delivery status, RFC 8098 read receipts) turned
into readable text, and the facts the inbox needs to mark a reply as failed.

`meta["bounce"]` of a parsed mail is `{"recipients": [{"address", "action", "status",
"diagnostic"}], "original_message_id": "<id>" | None}`; it is only set for a failure
(a report whose every recipient was delayed or delivered is no bounce).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Subjects of non-delivery reports from the common MTAs, in en, es, de, fr, pt, it, nl.
_SUBJECT = re.compile(
    r"(?i)^\s*(?:(?:fw|fwd)\s*:\s*)?(?:"
    r"undeliver(?:able|ed)|undelivered mail|mail delivery (?:failed|failure|subsystem)|delivery (?:status notification \((?:failure|delay)\)|failure|has failed|failed|notification)"
    r"|mail could not be delivered|message (?:could not be delivered|not delivered|delivery failed)|returned mail|returned to sender|failure notice"
    r"|non[- ]?delivery|nondeliverable|delivery problem|could not send (?:your )?message|mail system error|warning: could not send"
    r"|no se (?:puede|pudo) entregar|no entregado|mensaje no entregado|error (?:en la|de) entrega|notificaci[oó]n de (?:estado de )?entrega|correo devuelto|devuelto al remitente|entrega fallida"
    r"|unzustellbar|nicht zustellbar|zustellung fehlgeschlagen|fehler bei der zustellung|benachrichtigung zum übermittlungsstatus|rückläufige nachricht|unzustellbare nachricht"
    r"|non remis|non distribuable|(?:é|e)chec de (?:la )?(?:remise|distribution|livraison)|rapport de non[- ]remise|message non (?:remis|délivré|distribué)|retour de courrier"
    r"|n[aã]o (?:foi possível )?entregue|falha na entrega|mensagem não entregue|impossibile recapitare|mancato recapito|non recapitabile|onbestelbaar|niet bezorgd"
    r")"
)
# Sentences MTAs write at the top of a bounce's text; a person hardly writes them.
_BODY = re.compile(
    r"(?i)(?:this is the mail system at host|this message was created automatically by mail delivery software"
    r"|the following address(?:\(es\)|es)? failed|delivery to the following recipients? (?:failed|has been delayed)"
    r"|your message (?:to \S+ )?(?:could not|couldn't|wasn't|was not) (?:be )?delivered|i'?m sorry to have to inform you that your message could not"
    r"|(?:could not|couldn't) be delivered to one or more (?:of its )?recipients|delivery has failed to these recipients"
    r"|permanent fatal errors|message not delivered|address not found\b.{0,80}\bwasn't delivered|mail delivery (?:failed|subsystem)"
    r"|no se (?:pudo|puede) entregar (?:el|su|este) mensaje|su mensaje no (?:se )?(?:pudo|ha podido) (?:ser )?entreg"
    r"|die nachricht konnte nicht zugestellt werden|ihre nachricht konnte nicht zugestellt werden|konnte nicht an (?:den|die) empfänger"
    r"|le message n'a pas pu être (?:remis|distribué)|votre message n'a pas pu être (?:remis|distribué|livré)|la remise .{0,40} a échoué)"
)
_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)[ -]")
_ADDRESS = re.compile(r"<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})>?")
_ORIGINAL_ID = re.compile(r"(?im)^[ \t]*message-id:[ \t]*(<[^<>\s]{1,500}>)")
_FAILED_ACTIONS = frozenset({"failed"})


@dataclass
class Report:
    """What the walk over a mail's parts found for bounces and receipts."""

    delivery_blocks: list[list[tuple[str, str]]] = field(default_factory=list)
    disposition_blocks: list[list[tuple[str, str]]] = field(default_factory=list)
    returned_ids: list[str] = field(default_factory=list)  # Message-IDs of returned copies


def subject_reason(subject: str | None) -> str | None:
    if subject and _SUBJECT.search(subject[:300]):
        return f"bounce subject: {subject[:80]}"
    return None


def body_reason(text: str) -> str | None:
    match = _BODY.search(text[:3000])
    return f"bounce text: {match.group(0)[:60]}" if match else None


def report_text(blocks: list[list[tuple[str, str]]], title: str) -> str:
    """A report's every block, one "Field: value" a line, blocks apart: readable text."""
    lines = [f"[{title}]"]
    for block in blocks:
        lines += [f"{name}: {value}" for name, value in block]
        lines.append("")
    return "\n".join(lines).strip()


def bounce_facts(report: Report, text: str, in_reply_to: str | None, references: list[str]) -> dict[str, Any] | None:
    """`meta["bounce"]` for a failure; None when the report says nothing failed."""
    recipients = [r for block in report.delivery_blocks if (r := _recipient(block))]
    if recipients and not any(r["action"] in _FAILED_ACTIONS for r in recipients):
        return None  # delayed, delivered, relayed, expanded: no failure to record
    if not recipients and not report.delivery_blocks:
        recipients = _recipients_in_text(text)
    original = next(iter(report.returned_ids), None) or in_reply_to or (references[-1] if references else None)
    if original is None:
        match = _ORIGINAL_ID.search(text)
        original = match.group(1) if match else None
    return {"recipients": recipients, "original_message_id": original}


def _recipient(block: list[tuple[str, str]]) -> dict[str, str | None] | None:
    fields = {name.lower(): value for name, value in block}
    raw = fields.get("final-recipient") or fields.get("original-recipient")
    if raw is None:
        return None
    address = raw.split(";", 1)[-1].strip().strip("<>").lower()
    diagnostic = fields.get("diagnostic-code")
    if diagnostic and ";" in diagnostic[:12]:
        diagnostic = diagnostic.split(";", 1)[1].strip()
    return {
        "address": address,
        "action": (fields.get("action") or "").strip().lower() or None,
        "status": (fields.get("status") or "").strip().split(" ")[0] or None,
        "diagnostic": diagnostic or None,
    }


def _recipients_in_text(text: str) -> list[dict[str, str | None]]:
    """Failed recipients of a bounce without a delivery-status part, as Postfix
    ("<a@b>: host … said: 550 5.1.1 …") and Exim ("failed:\\n\\n  a@b\\n    550 …") write them."""
    head = re.split(
        r"(?im)^.*(?:copy of the message|original message|returned message|headers of the original|message headers follow).*$",
        text[:20000],
        maxsplit=1,
    )[0]
    found: dict[str, dict[str, str | None]] = {}
    lines = head.split("\n")
    for i, line in enumerate(lines):
        match = re.match(r"^\s*<?([^\s<>@]+@[^\s<>:]+)>?:?\s*(.*)$", line)
        if not match or not _ADDRESS.fullmatch(match.group(1)):
            continue
        detail = " ".join(
            [
                match.group(2),
                *(n.strip() for n in lines[i + 1 : i + 4] if n.startswith((" ", "\t"))),
            ]
        ).strip()
        if not (_STATUS.search(detail) or _SMTP_CODE.search(detail)) and not re.search(
            r"(?i)fail|unknown|rejected|denied|not found|does not exist", detail
        ):
            continue
        status = _STATUS.search(detail)
        address = match.group(1).lower()
        found.setdefault(
            address,
            {
                "address": address,
                "action": "failed",
                "status": status.group(1) if status else None,
                "diagnostic": detail[:500] or None,
            },
        )
    return list(found.values())[:50]
