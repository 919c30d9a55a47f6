"""Reply text in Telegram's HTML subset: always accepted by Telegram's parser, nothing lost."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.telegram_format import html_to_telegram, text_to_telegram
from tests.fixtures.fake_telegram import parse_telegram_html

TAGS = [
    "p",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "s",
    "del",
    "code",
    "pre",
    "a",
    "ul",
    "ol",
    "li",
    "br",
    "h1",
    "div",
    "span",
    "table",
    "td",
    "blockquote",
    "img",
    "script",
]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@st.composite
def html_documents(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["text", "open", "close", "entity"]))
        if kind == "text":
            parts.append(draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)).replace("<", "&lt;"))
        elif kind == "entity":
            parts.append(draw(st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;", "&#128512;", "&nbsp;", "&bogus;", "&"])))
        else:
            tag = draw(st.sampled_from(TAGS))
            if kind == "close":
                parts.append(f"</{tag}>")
            elif tag == "a":
                href = draw(st.sampled_from(["https://x.test/?a=1&b=2", 'https://x.test/"q"', "javascript:alert(1)", ""]))
                parts.append(f'<a href="{href}">')
            elif tag == "code":
                parts.append(draw(st.sampled_from(["<code>", '<code class="language-python">'])))
            else:
                parts.append(f"<{tag}>")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=3000), st.integers(10, 4096))
def test_any_plain_text_is_escaped_and_split_without_losing_a_character(text: str, limit: int) -> None:
    chunks = text_to_telegram(text, limit)
    visible = [parse_telegram_html(c) for c in chunks]  # raises where Telegram would refuse
    assert all(len(v.encode("utf-16-le")) // 2 <= limit for v in visible)
    assert _squash("".join(visible)) == _squash(text)


@settings(max_examples=300, deadline=None)
@given(html_documents(), st.integers(20, 4096))
def test_any_html_becomes_telegram_html_that_telegram_accepts(document: str, limit: int) -> None:
    for chunk in html_to_telegram(document, limit):
        visible = parse_telegram_html(chunk)
        assert len(visible.encode("utf-16-le")) // 2 <= limit
        assert visible.strip()


def test_unknown_tags_keep_their_text_and_scripts_lose_theirs() -> None:
    assert html_to_telegram('<div><span style="x">kept</span><script>alert(1)</script> <font>too</font></div>') == ["kept too"]


def test_nested_formatting_inside_code_is_flattened() -> None:
    assert html_to_telegram("<pre><b>bold?</b> x&lt;y</pre>") == ["<pre>bold? x&lt;y</pre>"]


def test_unsafe_link_schemes_become_plain_text() -> None:
    assert html_to_telegram('<a href="javascript:alert(1)">click</a> <a href="https://ok.test/a?b=&quot;c&quot;">ok</a>') == [
        'click <a href="https://ok.test/a?b=&quot;c&quot;">ok</a>'
    ]


def test_a_split_closes_open_tags_and_opens_them_again() -> None:
    chunks = html_to_telegram("<b>" + "word " * 10 + "</b>", limit=20)
    assert len(chunks) > 1
    assert all(c.startswith("<b>") and c.endswith("</b>") for c in chunks)


def test_lists_are_numbered_or_bulleted() -> None:
    assert html_to_telegram("<ol><li>one</li><li>two</li></ol><ul><li>dot</li></ul>") == ["1. one\n2. two\n\n• dot"]
