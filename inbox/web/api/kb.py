"""Knowledge base over REST: articles for agents, public search for the widget and the
help center, suggestions and "solved by article" on conversations, known-error articles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, insert, select

from inbox import kb
from inbox.queries import conversations as conv
from inbox.runtime.services import Services
from inbox.store.models import Article, ArticleResolution, AuditEntry, Contact, utcnow
from inbox.web import pagination
from inbox.web.api.deps import Admin, Id, Svc, Who
from inbox.web.errors import ApiError, not_found
from inbox.web.ratelimit import RateLimiter

router = APIRouter(prefix="/api/v1", tags=["knowledge base"])

Language = Literal["en", "es"]
Status = Literal["draft", "published"]
T = TypeVar("T")
SEARCHES_PER_MINUTE = 60


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=998)
    body: str = Field(default="", max_length=kb.MAX_BODY)
    language: Language = "en"
    category: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(default=None, max_length=255)
    status: Status = "draft"
    translation_key: str | None = Field(default=None, max_length=255)


class ArticlePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=998)
    body: str | None = Field(default=None, max_length=kb.MAX_BODY)
    language: Language | None = None
    category: str | None = Field(default=None, max_length=255)
    slug: str | None = Field(default=None, max_length=255)
    status: Status | None = None
    translation_key: str | None = Field(default=None, max_length=255)


class SolvedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article_id: int = Field(ge=1, le=2**63 - 1)


class KnownErrorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: Language = "en"
    title: str | None = Field(default=None, min_length=1, max_length=998)


async def write(svc: Services, work: Callable[[Connection], T]) -> T:
    """One write transaction; the store's KbError becomes 404 / 409 / 422."""
    try:
        return await svc.db.run(work)
    except kb.KbError as exc:
        raise ApiError(404 if exc.missing else 409 if exc.conflict else 422, str(exc)) from None


def audited(agent_id: int, action: str, target: str, details: dict[str, Any]) -> Callable[[Connection], None]:
    def add(conn: Connection) -> None:
        conn.execute(insert(AuditEntry).values(agent_id=agent_id, action=action, target=target, details=details, created_at=utcnow()))

    return add


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
    status: Status | None = None,
    language: Language | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    async with svc.db.read() as session:
        if q:
            found = []
            for lang in [language] if language else ["en", "es"]:
                found += await kb.search(session, q, lang, published_only=False, limit=limit)
            if status:
                found = [a for a in found if a.status == status]
            return {"items": [kb.article_json(a, with_body=False) for a in found[:limit]], "next_cursor": None}
        after = pagination.decode(cursor, 1)
        query = select(Article)
        if status:
            query = query.where(Article.status == status)
        if language:
            query = query.where(Article.language == language)
        if after:
            query = query.where(Article.id < int(after[0]))
        rows = list((await session.scalars(query.order_by(Article.id.desc()).limit(limit))).all())
    return pagination.page([kb.article_json(a, with_body=False) for a in rows], limit, [rows[-1].id] if rows else None)


@router.post("/kb/articles", status_code=201)
async def create_article(svc: Svc, who: Who, body: ArticleIn) -> dict[str, Any]:
    draft = kb.ArticleDraft(**body.model_dump())

    def work(conn: Connection) -> int:
        article_id = kb.save_article(conn, draft)
        audited(who.agent_id, "article.create", f"article:{article_id}", {"title": draft.title, "status": draft.status})(conn)
        return article_id

    return await _article(svc, await write(svc, work))


@router.get("/kb/articles/{article_id}")
async def get_article(svc: Svc, who: Who, article_id: Id) -> dict[str, Any]:
    return await _article(svc, article_id)


@router.patch("/kb/articles/{article_id}")
async def patch_article(svc: Svc, who: Who, article_id: Id, body: ArticlePatch) -> dict[str, Any]:
    # null clears the optional fields; on the others it means "leave as is".
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None or k in ("category", "slug", "translation_key")}
    async with svc.db.read() as session:
        current = await kb.get_article(session, article_id)
        if current is None:
            raise not_found("article")
        draft = kb.ArticleDraft(
            title=current.title, body=current.body, language=current.language, category=current.category,
            slug=current.slug, status=current.status, translation_key=current.translation_key,
        )  # fmt: skip
    draft = replace(draft, **changes)

    def work(conn: Connection) -> None:
        kb.save_article(conn, draft, article_id)
        audited(who.agent_id, "article.update", f"article:{article_id}", {k: v for k, v in changes.items() if k != "body"})(conn)

    await write(svc, work)
    return await _article(svc, article_id)


@router.delete("/kb/articles/{article_id}", status_code=204)
async def delete_article(svc: Svc, who: Admin, article_id: Id) -> None:
    def work(conn: Connection) -> None:
        kb.delete_article(conn, article_id)
        audited(who.agent_id, "article.delete", f"article:{article_id}", {})(conn)

    await write(svc, work)


@router.get("/kb/report")
async def report(svc: Svc, who: Who) -> dict[str, Any]:
    """How many conversations each article solved, most first."""
    async with svc.db.read() as session:
        counts = await kb.solved_counts(session)
        rows = (await session.scalars(select(Article).where(Article.id.in_(list(counts))))).all() if counts else []
    items = [{**kb.article_json(a, with_body=False), "solved": counts[a.id]} for a in rows]
    items.sort(key=lambda item: (-item["solved"], item["id"]))
    return {"items": items, "next_cursor": None}


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
        raise ApiError(429, f"more than {limiter.limit} searches a minute; slow down", headers={"Retry-After": "60", "Access-Control-Allow-Origin": "*"})
    # Public, read-only and without credentials, so any site's page may call it.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "public, max-age=60"
    async with svc.db.read() as session:
        found = await kb.search(session, q, lang, prefix=prefix, limit=limit)
    base = svc.config.server.public_url
    return {
        "items": [
            {"title": a.title, "summary": kb.summary(a.body), "category": a.category, "language": a.language, "url": kb.public_url(base, a)}
            for a in found
        ],
        "next_cursor": None,
    }


# -- conversations ---------------------------------------------------------------------------


@router.get("/conversations/{conversation_id}/suggested-articles")
async def suggested_articles(
    svc: Svc, who: Who, conversation_id: Id, limit: Annotated[int, Query(ge=1, le=10)] = 5
) -> dict[str, Any]:
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
    async with svc.db.read() as session:
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("conversation")
    created = await write(svc, lambda conn: kb.record_resolution(conn, conversation_id, body.article_id, who.agent_id))
    response.status_code = 201 if created else 200
    return {"conversation_id": conversation_id, "article_id": body.article_id, "recorded": created}


@router.get("/conversations/{conversation_id}/solved-by")
async def solved_by_list(svc: Svc, who: Who, conversation_id: Id) -> dict[str, Any]:
    async with svc.db.read() as session:
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("conversation")
        rows = (
            await session.scalars(
                select(Article).join(ArticleResolution, ArticleResolution.article_id == Article.id).where(ArticleResolution.conversation_id == conversation_id)
            )
        ).all()
    return {"items": [kb.article_json(a, with_body=False) for a in rows], "next_cursor": None}


# -- service desk ------------------------------------------------------------------------------


@router.post("/problems/{problem_id}/article")
async def publish_known_error(svc: Svc, who: Who, problem_id: Id, body: KnownErrorIn, response: Response) -> dict[str, Any]:
    """Publish (or update) the problem's known-error workaround as an article."""

    def work(conn: Connection) -> tuple[kb.Outcome, int]:
        outcome, article_id = kb.publish_known_error(conn, problem_id, body.language, body.title)
        audited(who.agent_id, "article.known_error", f"article:{article_id}", {"problem_id": problem_id, "outcome": outcome})(conn)
        return outcome, article_id

    outcome, article_id = await write(svc, work)
    response.status_code = 201 if outcome == "created" else 200
    return await _article(svc, article_id)
