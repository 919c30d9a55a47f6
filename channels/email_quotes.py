"""The part of an email worth showing: quoted history and signatures cut from plain text.

Only the shown text is cut; the adapter keeps the sanitised HTML and the raw original.
When cutting would leave nothing (a message that is all quote), the text stays whole.
"""

from __future__ import annotations

import re

# A line that introduces quoted history in the common clients (en, es, de, fr).
_ATTRIBUTION = re.compile(
    r"^\s*(On\b.{0,300}\bwrote:|El\b.{0,300}\bescribió:|Am\b.{0,300}\bschrieb\b.{0,80}:|Le\b.{0,300}\ba écrit\s*:)\s*$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Mensaje original|Ursprüngliche Nachricht|Message d'origine|Forwarded message|Mensaje reenviado)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\s*\*?(From|De|Von)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|Enviado|Fecha|Gesendet|To|Para|An|Subject|Asunto)\s*:", re.IGNORECASE)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(Sent from my \w+|Enviado desde mi \w+|Get Outlook for \w+|Von meinem \w+ gesendet)", re.IGNORECASE
)


def shown_text(text: str) -> str:
    """`text` without the quoted history and signature below the author's own words."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _history_start(lines)
    kept = lines[:cut]
    kept = _without_signature(kept)
    kept = _without_trailing_quote(kept)
    result = "\n".join(kept).strip()
    return result if result else text.strip()


def _history_start(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _SEPARATORS.match(line):
            return i
        if _ATTRIBUTION.match(line):
            return i
        # "On Mon, 1 Jan 2024, Ana <ana@example.com>" wrapped over two lines.
        if i + 1 < len(lines) and re.match(r"^\s*(On|El)\s", line, re.IGNORECASE) and _ATTRIBUTION.match(f"{line} {lines[i + 1]}"):
            return i
        # Outlook: "From: ..." followed by "Sent:"/"Date:" within the next lines.
        if _HEADER_BLOCK.match(line) and any(_HEADER_NEXT.match(n) for n in lines[i + 1 : i + 4]):
            return i
    return len(lines)


def _without_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line in ("-- ", "--") and i > 0:
            return lines[:i]
        if _MOBILE_SIGNATURE.match(line) and i > 0:
            return lines[:i]
    return lines


def _without_trailing_quote(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return lines[:end]
