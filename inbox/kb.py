"""The knowledge base in the store: articles (Markdown, en/es translations, draft or
published), their rendering, "solved by article" and a problem's known-error article.

Writes are synchronous SQLAlchemy Core over one connection (run them with
`Database.run`), so an article and its search index change in one transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast

import nh3
from markdown_it import MarkdownIt
from sqlalchemy import Connection, Table, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import kb_search
from inbox.store.db import insert_ids
from inbox.store.models import Article, ArticleResolution, Conversation, Message, Problem, utcnow

articles_t = cast(Table, Article.__table__)
resolutions_t = cast(Table, ArticleResolution.__table__)
problems_t = cast(Table, Problem.__table__)

LANGUAGES = kb_search.LANGUAGES
STATUSES = ("draft", "published")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_BODY = 200_000

Outcome = Literal["created", "updated", "unchanged"]


class KbError(ValueError):
    """An article that cannot be saved as asked (bad field, taken slug, unknown id)."""

    def __init__(self, message: str, *, conflict: bool = False, missing: bool = False) -> None:
        super().__init__(message)
        self.conflict = conflict
        self.missing = missing


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


# -- writes -------------------------------------------------------------------------------


def _validated(draft: ArticleDraft) -> ArticleDraft:
    title = " ".join(draft.title.split())
    if not title:
        raise KbError("title: must not be empty")
    if len(title) > 998:
        raise KbError("title: at most 998 characters")
    if draft.language not in LANGUAGES:
        raise KbError(f"language: must be one of {', '.join(LANGUAGES)}")
    if draft.status not in STATUSES:
        raise KbError(f"status: must be one of {', '.join(STATUSES)}")
    if len(draft.body) > MAX_BODY:
        raise KbError(f"body: at most {MAX_BODY} characters")
    slug = draft.slug or slugify(title)
    if not SLUG.match(slug) or len(slug) > 255:
        raise KbError("slug: lower-case letters, digits and single dashes")
    key = (draft.translation_key or "").strip() or None
    if key is not None and (len(key) > 255 or not SLUG.match(key)):
        raise KbError("translation_key: lower-case letters, digits and single dashes")
    category = " ".join((draft.category or "").split()) or None
    return replace(draft, title=title, slug=slug, translation_key=key, category=category[:255] if category else None)


def _clash(conn: Connection, draft: ArticleDraft, article_id: int | None) -> None:
    same_language = articles_t.c.language == draft.language
    others = articles_t.c.id != (article_id or 0)
    if conn.scalar(select(articles_t.c.id).where(same_language, articles_t.c.slug == draft.slug, others)):
        raise KbError(f"slug: {draft.slug!r} is taken in {draft.language}", conflict=True)
    if draft.translation_key and conn.scalar(
        select(articles_t.c.id).where(same_language, articles_t.c.translation_key == draft.translation_key, others)
    ):
        raise KbError(f"translation_key: {draft.translation_key!r} already has a {draft.language} version", conflict=True)


def save_article(conn: Connection, draft: ArticleDraft, article_id: int | None = None, *, problem_id: int | None = None) -> int:
    """Create (no id) or replace an article's content; returns its id."""
    draft = _validated(draft)
    _clash(conn, draft, article_id)
    now = utcnow()
    values: dict[str, Any] = {
        "title": draft.title,
        "body": draft.body,
        "html": render(draft.body),
        "language": draft.language,
        "category": draft.category,
        "slug": draft.slug,
        "status": draft.status,
        "translation_key": draft.translation_key,
        "updated_at": now,
    }
    if article_id is None:
        values.update(created_at=now, published_at=now if draft.status == "published" else None, problem_id=problem_id)
        [article_id] = insert_ids(conn, articles_t, [values])
    else:
        current = conn.execute(select(articles_t.c.status, articles_t.c.published_at).where(articles_t.c.id == article_id)).first()
        if current is None:
            raise KbError(f"no article {article_id}", missing=True)
        if draft.status == "published" and current.published_at is None:
            values["published_at"] = now
        if problem_id is not None:
            values["problem_id"] = problem_id
        conn.execute(update(articles_t).where(articles_t.c.id == article_id).values(**values))
    kb_search.index_article(conn, article_id, draft.language, draft.title, draft.body)
    return article_id


def upsert_article(conn: Connection, draft: ArticleDraft) -> tuple[Outcome, int]:
    """Create or update the article with this translation key (else slug) and language.

    The import's idempotence: the same file imported twice is one article, unchanged.
    """
    draft = _validated(draft)
    column, value = (articles_t.c.translation_key, draft.translation_key) if draft.translation_key else (articles_t.c.slug, draft.slug)
    row = conn.execute(select(articles_t).where(column == value, articles_t.c.language == draft.language)).first()
    if row is None:
        return "created", save_article(conn, draft)
    unchanged = (row.title, row.body, row.category, row.slug, row.status, row.translation_key) == (
        draft.title, draft.body, draft.category, draft.slug, draft.status, draft.translation_key,
    )  # fmt: skip
    if unchanged:
        return "unchanged", int(row.id)
    return "updated", save_article(conn, draft, int(row.id))


def set_status(conn: Connection, article_id: int, status: str) -> None:
    if status not in STATUSES:
        raise KbError(f"status: must be one of {', '.join(STATUSES)}")
    current = conn.execute(select(articles_t.c.published_at).where(articles_t.c.id == article_id)).first()
    if current is None:
        raise KbError(f"no article {article_id}", missing=True)
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if status == "published" and current.published_at is None:
        values["published_at"] = values["updated_at"]
    conn.execute(update(articles_t).where(articles_t.c.id == article_id).values(**values))


def delete_article(conn: Connection, article_id: int) -> None:
    kb_search.unindex_article(conn, article_id)
    conn.execute(delete(resolutions_t).where(resolutions_t.c.article_id == article_id))
    if conn.execute(delete(articles_t).where(articles_t.c.id == article_id)).rowcount == 0:
        raise KbError(f"no article {article_id}", missing=True)


def record_resolution(conn: Connection, conversation_id: int, article_id: int, agent_id: int | None) -> bool:
    """Mark a conversation as solved by an article; False if it already was."""
    if conn.scalar(select(articles_t.c.id).where(articles_t.c.id == article_id)) is None:
        raise KbError(f"no article {article_id}", missing=True)
    exists = conn.scalar(
        select(resolutions_t.c.id).where(resolutions_t.c.conversation_id == conversation_id, resolutions_t.c.article_id == article_id)
    )
    if exists:
        return False
    conn.execute(insert(resolutions_t).values(conversation_id=conversation_id, article_id=article_id, agent_id=agent_id, created_at=utcnow()))
    return True


# -- service desk: a known error's workaround as a published article ------------------------

KNOWN_ISSUES = {"en": "Known issues", "es": "Problemas conocidos"}
WORKAROUND = {"en": "Workaround", "es": "Solución temporal"}
STATUS_LINE = {
    "en": "We know about this problem and are working on a fix. Until then, this works:",
    "es": "Conocemos este problema y estamos trabajando en una solución. Mientras tanto, esto funciona:",
}


def publish_known_error(conn: Connection, problem_id: int, language: str = "en", title: str | None = None) -> tuple[Outcome, int]:
    """Create or update the published article that carries a problem's workaround."""
    problem = conn.execute(select(problems_t).where(problems_t.c.id == problem_id)).first()
    if problem is None:
        raise KbError(f"no problem {problem_id}", missing=True)
    workaround = (problem.workaround or "").strip()
    if not workaround:
        raise KbError(f"problem {problem_id} has no workaround to publish")
    if language not in LANGUAGES:
        raise KbError(f"language: must be one of {', '.join(LANGUAGES)}")
    key = f"known-error-{problem.number}"
    draft = ArticleDraft(
        title=title or problem.title,
        body=f"{STATUS_LINE[language]}\n\n## {WORKAROUND[language]}\n\n{workaround}\n",
        language=language,
        category=KNOWN_ISSUES[language],
        slug=f"{key}-{slugify(title or problem.title)}"[:200].strip("-"),
        status="published",
        translation_key=key,
    )
    row = conn.execute(select(articles_t.c.id, articles_t.c.slug).where(articles_t.c.translation_key == key, articles_t.c.language == language)).first()
    if row is not None:
        draft = replace(draft, slug=row.slug)  # a published URL never moves
    outcome, article_id = upsert_article(conn, draft)
    conn.execute(update(articles_t).where(articles_t.c.id == article_id).values(problem_id=problem_id))
    if outcome == "unchanged":
        return outcome, article_id
    if not problem.known_error:
        conn.execute(update(problems_t).where(problems_t.c.id == problem_id).values(known_error=True))
    return outcome, article_id


# -- reads ---------------------------------------------------------------------------------


async def get_article(session: AsyncSession, article_id: int) -> Article | None:
    return await session.get(Article, article_id)


async def get_published(session: AsyncSession, language: str, slug: str) -> Article | None:
    return await session.scalar(select(Article).where(Article.language == language, Article.slug == slug, Article.status == "published"))


async def translations(session: AsyncSession, article: Article, *, published_only: bool = True) -> dict[str, Article]:
    """The other-language versions of an article, by language."""
    if not article.translation_key:
        return {}
    query = select(Article).where(Article.translation_key == article.translation_key, Article.id != article.id)
    if published_only:
        query = query.where(Article.status == "published")
    return {a.language: a for a in (await session.scalars(query)).all()}


async def published_in(session: AsyncSession, language: str, category: str | None = None) -> list[Article]:
    query = select(Article).where(Article.language == language, Article.status == "published")
    rows = list((await session.scalars(query.order_by(Article.category, Article.title))).all())
    if category is not None:
        rows = [a for a in rows if category_slug(a.category) == category]
    return rows


async def search(session: AsyncSession, query: str, language: str, *, prefix: bool = False, published_only: bool = True, limit: int = 10) -> list[Article]:
    hits = await kb_search.search_ids(session, query, language, prefix=prefix, published_only=published_only, limit=limit)
    if not hits:
        return []
    found = {a.id: a for a in (await session.scalars(select(Article).where(Article.id.in_([h.article_id for h in hits])))).all()}
    return [found[h.article_id] for h in hits if h.article_id in found]


async def customer_text(session: AsyncSession, conversation_id: int, messages: int = 3) -> str:
    """The conversation's subject and its last few customer messages: what to search with."""
    conversation = await session.get(Conversation, conversation_id)
    rows = (
        await session.scalars(
            select(Message.text)
            .where(Message.conversation_id == conversation_id, Message.direction == "in", Message.deleted_at.is_(None))
            .order_by(Message.id.desc())
            .limit(messages)
        )
    ).all()
    parts = [conversation.subject or ""] if conversation else []
    return " ".join([*parts, *reversed(rows)])[:2000]


async def suggest_for_conversation(session: AsyncSession, conversation_id: int, language: str | None, limit: int = 5) -> list[Article]:
    """Published articles matching what the customer wrote, in their language first."""
    said = await customer_text(session, conversation_id)
    first = language if language in LANGUAGES else kb_search.guess_language(said)
    found = await search(session, said, first, limit=limit)
    if len(found) < limit:
        other = "es" if first == "en" else "en"
        found += await search(session, said, other, limit=limit - len(found))
    return found


async def solved_counts(session: AsyncSession) -> Mapping[int, int]:
    rows = await session.execute(select(ArticleResolution.article_id, func.count()).group_by(ArticleResolution.article_id))
    return {int(a): int(n) for a, n in rows.all()}


def article_json(article: Article, *, with_body: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": article.id,
        "slug": article.slug,
        "language": article.language,
        "category": article.category,
        "title": article.title,
        "status": article.status,
        "translation_key": article.translation_key,
        "problem_id": article.problem_id,
        "summary": summary(article.body),
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "updated_at": article.updated_at.isoformat(),
    }
    if with_body:
        data.update(body=article.body, html=article.html)
    return data


def public_url(base: str, article: Article) -> str:
    return f"{base.rstrip('/')}/help/{article.language}/{article.slug}"
