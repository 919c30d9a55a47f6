"""Knowledge-base articles in the store: what an author writes (`ArticleDraft`), its
rendering, and the synchronous writes the KB actions run inside their transaction.

Writes are SQLAlchemy Core over one connection, so an article and its search index
change together; they raise domain errors (a bad field is `Invalid`, a taken slug a
`Conflict`, an unknown id `NotFound`) and leave auditing to the action that called them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, cast

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import Connection, Row, Table, delete, insert, select, update

from inbox.errors import Conflict, Invalid, NotFound
from inbox.store import kb_search
from inbox.store.db import insert_ids
from inbox.store.models import Article, ArticleResolution, Problem, utcnow
from routing.vocabulary import ARTICLE_STATUSES, LANGUAGES, ArticleStatus, Language

articles_t = cast(Table, Article.__table__)
resolutions_t = cast(Table, ArticleResolution.__table__)
problems_t = cast(Table, Problem.__table__)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TITLE = 998
MAX_BODY = 200_000

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """What an author writes; everything else (html, index, dates) follows from it."""

    title: str
    body: str
    language: str = "en"
    category: str | None = None
    slug: str | None = None
    status: str = "draft"
    translation_key: str | None = None


FIELDS = tuple(ArticleDraft.__dataclass_fields__)
# The fields a change may clear (None); on the others None means "leave as it is".
CLEARABLE = ("category", "slug", "translation_key")


@dataclass(frozen=True, slots=True)
class Saved:
    """What a write did: created, updated (which fields) or nothing."""

    outcome: Outcome
    article_id: int
    draft: ArticleDraft
    changed: tuple[str, ...] = ()


# -- rendering ----------------------------------------------------------------------------

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd",
    "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul", "del", "s",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}


def render(body: str) -> str:
    """Markdown to HTML that is safe to show anyone (raw HTML off, then nh3 on top)."""
    return nh3.clean(
        _markdown.render(body),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def summary(body: str, limit: int = 180) -> str:
    """The first paragraph as plain text, cut at a word."""
    for block in re.split(r"\n\s*\n", body.strip()):
        if block.lstrip().startswith(("#", "```", "|")):
            continue
        plain = re.sub(r"[*_`>#]|\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(block.split()))
        if len(plain) <= limit:
            return plain
        return plain[:limit].rsplit(" ", 1)[0] + "…"
    return ""


def slugify(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value.lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:120] or "article"


def category_slug(category: str | None) -> str:
    return slugify(category) if category else ""


# -- validation ---------------------------------------------------------------------------


def validated(draft: ArticleDraft) -> ArticleDraft:
    """The draft as it will be stored (title and category tidied, slug from the title)."""
    title = " ".join(draft.title.split())
    if not title:
        raise Invalid("title: must not be empty")
    if len(title) > MAX_TITLE:
        raise Invalid(f"title: at most {MAX_TITLE} characters")
    if draft.language not in LANGUAGES:
        raise Invalid(f"language: must be one of {', '.join(LANGUAGES)}")
    if draft.status not in ARTICLE_STATUSES:
        raise Invalid(f"status: must be one of {', '.join(ARTICLE_STATUSES)}")
    if len(draft.body) > MAX_BODY:
        raise Invalid(f"body: at most {MAX_BODY} characters")
    slug = draft.slug or slugify(title)
    if not SLUG.match(slug) or len(slug) > 255:
        raise Invalid("slug: lower-case letters, digits and single dashes")
    key = (draft.translation_key or "").strip() or None
    if key is not None and (len(key) > 255 or not SLUG.match(key)):
        raise Invalid("translation_key: lower-case letters, digits and single dashes")
    category = " ".join((draft.category or "").split()) or None
    return replace(draft, title=title, slug=slug, translation_key=key, category=category[:255] if category else None)


def edited(draft: ArticleDraft, changes: Mapping[str, str | None]) -> ArticleDraft:
    """`draft` with `changes` applied: None clears a clearable field, else leaves it."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise Invalid(f"unknown article fields: {', '.join(unknown)}")
    values = asdict(draft)
    values.update((k, v) for k, v in changes.items() if v is not None or k in CLEARABLE)
    return ArticleDraft(**values)


def _clash(conn: Connection, draft: ArticleDraft, article_id: int | None) -> None:
    same_language = articles_t.c.language == draft.language
    others = articles_t.c.id != (article_id or 0)
    if conn.scalar(select(articles_t.c.id).where(same_language, articles_t.c.slug == draft.slug, others)):
        raise Conflict(f"slug: {draft.slug!r} is taken in {draft.language}")
    if draft.translation_key and conn.scalar(
        select(articles_t.c.id).where(same_language, articles_t.c.translation_key == draft.translation_key, others)
    ):
        raise Conflict(f"translation_key: {draft.translation_key!r} already has a {draft.language} version")


def _draft_of(row: Row[Any]) -> ArticleDraft:
    return ArticleDraft(row.title, row.body, row.language, row.category, row.slug, row.status, row.translation_key)


def stored_draft(conn: Connection, article_id: int) -> ArticleDraft:
    row = conn.execute(select(articles_t).where(articles_t.c.id == article_id)).first()
    if row is None:
        raise NotFound.of("article")
    return _draft_of(row)


# -- writes -------------------------------------------------------------------------------


def create_article(conn: Connection, draft: ArticleDraft, *, problem_id: int | None = None) -> Saved:
    draft = validated(draft)
    _clash(conn, draft, None)
    now = utcnow()
    values = {**_values(draft, now), "created_at": now, "problem_id": problem_id}
    values["published_at"] = now if draft.status == "published" else None
    [article_id] = insert_ids(conn, articles_t, [values])
    kb_search.index_article(conn, article_id, draft.language, draft.title, draft.body)
    return Saved("created", article_id, draft)


def update_article(conn: Connection, article_id: int, draft: ArticleDraft) -> Saved:
    """Replace an article's content; nothing is written when nothing changed."""
    current = conn.execute(select(articles_t).where(articles_t.c.id == article_id)).first()
    if current is None:
        raise NotFound.of("article")
    draft = validated(draft)
    before, after = asdict(_draft_of(current)), asdict(draft)
    changed = tuple(name for name in FIELDS if before[name] != after[name])
    if not changed:
        return Saved("unchanged", article_id, draft)
    _clash(conn, draft, article_id)
    now = utcnow()
    values = _values(draft, now)
    if draft.status == "published" and current.published_at is None:
        values["published_at"] = now
    conn.execute(update(articles_t).where(articles_t.c.id == article_id).values(**values))
    kb_search.index_article(conn, article_id, draft.language, draft.title, draft.body)
    return Saved("updated", article_id, draft, changed)


def _values(draft: ArticleDraft, now: Any) -> dict[str, Any]:
    return {**asdict(draft), "html": render(draft.body), "updated_at": now}


def upsert_article(conn: Connection, draft: ArticleDraft) -> Saved:
    """Create or update the article with this translation key (else slug) and language.

    The import's idempotence: the same file imported twice is one article, unchanged.
    """
    draft = validated(draft)
    column, value = (articles_t.c.translation_key, draft.translation_key) if draft.translation_key else (articles_t.c.slug, draft.slug)
    found = conn.scalar(select(articles_t.c.id).where(column == value, articles_t.c.language == draft.language))
    if found is None:
        return create_article(conn, draft)
    return update_article(conn, int(found), draft)


def delete_article(conn: Connection, article_id: int) -> ArticleDraft:
    """Delete an article, its index entry and its resolutions; returns what it was."""
    gone = stored_draft(conn, article_id)
    kb_search.unindex_article(conn, article_id)
    conn.execute(delete(resolutions_t).where(resolutions_t.c.article_id == article_id))
    conn.execute(delete(articles_t).where(articles_t.c.id == article_id))
    return gone


def record_resolution(conn: Connection, conversation_id: int, article_id: int, agent_id: int | None) -> bool:
    """Mark a conversation as solved by an article; False if it already was."""
    if conn.scalar(select(articles_t.c.id).where(articles_t.c.id == article_id)) is None:
        raise NotFound.of("article")
    exists = conn.scalar(
        select(resolutions_t.c.id).where(resolutions_t.c.conversation_id == conversation_id, resolutions_t.c.article_id == article_id)
    )
    if exists:
        return False
    conn.execute(
        insert(resolutions_t).values(conversation_id=conversation_id, article_id=article_id, agent_id=agent_id, created_at=utcnow())
    )
    return True


# -- service desk: a known error's workaround as a published article ------------------------

KNOWN_ISSUES: dict[Language, str] = {"en": "Known issues", "es": "Problemas conocidos"}
WORKAROUND: dict[Language, str] = {"en": "Workaround", "es": "Solución temporal"}
STATUS_LINE: dict[Language, str] = {
    "en": "We know about this problem and are working on a fix. Until then, this works:",
    "es": "Conocemos este problema y estamos trabajando en una solución. Mientras tanto, esto funciona:",
}
PUBLISHED: ArticleStatus = "published"


def publish_known_error(conn: Connection, problem_id: int, language: str = "en", title: str | None = None) -> Saved:
    """Create or update the published article that carries a problem's workaround, and
    mark the problem a known error."""
    problem = conn.execute(select(problems_t).where(problems_t.c.id == problem_id)).first()
    if problem is None:
        raise NotFound.of("problem")
    if language not in LANGUAGES:
        raise Invalid(f"language: must be one of {', '.join(LANGUAGES)}")
    lang = cast(Language, language)
    workaround = (problem.workaround or "").strip()
    if not workaround:
        raise Invalid(f"problem {problem_id} has no workaround to publish")
    key = f"known-error-{problem.number}"
    draft = ArticleDraft(
        title=title or problem.title,
        body=f"{STATUS_LINE[lang]}\n\n## {WORKAROUND[lang]}\n\n{workaround}\n",
        language=lang,
        category=KNOWN_ISSUES[lang],
        slug=f"{key}-{slugify(title or problem.title)}"[:200].strip("-"),
        status=PUBLISHED,
        translation_key=key,
    )
    slug = conn.scalar(select(articles_t.c.slug).where(articles_t.c.translation_key == key, articles_t.c.language == lang))
    if slug is not None:
        draft = replace(draft, slug=slug)  # a published URL never moves
    saved = upsert_article(conn, draft)
    conn.execute(update(articles_t).where(articles_t.c.id == saved.article_id).values(problem_id=problem_id))
    if not problem.known_error:
        conn.execute(update(problems_t).where(problems_t.c.id == problem_id).values(known_error=True))
    return saved
