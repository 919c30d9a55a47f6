"""Reading the knowledge base: articles for agents, the public's published ones, search,
suggestions for a conversation, what each article solved, and the JSON shape of one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.pipeline.articles import category_slug, summary
from inbox.store import kb_search
from inbox.store.models import Article, ArticleResolution, Conversation, Message
from routing.vocabulary import LANGUAGES


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


async def newest(
    session: AsyncSession, *, status: str | None = None, language: str | None = None, before_id: int | None = None, limit: int = 50
) -> list[Article]:
    """Articles newest first (the API's pages)."""
    query = select(Article)
    if status:
        query = query.where(Article.status == status)
    if language:
        query = query.where(Article.language == language)
    if before_id:
        query = query.where(Article.id < before_id)
    return list((await session.scalars(query.order_by(Article.id.desc()).limit(limit))).all())


async def by_category(session: AsyncSession, *, status: str | None = None, language: str | None = None, limit: int = 500) -> list[Article]:
    """Articles by category and title (the agents' list)."""
    query = select(Article)
    if status:
        query = query.where(Article.status == status)
    if language:
        query = query.where(Article.language == language)
    return list((await session.scalars(query.order_by(Article.category, Article.title, Article.language).limit(limit))).all())


async def search(
    session: AsyncSession, query: str, language: str, *, prefix: bool = False, published_only: bool = True, limit: int = 10
) -> list[Article]:
    hits = await kb_search.search_ids(session, query, language, prefix=prefix, published_only=published_only, limit=limit)
    if not hits:
        return []
    found = {a.id: a for a in (await session.scalars(select(Article).where(Article.id.in_([h.article_id for h in hits])))).all()}
    return [found[h.article_id] for h in hits if h.article_id in found]


async def search_for_agents(session: AsyncSession, query: str, *, language: str | None, status: str | None, limit: int) -> list[Article]:
    """Drafts too, in one language or both."""
    found: list[Article] = []
    for lang in [language] if language else LANGUAGES:
        found += await search(session, query, lang, published_only=False, limit=limit)
    if status:
        found = [a for a in found if a.status == status]
    return found[:limit]


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


async def solved_report(session: AsyncSession) -> list[tuple[Article, int]]:
    """How many conversations each article solved, most first."""
    counts = await solved_counts(session)
    rows = (await session.scalars(select(Article).where(Article.id.in_(list(counts))))).all() if counts else []
    return sorted(((a, counts[a.id]) for a in rows), key=lambda pair: (-pair[1], pair[0].id))


async def solved(session: AsyncSession, conversation_id: int) -> list[Article]:
    """The articles recorded as having solved a conversation."""
    query = (
        select(Article)
        .join(ArticleResolution, ArticleResolution.article_id == Article.id)
        .where(ArticleResolution.conversation_id == conversation_id)
    )
    return list((await session.scalars(query)).all())


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
