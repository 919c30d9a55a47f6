"""Markdown (what agents write) to Slack's mrkdwn (what Slack renders).

Slack's dialect differs from CommonMark: `*bold*`, `_italic_`, `~strike~`, links as
`<url|text>`, no headings, and `&`, `<`, `>` must be escaped in text. We parse with
markdown-it and render the token stream, so code spans and blocks stay verbatim.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

_parser = MarkdownIt("commonmark").enable("strikethrough")

_INLINE_MARKS = {
    "strong_open": "*",
    "strong_close": "*",
    "em_open": "_",
    "em_close": "_",
    "s_open": "~",
    "s_close": "~",
}


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs require."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Render Markdown as Slack mrkdwn."""
    tokens = _parser.parse(markdown)
    return _render_blocks(tokens).strip("\n")


def _render_blocks(tokens: Sequence[Token]) -> str:
    out: list[str] = []
    lists: list[list[int]] = []  # one entry per open list: [next number] or [-1] for bullets
    quote_depth = 0
    pending_prefix = ""

    def emit(text: str) -> None:
        nonlocal pending_prefix
        quote = "> " * quote_depth
        lines = text.split("\n")
        first = quote + pending_prefix + lines[0]
        rest = [quote + "  " * len(lists) + line if line else quote.rstrip() for line in lines[1:]]
        out.append("\n".join([first, *rest]))
        pending_prefix = ""

    for token in tokens:
        kind = token.type
        if kind == "inline":
            emit(_render_inline(token.children or []))
        elif kind == "paragraph_close":
            out.append("\n" if lists else "\n\n")
        elif kind == "heading_open":
            pending_prefix += "*"
        elif kind == "heading_close":
            out.append("*\n\n")
        elif kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrGet("start") or 1) if kind == "ordered_list_open" else -1
            lists.append([start])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
            if not lists:
                out.append("\n")
        elif kind == "list_item_open":
            counter = lists[-1]
            indent = "  " * (len(lists) - 1)
            if counter[0] < 0:
                pending_prefix = f"{indent}• "
            else:
                pending_prefix = f"{indent}{counter[0]}. "
                counter[0] += 1
        elif kind == "blockquote_open":
            quote_depth += 1
        elif kind == "blockquote_close":
            quote_depth -= 1
        elif kind in ("fence", "code_block"):
            emit("```\n" + escape(token.content.rstrip("\n")) + "\n```")
            out.append("\n\n")
        elif kind == "hr":
            emit("───")
            out.append("\n\n")
        elif kind == "html_block":
            emit(escape(token.content.rstrip("\n")))
            out.append("\n\n")
    return "".join(out)


def _render_inline(children: Sequence[Token]) -> str:
    out: list[str] = []
    link_stack: list[tuple[str, int]] = []  # (href, index in out where the label starts)
    for token in children:
        kind = token.type
        if kind == "text":
            out.append(escape(token.content))
        elif kind in _INLINE_MARKS:
            out.append(_INLINE_MARKS[kind])
        elif kind == "code_inline":
            out.append(f"`{escape(token.content)}`")
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            link_stack.append((str(token.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            label = "".join(out[start:])
            del out[start:]
            out.append(_link(href, label))
        elif kind == "image":
            out.append(_link(str(token.attrGet("src") or ""), escape(token.content)))
        elif kind == "html_inline":
            out.append(escape(token.content))
    return "".join(out)


def _link(href: str, label: str) -> str:
    href = href.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    if not href:
        return label
    if not label or label == escape(href):
        return f"<{href}>"
    return f"<{href}|{label}>"
