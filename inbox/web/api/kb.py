"""Knowledge base over REST: articles for agents, public search for the widget and the
help center, suggestions and "solved by article" on conversations, known-error articles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from inbox.actions import kb as kb_actions
from inbox.actions.runner import Actor
from inbox.pipeline.articles import MAX_BODY, MAX_TITLE, ArticleDraft, summary
from inbox.queries import conversations as conv
from inbox.queries import kb
from inbox.runtime.services import Services
from inbox.store.models import Contact
from inbox.web import pagination
from inbox.web.api.deps import Admin, Id, Svc, Who
from inbox.web.errors import ApiError, not_found
from inbox.web.ratelimit import RateLimiter
from routing.vocabulary import ArticleStatus, Language

router = APIRouter(prefix="/api/v1", tags=["knowledge base"])

SEARCHES_PER_MINUTE = 60


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(default="", max_length=MAX_BODY)
    language: Language = "en"
    category: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(default=None, max_length=255)
    status: ArticleStatus = "draft"
    translation_key: str | None = Field(default=None, max_length=255)


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(default=None, max_length=MAX_BODY)
    language: Language | None = None
    category: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(default=None, max_length=255)
    status: ArticleStatus | None = None
    translation_key: str | None = Field(default=None, max_length=255)


class SolvedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article_id: int = Field(ge=1, le=2**63 - 1)


class KnownErrorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Language = "en"
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)


async def _article(svc: Services, article_id: int) -> dict[str, Any]:
    async with svc.db.read() as session:
        article = await kb.get_article(session, article_id)
        if article is None:
            raise not_found("article")
        data = kb.article_json(article)
        data["url"] = kb.public_url(svc.config.server.public_url, article)
        data["translations"] = {lang: a.id for lang, a in (await kb.translations(session, article, published_only=False)).items()}
        return data


# -- articles (agents and admins) ------------------------------------------------------------


@router.get("/kb/articles")
async def list_articles(
    svc: Svc,
    who: Who,
    status: ArticleStatus | None = None,
    language: Language | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    async with svc.db.read() as session:
        if q:
            found = await kb.search_for_agents(session, q, language=language, status=status, limit=limit)
            return {"items": [kb.article_json(a, with_body=False) for a in found], "next_cursor": None}
        after = pagination.decode(cursor, 1)
        rows = await kb.newest(session, status=status, language=language, before_id=int(after[0]) if after else None, limit=limit)
    return pagination.page([kb.article_json(a, with_body=False) for a in rows], limit, [rows[-1].id] if rows else None)


@router.post("/kb/articles", status_code=201)
async def create_article(svc: Svc, who: Who, body: ArticleIn) -> dict[str, Any]:
    saved = await kb_actions.create_article(svc.ctx, Actor.of(who), ArticleDraft(**body.model_dump()))
    return await _article(svc, saved.article_id)


@router.get("/kb/articles/{article_id}")
async def get_article(svc: Svc, who: Who, article_id: Id) -> dict[str, Any]:
    return await _article(svc, article_id)


@router.patch("/kb/articles/{article_id}")
async def patch_article(svc: Svc, who: Who, article_id: Id, body: ArticlePatch) -> dict[str, Any]:
    # null clears the optional fields; on the others it means "leave as is".
    await kb_actions.update_article(svc.ctx, Actor.of(who), article_id, body.model_dump(exclude_unset=True))
    return await _article(svc, article_id)


@router.delete("/kb/articles/{article_id}", status_code=204)
async def delete_article(svc: Svc, who: Admin, article_id: Id) -> None:
    await kb_actions.delete_article(svc.ctx, Actor.of(who), article_id)


@router.get("/kb/report")
async def report(svc: Svc, who: Who) -> dict[str, Any]:
    """How many conversations each article solved, most first."""
    async with svc.db.read() as session:
        report = await kb.solved_report(session)
    return {"items": [{**kb.article_json(a, with_body=False), "solved": n} for a, n in report], "next_cursor": None}


# -- public search (widget, help center, anyone) ---------------------------------------------


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "kb_search_limiter", None)
    if limiter is None:
        limiter = request.app.state.kb_search_limiter = RateLimiter(SEARCHES_PER_MINUTE, 60.0)
    return limiter


@router.get("/kb/search")
async def public_search(
    request: Request,
    response: Response,
    svc: Svc,
    q: Annotated[str, Query(max_length=200)] = "",
    lang: Language = "en",
    prefix: bool = False,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> dict[str, Any]:
    """Published articles only; no sign-in; rate-limited per client address."""
    client = request.client.host if request.client else "?"
    limiter = _limiter(request)
    if not limiter.allow(f"ip:{client}"):
        raise ApiError(
            429,
            f"more than {limiter.limit} searches a minute; slow down",
            headers={"Retry-After": "60", "Access-Control-Allow-Origin": "*"},
        )
    # Public, read-only and without credentials, so any site's page may call it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=60"
    async with svc.db.read() as session:
        found = await kb.search(session, q, lang, prefix=prefix, limit=limit)
    base = svc.config.server.public_url
    return {
        "items": [
            {"title": a.title, "summary": summary(a.body), "category": a.category, "language": a.language, "url": kb.public_url(base, a)}
            for a in found
        ],
        "next_cursor": None,
    }


# -- conversations ---------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}/suggested-articles")
async def suggested_articles(svc: Svc, who: Who, conversation_id: Id, limit: Annotated[int, Query(ge=1, le=10)] = 5) -> dict[str, Any]:
    """Published articles matching the conversation's last customer messages."""
    async with svc.db.read() as session:
        found = await conv.get_visible(session, who, conversation_id)
        if found is None:
            raise not_found("conversation")
        contact_language = await session.scalar(select(Contact.language).where(Contact.id == found.contact_id))
        articles = await kb.suggest_for_conversation(session, conversation_id, (contact_language or "")[:2] or None, limit)
    base = svc.config.server.public_url
    return {"items": [{**kb.article_json(a, with_body=False), "url": kb.public_url(base, a)} for a in articles], "next_cursor": None}


@router.post("/conversations/{conversation_id}/solved-by")
async def solved_by(svc: Svc, who: Who, conversation_id: Id, body: SolvedIn, response: Response) -> dict[str, Any]:
    """Record that an article solved this conversation (201 the first time, then 200)."""
    created = await kb_actions.record_resolution(svc.ctx, Actor.of(who), conversation_id, body.article_id)
    response.status_code = 201 if created else 200
    return {"conversation_id": conversation_id, "article_id": body.article_id, "recorded": created}


@router.get("/conversations/{conversation_id}/solved-by")
async def solved_by_list(svc: Svc, who: Who, conversation_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("conversation")
        rows = await kb.solved(session, conversation_id)
    return {"items": [kb.article_json(a, with_body=False) for a in rows], "next_cursor": None}


# -- service desk ------------------------------------------------------------------------------


@router.post("/problems/{problem_id}/article")
async def publish_known_error(svc: Svc, who: Who, problem_id: Id, body: KnownErrorIn, response: Response) -> dict[str, Any]:
    """Publish (or update) the problem's known-error workaround as an article."""
    saved = await kb_actions.publish_known_error(svc.ctx, Actor.of(who), problem_id, body.language, body.title)
    response.status_code = 201 if saved.outcome == "created" else 200
    return await _article(svc, saved.article_id)
