"""Agent replies written in Markdown: rendered without raw HTML, then sanitised."""

from __future__ import annotations

from markdown_it import MarkdownIt

from inbox.pipeline.ingest import sanitise_html

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render_markdown(text: str) -> str | None:
    return sanitise_html(_renderer.render(text))
