"""A conversation: timeline, reply, properties, conversion to a ticket, presence; contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from channels.files import INLINE_IMAGE_TYPES
from inbox import conversations as conv
from inbox import events
from inbox.auth import Principal
from inbox.contacts import MergeError, merge_contacts
from inbox.markdown import render_markdown
from inbox.pipeline.replies import Reply, send_reply
from inbox.pipeline.tickets import LEVELS, open_ticket
from inbox.runtime.presence import PresenceBoard
from inbox.sessions import csrf_ok
from inbox.store.models import (
    Agent,
    CannedResponse,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationRead,
    Event,
    Team,
    utcnow,
)
from inbox.web.api.events import typing_signal
from inbox.web.api.tickets import change
from inbox.web.errors import ApiError
from inbox.web.ui.routes import Page, posted, services_of, signed_in
from inbox.web.uploads import UnreadableForm, UploadRefused, attached_files, reply_form

# Shown in the timeline; message events are the messages themselves.
TIMELINE_EVENTS = ("conversation.created", "conversation.updated", "ticket.created", "ticket.updated", "sla.due_soon", "sla.breached")
SNOOZE_HOURS = {"1h": 1, "4h": 4, "1d": 24, "1w": 24 * 7}


async def mark_read(session: AsyncSession, who: Principal, conversation_id: int) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = utcnow()
    await session.execute(
        dialect.insert(ConversationRead)
        .values(agent_id=who.agent_id, conversation_id=conversation_id, read_at=now)
        .on_conflict_do_update(index_elements=["agent_id", "conversation_id"], set_={"read_at": now})
    )


async def timeline(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """Messages, notes and what rules and agents changed, in the order it happened."""
    messages = await conv.describe_messages(session, await conv.messages_of(session, conversation_id, after_id=None, limit=500))
    for m in messages:
        m["kind"] = "message"
        for a in m["attachments"]:
            a["preview"] = a["content_type"] in INLINE_IMAGE_TYPES
    changes = (
        await session.scalars(
            select(Event)
            .where(Event.conversation_id == conversation_id, Event.type.in_(TIMELINE_EVENTS))
            .order_by(Event.seq)
            .limit(500)
        )
    ).all()
    entries = [
        {
            "kind": "change",
            "type": e.type,
            "by": e.payload.get("by"),
            "changes": e.payload.get("changes") or {},
            "number": e.payload.get("number"),
            "created_at": e.created_at.isoformat(),
        }
        for e in changes
    ]
    return sorted([*messages, *entries], key=lambda item: item["created_at"])


async def conversation_context(request: Request, page: Page, found: Conversation, session: AsyncSession) -> dict[str, Any]:
    assert page.who is not None
    # The seq before anything shown (see inbox_rows): later changes reach the live page.
    seq = await events.latest_seq(session)
    await session.refresh(found)
    described = (await conv.describe(session, [found]))[0]
    contact = await session.get(Contact, found.contact_id)
    identities = (
        await session.execute(
            select(ContactIdentity.address, ContactIdentity.username, Channel.name, Channel.type)
            .join(Channel, Channel.id == ContactIdentity.channel_id)
            .where(ContactIdentity.contact_id == found.contact_id)
            .order_by(ContactIdentity.id)
        )
    ).all()
    visible = await conv.visibility(session, page.who)
    others = (
        await session.scalars(
            select(Conversation).where(Conversation.contact_id == found.contact_id, visible).order_by(Conversation.last_message_at.desc()).limit(20)
        )
    ).all()
    return {
        "conversation": described,
        "timeline": await timeline(session, found.id),
        "contact": contact,
        "identities": identities,
        "contact_conversations": await conv.describe(session, others),
        "agents": list((await session.execute(select(Agent.email, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name))).all()),
        "teams": list(await session.scalars(select(Team.name).order_by(Team.name))),
        "canned": list((await session.execute(select(CannedResponse.name, CannedResponse.text).order_by(CannedResponse.name))).all()),
        "statuses": conv.STATUSES,
        "priorities": conv.PRIORITIES,
        "levels": LEVELS,
        "snooze_choices": SNOOZE_HOURS,
        "seq": seq,
    }


def changes_from_form(form: Mapping[str, Any], current: dict[str, Any], my_email: str) -> conv.ConversationChanges:
    """Only what the form changes, so saving the panel does not log untouched fields."""

    def field(name: str, now: Any) -> str | None:
        if name not in form:
            return None
        value = str(form[name]).strip()
        return None if value == (now or "") else value

    status = field("status", current["status"])
    until = None
    if status == "snoozed":
        until = utcnow() + dt.timedelta(hours=SNOOZE_HOURS.get(str(form.get("snooze", "")), 4))
    assignee = str(form["assignee"]).strip() if "assignee" in form else None
    if assignee == "me":
        assignee = my_email
    if assignee is not None and assignee == (current["assignee"] or ""):
        assignee = None
    tags = None
    if "tags" in form:
        wanted = sorted({t.strip() for t in str(form["tags"]).split(",") if t.strip()})
        tags = wanted if wanted != sorted(current["tags"]) else None
    return conv.ConversationChanges(
        status=status, assignee=assignee, team=field("team", current["team"]), priority=field("priority", current["priority"]), tags=tags, snoozed_until=until
    )


async def likely_duplicates(session: AsyncSession, who: Principal, contact: Contact) -> list[Contact]:
    """Other unmerged contacts with the same name or email that the agent may see."""
    same = []
    if contact.email:
        same.append(Contact.email == contact.email)
    if contact.name:
        same.append(Contact.name == contact.name)
    if not same:
        return []
    query = select(Contact).where(or_(*same), Contact.id != contact.id, Contact.merged_into_id.is_(None))
    if not who.is_admin:
        visible = await conv.visibility(session, who)
        query = query.where(Contact.id.in_(select(Conversation.contact_id).where(visible)))
    return list((await session.scalars(query.order_by(Contact.id).limit(10))).all())


def _back(conversation_id: int, error: str = "") -> RedirectResponse:
    return RedirectResponse(f"/conversations/{conversation_id}" + (f"?error={error}" if error else ""), status_code=303)


def install(app: FastAPI) -> None:
    board = PresenceBoard()

    @app.get("/conversations/{conversation_id}", response_class=HTMLResponse, include_in_schema=False)
    async def conversation_page(request: Request, conversation_id: int) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.transaction() as session:
            found = await conv.get_visible(session, page.who, conversation_id)
            if found is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            context = await conversation_context(request, page, found, session)
            await mark_read(session, page.who, conversation_id)
        error = request.query_params.get("error", "")
        return page.render("ui/conversation.html", error=page.t(error) if error else "", **context)

    @app.get("/conversations/{conversation_id}/timeline", response_class=HTMLResponse, include_in_schema=False)
    async def timeline_fragment(request: Request, conversation_id: int) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.transaction() as session:
            found = await conv.get_visible(session, page.who, conversation_id)
            if found is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            entries = await timeline(session, conversation_id)
            await mark_read(session, page.who, conversation_id)
        return page.render("ui/_timeline.html", timeline=entries)

    @app.post("/conversations/{conversation_id}/reply", include_in_schema=False)
    async def conversation_reply(request: Request, conversation_id: int) -> Response:
        try:
            fields, form = await reply_form(request)
        except UnreadableForm:
            return HTMLResponse("unreadable form", status_code=400)
        page = await posted(request, fields.get("csrf", ""))
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        text = fields.get("text", "").strip()
        if text:
            async with svc.db.read() as session:
                found = await conv.get_visible(session, page.who, conversation_id)
            if found is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            try:
                files = await attached_files(form)
            except UploadRefused:
                return _back(conversation_id, "files_refused")
            private = bool(fields.get("private"))
            reply = Reply(text=text, html=render_markdown(text), private=private, agent_id=page.who.agent_id, attachments=files)
            await send_reply(svc.db, svc.bus, found.id, reply)
        board.report(conversation_id, page.who.agent_id, page.who.name, typing=False)
        return _back(conversation_id)

    @app.post("/conversations/{conversation_id}/update", include_in_schema=False)
    async def conversation_update(request: Request, conversation_id: int) -> Response:
        form = await request.form()
        page = await posted(request, str(form.get("csrf", "")))
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.transaction() as session:
            found = await conv.get_visible(session, page.who, conversation_id)
            if found is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            current = (await conv.describe(session, [found]))[0]
            try:
                changes = changes_from_form(form, current, page.who.email)
                await conv.apply_changes(session, svc.bus, found, changes, actor=page.who.email)
            except conv.ConversationError as exc:
                return page.render("ui/error.html", 422, message=str(exc))
        after = str(form.get("next", ""))
        if after.startswith("/?") or after == "/":  # back to the inbox view the agent was on
            return RedirectResponse(after, status_code=303)
        return _back(conversation_id)

    @app.post("/conversations/{conversation_id}/ticket", include_in_schema=False)
    async def conversation_convert(
        request: Request,
        conversation_id: int,
        csrf: str = Form(""),
        kind: str = Form("request"),
        impact: str = Form("medium"),
        urgency: str = Form("medium"),
    ) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        svc = services_of(request)
        async with svc.db.read() as session:
            if await conv.get_visible(session, page.who, conversation_id) is None:
                return page.render("ui/error.html", 404, message=page.t("not_found"))
        try:
            ticket_id = await change(
                svc, lambda conn, feed: open_ticket(conn, conversation_id, kind, svc.policy, feed, impact=impact, urgency=urgency)
            )
        except ApiError as exc:
            return page.render("ui/error.html", exc.status, message=exc.message)
        return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)

    @app.post("/conversations/{conversation_id}/presence", include_in_schema=False)
    async def presence(request: Request, conversation_id: int) -> Response:
        """A browser says "I am here" (or typing); the answer lists the others."""
        page = await signed_in(request)
        if not isinstance(page, Page) or page.who is None:
            return JSONResponse({"error": "sign in"}, status_code=401)
        if not csrf_ok(page.session, request.headers.get("x-csrf-token")):
            return JSONResponse({"error": "csrf"}, status_code=403)
        async with services_of(request).db.read() as session:
            if await conv.get_visible(session, page.who, conversation_id) is None:
                return JSONResponse({"error": "not found"}, status_code=404)
        state = request.query_params.get("state", "viewing")
        if state not in ("viewing", "typing", "gone"):
            state = "viewing"
        svc = services_of(request)
        if board.following is None:
            board.following = board.follow(svc.bus.on_signal)
        # Recorded here at once, and on every other node through the bus.
        if state == "gone":
            board.leave(conversation_id, page.who.agent_id)
        else:
            board.report(conversation_id, page.who.agent_id, page.who.name, typing=state == "typing")
        await svc.bus.signal({"kind": "presence", "conversation_id": conversation_id, "agent_id": page.who.agent_id, "author": page.who.name, "state": state})
        if state == "typing":  # the widget visitor (and API stream clients) see it too
            await typing_signal(svc, page.who, conversation_id)
        others = board.others(conversation_id, page.who.agent_id)
        return JSONResponse({"others": [{"name": p.name, "typing": p.typing} for p in others]})

    @app.get("/contacts/{contact_id}", response_class=HTMLResponse, include_in_schema=False)
    async def contact_page(request: Request, contact_id: int) -> Response:
        page = await signed_in(request)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        async with services_of(request).db.read() as session:
            contact = await session.get(Contact, contact_id)
            visible = await conv.visibility(session, page.who)
            rows = (
                await session.scalars(select(Conversation).where(Conversation.contact_id == contact_id, visible).order_by(Conversation.last_message_at.desc()))
            ).all()
            if contact is None or (not rows and not page.who.is_admin):
                return page.render("ui/error.html", 404, message=page.t("not_found"))
            identities = (
                await session.execute(
                    select(ContactIdentity.address, ContactIdentity.username, Channel.name, Channel.type)
                    .join(Channel, Channel.id == ContactIdentity.channel_id)
                    .where(ContactIdentity.contact_id == contact_id)
                )
            ).all()
            described = await conv.describe(session, rows)
            duplicates = await likely_duplicates(session, page.who, contact)
        error = request.query_params.get("error", "")
        return page.render(
            "ui/contact.html",
            contact=contact,
            identities=identities,
            conversations=described,
            duplicates=duplicates,
            error=page.t(error) if error else "",
        )

    @app.post("/contacts/{contact_id}/merge", include_in_schema=False)
    async def contact_merge(request: Request, contact_id: int, csrf: str = Form(""), other: str = Form("")) -> Response:
        page = await posted(request, csrf)
        if not isinstance(page, Page):
            return page
        assert page.who is not None
        if not other.strip().isdigit():
            return RedirectResponse(f"/contacts/{contact_id}?error=merge_failed", status_code=303)
        other_id = int(other.strip())
        async with services_of(request).db.transaction() as session:
            # An agent merges only contacts they can see a conversation of (admins: any).
            if not page.who.is_admin:
                visible = await conv.visibility(session, page.who)
                for cid in (contact_id, other_id):
                    if await session.scalar(select(Conversation.id).where(Conversation.contact_id == cid, visible).limit(1)) is None:
                        return page.render("ui/error.html", 404, message=page.t("not_found"))
            try:
                await merge_contacts(session, contact_id, other_id, agent_id=page.who.agent_id)
            except MergeError:
                return RedirectResponse(f"/contacts/{contact_id}?error=merge_failed", status_code=303)
        return RedirectResponse(f"/contacts/{contact_id}", status_code=303)
