"""Knowledge-base writes: create, update (publishing is an update of the status), delete
and upsert articles, record that an article solved a conversation, and publish a
problem's known-error workaround. Every surface (API, UI, CLI import) calls these.

Audit entries: `article.create` {title, status}; `article.update` {changed, title,
status} only when something changed; `article.delete` {title}; `article.publish_known_error`
{problem_id, language, outcome}; `resolution.record` {article_id} on the conversation.
"""

from __future__ import annotations

from collections.abc import Mapping

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import NotFound
from inbox.pipeline import articles
from inbox.pipeline.articles import ArticleDraft, Saved
from inbox.queries.conversations import find_visible
from inbox.store.models import Conversation


def _audit_saved(tx: Tx, saved: Saved) -> None:
    target = f"article:{saved.article_id}"
    if saved.outcome == "created":
        tx.audit("article.create", target, {"title": saved.draft.title, "status": saved.draft.status})
    elif saved.outcome == "updated":
        tx.audit("article.update", target, {"changed": list(saved.changed), "title": saved.draft.title, "status": saved.draft.status})


async def create_article(ctx: Context, actor: Actor, draft: ArticleDraft) -> Saved:
    def work(tx: Tx) -> Saved:
        saved = articles.create_article(tx.conn, draft)
        _audit_saved(tx, saved)
        return saved

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_article(ctx: Context, actor: Actor, article_id: int, changes: Mapping[str, str | None]) -> Saved:
    """Change some fields (None clears category, slug or translation key; elsewhere it
    leaves the field as it is). Publishing and unpublishing are `{"status": ...}`."""

    def work(tx: Tx) -> Saved:
        draft = articles.edited(articles.stored_draft(tx.conn, article_id), changes)
        saved = articles.update_article(tx.conn, article_id, draft)
        _audit_saved(tx, saved)
        return saved

    return await perform(ctx.db, ctx.bus, actor, work)


async def set_article_status(ctx: Context, actor: Actor, article_id: int, status: str) -> Saved:
    return await update_article(ctx, actor, article_id, {"status": status})


async def upsert_article(ctx: Context, actor: Actor, draft: ArticleDraft) -> Saved:
    """Create or update the article with the draft's translation key (else slug) and
    language: the import's step, idempotent (the same draft twice changes nothing)."""

    def work(tx: Tx) -> Saved:
        saved = articles.upsert_article(tx.conn, draft)
        _audit_saved(tx, saved)
        return saved

    return await perform(ctx.db, ctx.bus, actor, work)


async def delete_article(ctx: Context, actor: Actor, article_id: int) -> None:
    def work(tx: Tx) -> None:
        gone = articles.delete_article(tx.conn, article_id)
        tx.audit("article.delete", f"article:{article_id}", {"title": gone.title})

    await perform(ctx.db, ctx.bus, actor, work)


async def record_resolution(ctx: Context, actor: Actor, conversation_id: int, article_id: int) -> bool:
    """Note that an article solved a conversation the actor can see; False when it was
    already noted (then nothing is written)."""

    def work(tx: Tx) -> bool:
        if actor.principal is not None:
            visible = find_visible(tx.session, actor.principal, conversation_id)
        else:
            visible = tx.session.get(Conversation, conversation_id)
        if visible is None:
            raise NotFound.of("conversation")
        created = articles.record_resolution(tx.conn, conversation_id, article_id, actor.agent_id)
        if created:
            tx.audit("resolution.record", f"conversation:{conversation_id}", {"article_id": article_id})
        return created

    return await perform(ctx.db, ctx.bus, actor, work)


async def publish_known_error(ctx: Context, actor: Actor, problem_id: int, language: str = "en", title: str | None = None) -> Saved:
    """Create or update the published article with a problem's workaround."""

    def work(tx: Tx) -> Saved:
        saved = articles.publish_known_error(tx.conn, problem_id, language, title)
        if saved.outcome != "unchanged":
            details = {"problem_id": problem_id, "language": saved.draft.language, "outcome": saved.outcome}
            tx.audit("article.publish_known_error", f"article:{saved.article_id}", details)
        return saved

    return await perform(ctx.db, ctx.bus, actor, work)
