"""Merge a conversation into another (pick, preview, confirm), split one at a message,
cancel a scheduled reply: the same actions the API calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.actions import merges
from inbox.actions.replies import cancel_scheduled, resend_message
from inbox.errors import DomainError
from inbox.queries import conversations as conv
from inbox.store.models import Channel, Conversation, Message
from inbox.web.ids import Id, parse_id
from inbox.web.ui.conversation_pages import not_found, refused
from inbox.web.ui.routes import AgentForm, AgentPage

router = APIRouter(include_in_schema=False)
CANDIDATES = 20


async def _summary(session: AsyncSession, found: Conversation) -> dict[str, Any]:
    count = await session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == found.id))
    channels = list(
        await session.scalars(
            select(Channel.name).join(Message, Message.channel_id == Channel.id).where(Message.conversation_id == found.id).distinct()
        )
    )
    return {"id": found.id, "subject": found.subject, "messages": count or 0, "channels": sorted(channels), "status": found.status}


@router.get("/conversations/{conversation_id}/merge", response_class=HTMLResponse)
async def merge_page(request: Request, page: AgentPage, conversation_id: Id) -> Response:
    """Pick a target (by number or subject), then a preview of both before confirming."""
    q = request.query_params.get("q", "").strip()[:200]
    into = parse_id(request.query_params.get("into", ""))
    number = parse_id(q)
    async with page.services.db.read() as session:
        source = await conv.get_visible(session, page.agent, conversation_id)
        if source is None:
            return not_found(page)
        visible = await conv.visibility(session, page.agent)
        candidates: list[dict[str, Any]] = []
        if q:
            match = Conversation.subject.ilike(f"%{q.replace('%', '').replace('_', '')}%")
            query = select(Conversation).where(
                visible,
                Conversation.id != source.id,
                Conversation.merged_into_id.is_(None),
                or_(match, Conversation.id == number) if number is not None else match,
            )
            rows = (await session.scalars(query.order_by(Conversation.id.desc()).limit(CANDIDATES))).all()
            candidates = [await _summary(session, c) for c in rows]
        target = None
        if into is not None and into != source.id:
            found = await conv.get_visible(session, page.agent, into)
            target = await _summary(session, found) if found is not None else None
        preview_source = await _summary(session, source)
    return page.render("ui/merge.html", source=preview_source, q=q, candidates=candidates, target=target, searched=bool(q))


@router.post("/conversations/{conversation_id}/merge")
async def merge_confirm(page: AgentForm, conversation_id: Id, into: Annotated[str, Form()] = "") -> Response:
    target = parse_id(into)
    if target is None:
        return RedirectResponse(f"/conversations/{conversation_id}/merge", status_code=303)
    try:
        done = await merges.merge_conversation(page.services.ctx, page.actor, conversation_id, target)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/conversations/{done.into}", status_code=303)


@router.post("/messages/{message_id}/split")
async def split_here(page: AgentForm, message_id: Id) -> Response:
    try:
        done = await merges.split_conversation(page.services.ctx, page.actor, message_id)
    except DomainError as exc:
        return refused(page, exc)
    return RedirectResponse(f"/conversations/{done.conversation_id}", status_code=303)


@router.post("/messages/{message_id}/cancel")
async def cancel_message(page: AgentForm, message_id: Id, back: Annotated[str, Form()] = "") -> Response:
    try:
        await cancel_scheduled(page.services.ctx, page.actor, message_id)
    except DomainError as exc:
        return refused(page, exc)
    return _back(back)


def _back(back: str, anchor: str = "") -> RedirectResponse:
    """To the conversation the form was posted from (its id in `back`), else the inbox."""
    back_to = parse_id(back)
    return RedirectResponse(f"/conversations/{back_to}{anchor}" if back_to is not None else "/", status_code=303)


@router.post("/messages/{message_id}/resend")
async def resend(page: AgentForm, message_id: Id, back: Annotated[str, Form()] = "") -> Response:
    try:
        await resend_message(page.services.ctx, page.actor, message_id)
    except DomainError as exc:
        return refused(page, exc)
    return _back(back, f"#m{message_id}")
