"""The part of an email worth showing: quoted history and signatures cut from plain text.

Only the shown text is cut; the adapter keeps the sanitised HTML and the raw original.
When cutting would leave nothing (a message that is all quote), the text stays whole.
Text written below a quote (bottom posting, interleaved answers) is kept, and so is a
forwarded message: forwarding is the author's point.
"""

from __future__ import annotations

import re

_VERBS = r"wrote|sent|escribió|escribio|schrieb|a écrit|a ecrit|escreveu|ha scritto|schreef|skrev|kirjoitti|napisał"
# "On … wrote:" and its translations; the whole attribution, once wrapped lines are joined.
_ATTRIBUTION = re.compile(
    r"^\s*(?:On|El|Am|Le|Em|Il|Op|Den|Dne|W dniu)\b.{0,400}\b(?:" + _VERBS + r")\b.{0,120}:\s*$",
    re.IGNORECASE,
)
# "---- Ana wrote ----" (Zoho, Samsung), "-----Ana <a@b> schrieb: -----".
_DASHED_ATTRIBUTION = re.compile(r"^\s*-{2,}.{0,300}\b(?:" + _VERBS + r")\b.{0,40}-{2,}\s*$", re.IGNORECASE)
# Gmail without a verb: "2025-02-03 10:00 GMT+01:00 Ana <ana@example.com>:", "2025年2月3日(月) 10:00 Ana <a@b>:".
_DATE_ATTRIBUTION = re.compile(r"^\s*\d{4}[-/.年]\s?\d{1,2}[-/.月]\s?\d{1,2}日?\b.{0,200}<?[^\s<>@]+@[^\s<>@]+>?\s*:\s*$")
_ATTRIBUTION_START = re.compile(r"^\s*(?:On|El|Am|Le|Em|Il|Op|Den|Dne|W dniu)\s", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:Original Message|Mensaje original|Ursprüngliche Nachricht|Originalnachricht|Message d'origine"
    r"|Mensagem original|Messaggio originale|Oorspronkelijk bericht)\s*-{2,}|_{20,}|-{20,})\s*$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:Forwarded message|Original message follows|Mensaje reenviado|Weitergeleitete Nachricht|Message transféré"
    r"|Mensagem encaminhada|Messaggio inoltrato|Doorgestuurd bericht)\s*-{2,}"
    r"|Begin forwarded message\s*:|Inicio del mensaje reenviado\s*:|Anfang der weitergeleiteten Nachricht\s*:"
    r"|Début du message réexpédié\s*:|Début du message transféré\s*:)\s*$",
    re.IGNORECASE,
)
# The header lines of an Outlook-style quoted block, en, fr, de, es, pt, it, nl.
_HEADER_FIELD = re.compile(
    r"^\*?(From|De|Von|Van|Da|Date|Datum|Fecha|Data|Sent|Envoyé|Gesendet|Enviado|Enviada|Inviato|Verzonden"
    r"|To|À|A|An|Para|Aan|Cc|Subject|Objet|Betreff|Asunto|Assunto|Oggetto|Onderwerp)\s?\*?\s*:\*?(\s|$)",
    re.IGNORECASE,
)
_BLOCK_OPENERS = frozenset(
    {
        "from",
        "de",
        "von",
        "van",
        "da",
        "date",
        "datum",
        "fecha",
        "data",
        "sent",
        "envoyé",
        "gesendet",
        "enviado",
        "enviada",
    }
)
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(Sent from my \w+|Sent from (?:Mail|Outlook) for \w+|Enviado desde mi \w+|Envoyé de mon \w+|Get Outlook for \w+"
    r"|Von meinem \w+ gesendet|Gesendet von meinem \w+|Enviado do meu \w+|Inviato da(?:l mio)? \w+)",
    re.IGNORECASE,
)


def shown_text(text: str) -> str:
    """`text` without the quoted history and signature below the author's own words."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = _without_history(lines)
    kept = _without_signature(kept)
    kept = _without_trailing_quote(kept)
    result = "\n".join(kept).strip()
    return result if result else text.strip()


def _without_history(lines: list[str]) -> list[str]:
    start, kind, length = _history_start(lines)
    if kind in ("none", "forward"):
        return lines
    if kind == "attribution":
        # A ">" quote under the attribution, then text of the author's: bottom posting,
        # or a message that opens with the attribution. Show the words, not the quote.
        end = start + length
        while end < len(lines) and (lines[end].lstrip().startswith(">") or not lines[end].strip()):
            end += 1
        quoted = any(line.lstrip().startswith(">") for line in lines[start + length : end])
        below = lines[end:]
        if quoted and any(line.strip() for line in below):
            if any(line.lstrip().startswith(">") for line in below):
                return lines[:start] + lines[start + length :]  # interleaved: the quotes are context
            return lines[:start] + _without_history(below)
    return lines[:start]


def _history_start(lines: list[str]) -> tuple[int, str, int]:
    """(line, kind, lines of the attribution) where quoted history starts."""
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if _FORWARD.match(line):
            return i, "forward", 1
        if _SEPARATOR.match(line):
            return i, "block", 1
        if _ATTRIBUTION.match(line) or _DASHED_ATTRIBUTION.match(line) or _DATE_ATTRIBUTION.match(line):
            return i, "attribution", 1
        if _ATTRIBUTION_START.match(line):
            # "On Mon, 1 Jan 2024, Ana <ana@example.com>" wrapped over two or three lines.
            for extra in (1, 2):
                if i + extra < len(lines) and _ATTRIBUTION.match(" ".join(lines[i : i + extra + 1])):
                    return i, "attribution", extra + 1
        if _is_header_block(lines, i):
            return i, "block", 1
    return len(lines), "none", 0


def _is_header_block(lines: list[str], i: int) -> bool:
    """Outlook's quoted headers ("From:", "Sent:", "To:", "Subject:" and translations):
    an unindented opener followed by at least one more field in the next lines. An
    indented block (the returned headers in a bounce report) is not one."""
    first = _HEADER_FIELD.match(lines[i])
    if not first or first.group(1).lower() not in _BLOCK_OPENERS:
        return False
    names = {first.group(1).lower()}
    for line in lines[i + 1 : i + 5]:
        field = _HEADER_FIELD.match(line)
        if field:
            names.add(field.group(1).lower())
    return len(names) >= 2


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
