"""Reply text for Telegram: HTML to Telegram's HTML subset, escaped, in chunks it accepts.

Telegram's `parse_mode=HTML` knows a handful of tags (b, i, u, s, code, pre, a,
blockquote, tg-spoiler) and three named entities; anything else makes the send fail.
So the inbox's sanitised HTML is rewritten tag by tag: known formatting is kept, block
structure becomes line breaks and list bullets, everything else keeps only its text.
Long replies are cut into messages of at most `limit` visible characters, closing
the open tags at the cut and opening them again in the next message.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser

TEXT_LIMIT = 4096  # characters after entity parsing, per message
CAPTION_LIMIT = 1024

# input tag -> the Telegram tag it becomes
_INLINE = {
    "b": "b", "strong": "b",
    "i": "i", "em": "i", "cite": "i",
    "u": "u", "ins": "u",
    "s": "s", "strike": "s", "del": "s",
    "code": "code", "kbd": "code", "samp": "code",
    "tg-spoiler": "tg-spoiler",
    "blockquote": "blockquote",
}  # fmt: skip
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_BLOCKS = {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "dl", "dd", "dt", "figure", "hr"} | _HEADINGS
_PARAGRAPHS = {"p", "table", "ul", "ol", "pre"} | _HEADINGS  # separated by an empty line
_DROP_CONTENT = {"script", "style", "head", "title", "template"}
_SAFE_SCHEMES = ("http://", "https://", "mailto:", "tg://")
_WS = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class _Open:
    name: str  # the Telegram tag name
    markup: str  # the full opening tag, e.g. '<a href="...">'


@dataclass(frozen=True, slots=True)
class _Close:
    name: str


@dataclass(frozen=True, slots=True)
class _Text:
    text: str  # unescaped


_Token = _Open | _Close | _Text


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[_Token] = []
        self._stack: list[tuple[str, str | None]] = []  # (input tag, Telegram tag or None)
        self._pending_breaks = 0
        self._drop_depth = 0
        self._pre_depth = 0
        self._lists: list[list[int]] = []  # one counter per open <ol>/<ul>; -1 means bullets
        self._started = False

    # -- helpers ----------------------------------------------------------------------

    def _break(self, count: int) -> None:
        self._pending_breaks = max(self._pending_breaks, count)

    def _flush_breaks(self) -> None:
        if self._pending_breaks and self._started:
            self.tokens.append(_Text("\n" * self._pending_breaks))
        self._pending_breaks = 0

    def _emit_text(self, text: str) -> None:
        if not text:
            return
        self._flush_breaks()
        self.tokens.append(_Text(text))
        self._started = True

    def _open(self, tag: str, telegram: str | None, markup: str | None = None) -> None:
        self._stack.append((tag, telegram))
        if telegram is not None:
            self._flush_breaks()
            self.tokens.append(_Open(telegram, markup or f"<{telegram}>"))

    def _in_code(self) -> bool:
        return any(t in ("code", "pre") for _, t in self._stack)

    # -- parser callbacks ---------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            self._drop_depth += 1
            return
        attributes = {k: v or "" for k, v in attrs}
        if tag == "br":
            self._flush_breaks()
            if self._started:
                self.tokens.append(_Text("\n"))
            return
        if tag == "img":
            alt = attributes.get("alt", "").strip()
            if alt:
                self._emit_text(f"[{alt}]")
            return
        if tag in _BLOCKS:
            self._break(2 if tag in _PARAGRAPHS else 1)
            if tag in ("ul", "ol"):
                self._lists.append([0 if tag == "ol" else -1])
            if tag == "hr":
                self._emit_text("———")
                self._break(1)
                return
            self._open(tag, "b" if tag in _HEADINGS and not self._in_code() else None)
            return
        if tag == "li":
            self._break(1)
            counter = self._lists[-1] if self._lists else [-1]
            if counter[0] >= 0:
                counter[0] += 1
                bullet = f"{counter[0]}. "
            else:
                bullet = "• "
            indent = "  " * max(len(self._lists) - 1, 0)
            self._emit_text(indent + bullet)
            self._open(tag, None)
            return
        language = attributes.get("class", "")
        if tag == "code" and self._stack and self._stack[-1] == ("pre", "pre") and re.fullmatch(r"language-[\w+#-]{1,40}", language):
            self._open(tag, "code", f'<code class="{language}">')
            return
        if self._in_code():
            # Telegram allows nothing inside code or pre: keep only the text.
            self._open(tag, None)
            return
        if tag == "pre":
            self._break(1)
            self._pre_depth += 1
            self._open(tag, "pre")
            return
        if tag == "a":
            href = attributes.get("href", "").strip()
            if href.lower().startswith(_SAFE_SCHEMES):
                self._open(tag, "a", f'<a href="{html.escape(href, quote=True)}">')
            else:
                self._open(tag, None)
            return
        if tag == "span" and "tg-spoiler" in attributes.get("class", "").split():
            self._open(tag, "tg-spoiler")
            return
        self._open(tag, _INLINE.get(tag))

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_CONTENT:
            self._drop_depth = max(self._drop_depth - 1, 0)
            return
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        if not any(t == tag for t, _ in self._stack):
            return  # a stray end tag
        while self._stack:
            open_tag, telegram = self._stack.pop()
            if telegram is not None:
                self.tokens.append(_Close(telegram))
            if telegram == "pre":
                self._pre_depth -= 1
            if open_tag == tag:
                break
        if tag in _BLOCKS or tag == "pre":
            self._break(2 if tag in _PARAGRAPHS else 1)
        elif tag == "li":
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self._drop_depth:
            return
        if self._pre_depth:
            self._emit_text(data)
            return
        text = _WS.sub(" ", data)
        if not self._started or self._pending_breaks or _ends_with_break(self.tokens):
            text = text.lstrip()
        self._emit_text(text)

    def close(self) -> None:
        super().close()
        while self._stack:
            _, telegram = self._stack.pop()
            if telegram is not None:
                self.tokens.append(_Close(telegram))


def _ends_with_break(tokens: list[_Token]) -> bool:
    for token in reversed(tokens):
        if isinstance(token, _Text):
            return token.text.endswith((" ", "\n"))
    return True


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _cut_point(text: str, budget: int) -> int:
    """Index to cut `text` at so that the head fits `budget` UTF-16 units, at a space if any."""
    used = 0
    index = 0
    while index < len(text):
        used += 2 if ord(text[index]) > 0xFFFF else 1
        if used > budget:
            break
        index += 1
    else:
        return len(text)
    head = text[:index]
    space = max(head.rfind("\n"), head.rfind(" "))
    return space + 1 if space > len(head) // 2 else index


def _chunk(tokens: list[_Token], limit: int) -> list[str]:
    chunks: list[str] = []
    parts: list[str] = []
    stack: list[_Open] = []
    used = 0

    def finish() -> None:
        nonlocal parts, used
        body = "".join(parts) + "".join(f"</{o.name}>" for o in reversed(stack))
        if body.strip():
            chunks.append(body.strip("\n") if not stack else body)
        parts = [o.markup for o in stack]
        used = 0

    for token in tokens:
        if isinstance(token, _Open):
            stack.append(token)
            parts.append(token.markup)
        elif isinstance(token, _Close):
            if stack and stack[-1].name == token.name:
                stack.pop()
            parts.append(f"</{token.name}>")
        else:
            text = token.text
            while text:
                room = limit - used
                if _utf16_len(text) <= room:
                    parts.append(_escape(text))
                    used += _utf16_len(text)
                    break
                cut = _cut_point(text, room) if room > 0 else 0
                if cut == 0 and used == 0:
                    cut = 1  # a limit below one character: send it alone rather than loop
                if cut:
                    parts.append(_escape(text[:cut]))
                    text = text[cut:]
                finish()
                text = text.lstrip("\n") if not stack else text
    finish()
    return [c for c in chunks if _visible(c).strip()]


def _visible(chunk: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", chunk))


def html_to_telegram(source: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Telegram-HTML messages, each within `limit` visible characters, for sanitised HTML."""
    converter = _Converter()
    converter.feed(source)
    converter.close()
    return _chunk(converter.tokens, limit)


def text_to_telegram(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Plain text, escaped for `parse_mode=HTML`, in chunks within `limit`."""
    return _chunk([_Text(text)], limit)
