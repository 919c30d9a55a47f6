"""A conversation: timeline, reply, properties, conversion to a ticket, presence; contacts.

Every change is an action (`inbox.actions`), the same the API calls."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.files import INLINE_IMAGE_TYPES
from inbox import events
from inbox.actions import contacts as contact_actions
from inbox.actions import conversations as actions
from inbox.actions import tickets as ticket_actions
from inbox.actions.macros import fill_variables
from inbox.actions.replies import THEN_STATUSES, send_reply
from inbox.errors import Conflict, DomainError, Invalid, NotFound
from inbox.queries import contacts as contact_queries
from inbox.queries import conversations as conv
from inbox.queries import csat as csat_queries
from inbox.queries import macros as macro_queries
from inbox.queries import portal as portal_queries
from inbox.queries.macros import variables_of
from inbox.queries.visitor_context import visitor_context
from inbox.runtime.presence import PresenceBoard
from inbox.sessions import csrf_ok
from inbox.store.models import Agent, CannedResponse, Contact, Conversation, Event, Team, utcnow
from inbox.web.ids import Id, parse_id
from inbox.web.signals import typing_signal
from inbox.web.ui.routes import AgentForm, AgentPage, AnyPage, Page
from inbox.web.uploads import UnreadableForm, UploadRefused, attached_files, reply_form
from routing.vocabulary import CONVERSATION_STATUSES, LEVELS, PRIORITIES

# Shown in the timeline; message events are the messages themselves.
TIMELINE_EVENTS = (
    "conversation.created",
    "conversation.updated",
    "conversation.merged",
    "conversation.merged_here",
    "conversation.split",
    "conversation.split_here",
    "ticket.created",
    "ticket.updated",
    "sla.due_soon",
    "sla.breached",
)
SNOOZE_HOURS = {"1h": 1, "4h": 4, "1d": 24, "1w": 24 * 7}
LONG_MESSAGE = 1200  # characters: longer messages are collapsed behind "Show more"


async def timeline(session: AsyncSession, conversation_id: int) -> list[dict[str, Any]]:
    """Messages, notes and what rules and agents changed, in the order it happened."""
    messages = await conv.describe_messages(session, await conv.messages_of(session, conversation_id, after_id=None, limit=500))
    for n, m in enumerate(messages):
        m["kind"] = "message"
        m["first"] = n == 0  # nothing to split from before it
        m["long"] = len(m.get("text") or m.get("html") or "") > LONG_MESSAGE
        for a in m["attachments"]:
            a["preview"] = a["content_type"] in INLINE_IMAGE_TYPES
    changes = (
        await session.scalars(
            select(Event).where(Event.conversation_id == conversation_id, Event.type.in_(TIMELINE_EVENTS)).order_by(Event.seq).limit(500)
        )
    ).all()
    entries = [
        {
            "kind": "change",
            "type": e.type,
            "by": e.payload.get("by"),
            "changes": e.payload.get("changes") or {},
            "number": e.payload.get("number") or e.payload.get("into") or e.payload.get("from"),
            "other": e.payload.get("conversation_id") if e.type == "conversation.split" else None,
            "ticket_kind": e.payload.get("kind") if e.type == "ticket.created" else None,
            "created_at": e.created_at.isoformat(),
        }
        for e in changes
    ]
    return sorted([*messages, *entries], key=lambda item: item["created_at"])


async def conversation_context(page: Page, found: Conversation, session: AsyncSession, seq: int) -> dict[str, Any]:
    described = (await conv.describe(session, [found]))[0]
    contact = await session.get(Contact, found.contact_id)
    identities = await contact_queries.identities_of(session, found.contact_id)
    others = await contact_queries.conversations_of(session, page.agent, found.contact_id, limit=20)
    entries = await timeline(session, found.id)
    agent_id = page.agent.agent_id
    values = await session.run_sync(lambda s: variables_of(s.connection(), found.id, agent_id))
    canned = (await session.execute(select(CannedResponse.name, CannedResponse.text).order_by(CannedResponse.name))).all()
    return {
        "conversation": described,
        "timeline": entries,
        "newest_message_id": max((m["id"] for m in entries if m["kind"] == "message"), default=0),
        "contact": contact,
        "identities": identities,
        "contact_conversations": await conv.describe(session, others),
        "agents": list((await session.execute(select(Agent.email, Agent.name).where(Agent.active.is_(True)).order_by(Agent.name))).all()),
        "teams": list(await session.scalars(select(Team.name).order_by(Team.name))),
        # Filled for this conversation and agent, as macros fill them (`fill_variables`).
        "canned": [{"name": c.name, "text": fill_variables(c.text, values)} for c in canned],
        "macros": [(m.id, m.name) for m in await macro_queries.list_macros(session, page.agent.agent_id)],
        "statuses": CONVERSATION_STATUSES,
        "priorities": PRIORITIES,
        "levels": LEVELS,
        "snooze_choices": SNOOZE_HOURS,
        "ticket_notice": ticket_notice(page),
        "seq": seq,
        "visitor": await visitor_context(session, found.id, found.contact_id),
    }


def ticket_notice(page: Page) -> bool:
    """Whether converting to a ticket can tell the customer (a `ticket_status` template exists)."""
    templates = page.services.ctx.policy.templates
    return templates is not None and "ticket_status" in templates.names


def changes_from_form(form: Mapping[str, Any], current: dict[str, Any], my_email: str) -> actions.ConversationChanges:
    """Only what the form changes, so saving the panel does not log untouched fields."""

    def field(name: str, now: Any) -> str | None:
        if name not in form:
            return None
        value = str(form[name]).strip()
        return None if value == (now or "") else value

    status = field("status", current["status"])
    if form.get("resnooze") and current["status"] == "snoozed" and str(form.get("status", "")) == "snoozed":
        status = "snoozed"  # the "Snoozed until" box changes the wake-up time
    typed = str(form.get("snooze_until", "")).strip()
    if typed and status in (None, "snoozed"):
        status = "snoozed"  # a wake-up time typed is a snooze, whatever the status box says
    until = None
    if status == "snoozed":
        until = snooze_time(typed, str(form.get("tz", ""))) if typed else None
        until = until or utcnow() + dt.timedelta(hours=SNOOZE_HOURS.get(str(form.get("snooze", "")), 4))
    assignee = str(form["assignee"]).strip() if "assignee" in form else None
    if assignee == "me":
        assignee = my_email
    if assignee is not None and assignee == (current["assignee"] or ""):
        assignee = None
    tags = None
    if "tags" in form:
        wanted = sorted({t.strip() for t in str(form["tags"]).split(",") if t.strip()})
        tags = wanted if wanted != sorted(current["tags"]) else None
    return actions.ConversationChanges(
        status=status,
        assignee=assignee,
        team=field("team", current["team"]),
        priority=field("priority", current["priority"]),
        tags=tags,
        snoozed_until=until,
    )


def snooze_time(local: str, zone: str) -> dt.datetime:
    """ "Snooze until": a datetime-local value read in the browser's time zone (the IANA name
    the page sends; UTC without one, as when the page's script did not run). The action
    then refuses a time that has passed."""
    try:
        naive = dt.datetime.fromisoformat(local[:32])
    except ValueError:
        raise Invalid("the wake-up time is not a date and time", code="snooze_until_bad") from None
    if naive.tzinfo is not None:
        raise Invalid("the wake-up time is not a local date and time", code="snooze_until_bad")
    try:
        tz: dt.tzinfo = ZoneInfo(zone.strip()[:64]) if zone.strip() else dt.UTC
    except (ValueError, ZoneInfoNotFoundError):
        tz = dt.UTC
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def scheduled_time(local: str, offset_minutes: str) -> dt.datetime | None:
    """The reply box's "Schedule…" time: a datetime-local value in the agent's browser time
    zone, with the browser's `getTimezoneOffset()` (minutes to add to reach UTC)."""
    if not local.strip():
        return None
    try:
        naive = dt.datetime.fromisoformat(local.strip())
        offset = int(offset_minutes.strip() or "0")
    except ValueError:
        raise Invalid("the scheduled time is not a date and time", code="send_at") from None
    if naive.tzinfo is not None or not -16 * 60 <= offset <= 16 * 60:
        raise Invalid("the scheduled time is not a local date and time", code="send_at")
    return (naive + dt.timedelta(minutes=offset)).replace(tzinfo=dt.UTC)


def _back(conversation_id: int, error: str = "") -> RedirectResponse:
    return RedirectResponse(f"/conversations/{conversation_id}" + (f"?error={error}" if error else ""), status_code=303)


def not_found(page: Page) -> HTMLResponse:
    return page.render("ui/error.html", 404, message=page.t("not_found"))


def refused(page: Page, exc: DomainError) -> HTMLResponse:
    """An action's refusal; "not found" in the agent's language, whatever was not found."""
    return not_found(page) if isinstance(exc, NotFound) else page.refuse(exc)


def presence_board(request: Request) -> PresenceBoard:
    """This app's board of who is on which conversation (made by `routes.install`)."""
    board: PresenceBoard = request.app.state.presence
    return board


Board = Annotated[PresenceBoard, Depends(presence_board)]
router = APIRouter(include_in_schema=False)


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(request: Request, page: AgentPage, conversation_id: Id) -> Response:
    svc = page.services
    async with svc.db.read() as session:
        # The seq before anything shown (see inbox_rows): later changes reach the live page.
        seq = await events.latest_seq(session)
        found = await conv.get_visible(session, page.agent, conversation_id)
        if found is None:
            return not_found(page)
        context = await conversation_context(page, found, session, seq)
        ticket = context["conversation"]["ticket"]
        if ticket is not None:  # a request type's answers and approval (templates/ui/_request_fields.html)
            context["req"], context["labels"] = await session.run_sync(portal_queries.request_of_ticket, ticket["id"])
        context["csat"] = await session.run_sync(csat_queries.of_conversation, conversation_id)
    await actions.mark_read(svc.ctx, page.actor, conversation_id)
    error = request.query_params.get("error", "")
    chosen = request.query_params.get("snooze", "")
    return page.render(
        "ui/conversation.html", error=page.t(error) if error else "", snooze_chosen=chosen if chosen in SNOOZE_HOURS else "4h", **context
    )


async def moved_page(page: Page, conversation_id: int, fields: Mapping[str, str]) -> Response:
    """The collision guard refused the reply: the page again, showing the new message(s),
    the typed text kept, and a "Send anyway" button (the same form without the guard)."""
    async with page.services.db.read() as session:
        seq = await events.latest_seq(session)
        found = await conv.get_visible(session, page.agent, conversation_id)
        if found is None:
            return not_found(page)
        context = await conversation_context(page, found, session, seq)
    seen = parse_id(fields.get("after_message_id", "")) or 0
    return page.render(
        "ui/conversation.html",
        409,
        error="",
        moved=True,
        moved_after=seen,
        kept={"text": fields.get("text", ""), "private": bool(fields.get("private") == "1"), "then": fields.get("then", "")},
        snooze_chosen="4h",
        **context,
    )


async def snooze_refused_page(page: Page, conversation_id: int, error: str, typed: str) -> Response:
    """A wake-up time the action refused (past, or not a time): the conversation again (422),
    with the message under the field and what was typed still in it."""
    async with page.services.db.read() as session:
        seq = await events.latest_seq(session)
        found = await conv.get_visible(session, page.agent, conversation_id)
        if found is None:
            return not_found(page)
        context = await conversation_context(page, found, session, seq)
    return page.render("ui/conversation.html", 422, error="", snooze_error=error, snooze_typed=typed, snooze_chosen="4h", **context)


@router.get("/conversations/{conversation_id}/timeline", response_class=HTMLResponse)
async def timeline_fragment(page: AgentPage, conversation_id: Id) -> Response:
    svc = page.services
    async with svc.db.read() as session:
        if await conv.get_visible(session, page.agent, conversation_id) is None:
            return not_found(page)
        entries = await timeline(session, conversation_id)
    await actions.mark_read(svc.ctx, page.actor, conversation_id)
    return page.render("ui/_timeline.html", timeline=entries)


@router.post("/conversations/{conversation_id}/reply")
async def conversation_reply(request: Request, page: AgentPage, board: Board, conversation_id: Id) -> Response:
    """A reply or note in Markdown, with files; the form is multipart, so its CSRF field is
    read here (with the form's own limits) rather than by `AgentForm`."""
    try:
        fields, form = await reply_form(request)
    except UnreadableForm:
        return HTMLResponse("unreadable form", status_code=400)
    if not csrf_ok(page.session, fields.get("csrf", "")):
        return page.render("ui/error.html", 403, message=page.t("csrf"))
    try:
        files = await attached_files(form)
    except UploadRefused:
        return _back(conversation_id, "files_refused")
    text = fields.get("text", "")
    anyway = fields.get("anyway", "")
    then = anyway if anyway in THEN_STATUSES else fields.get("then", "")
    private = fields.get("private") == "1"
    # "Send anyway" drops the guard; a note never collides with anything.
    guard = None if anyway or private else parse_id(fields.get("after_message_id", ""))
    if text.strip() or files:
        try:
            send_at = scheduled_time(fields.get("send_at", ""), fields.get("tz_offset", ""))
            await send_reply(
                page.services.ctx,
                page.actor,
                conversation_id,
                text,
                private=private,
                attachments=files,
                send_at=send_at,
                after_message_id=guard,
                then_status=then if then in THEN_STATUSES else None,
            )
        except Conflict as exc:
            if exc.code == "conversation_moved":
                return await moved_page(page, conversation_id, fields)
            return refused(page, exc)
        except DomainError as exc:
            return refused(page, exc)
    board.report(conversation_id, page.agent.agent_id, page.agent.name, typing=False)
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/update")
async def conversation_update(request: Request, page: AgentForm, conversation_id: Id) -> Response:
    form = await request.form()
    svc = page.services
    async with svc.db.read() as session:
        found = await conv.get_visible(session, page.agent, conversation_id)
        if found is None:
            return not_found(page)
        current = (await conv.describe(session, [found]))[0]
    try:
        await actions.update_conversation(svc.ctx, page.actor, conversation_id, changes_from_form(form, current, page.agent.email))
    except Invalid as exc:
        if exc.code.startswith("snooze_until"):  # the page again, the typed time kept, the error beside it
            return await snooze_refused_page(page, conversation_id, page.message_of(exc), str(form.get("snooze_until", ""))[:32])
        return refused(page, exc)
    except DomainError as exc:
        return refused(page, exc)
    after = str(form.get("next", ""))
    if after.startswith("/?") or after == "/":  # back to the inbox view the agent was on
        return RedirectResponse(after, status_code=303)
    snooze = str(form.get("snooze", ""))
    if str(form.get("status", "")) == "snoozed" and snooze in SNOOZE_HOURS:  # the duration chosen stays chosen
        return RedirectResponse(f"/conversations/{conversation_id}?snooze={snooze}", status_code=303)
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/ticket")
async def conversation_convert(
    page: AgentForm,
    conversation_id: Id,
    kind: Annotated[str, Form()] = "request",
    impact: Annotated[str, Form()] = "medium",
    urgency: Annotated[str, Form()] = "medium",
    notify: Annotated[str, Form()] = "",
) -> Response:
    """Open a request or an incident; the customer is told only when "Notify the customer"
    is ticked. The agent stays on the conversation."""
    try:
        await ticket_actions.open_ticket(
            page.services.ctx, page.actor, conversation_id, kind, impact=impact or None, urgency=urgency or None, notify=notify == "1"
        )
    except DomainError as exc:
        return refused(page, exc)
    return _back(conversation_id)


@router.post("/conversations/{conversation_id}/presence")
async def presence(request: Request, page: AnyPage, board: Board, conversation_id: Id) -> Response:
    """A browser says "I am here" (or typing); the answer lists the others."""
    if page.who is None:
        return JSONResponse({"error": "sign in"}, status_code=401)
    if not csrf_ok(page.session, request.headers.get("x-csrf-token")):
        return JSONResponse({"error": "csrf"}, status_code=403)
    svc = page.services
    async with svc.db.read() as session:
        if await conv.get_visible(session, page.who, conversation_id) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
    state = request.query_params.get("state", "viewing")
    if state not in ("viewing", "typing", "gone"):
        state = "viewing"
    if board.following is None:
        board.following = board.follow(svc.bus.on_signal)
    # Recorded here at once, and on every other node through the bus.
    if state == "gone":
        board.leave(conversation_id, page.who.agent_id)
    else:
        board.report(conversation_id, page.who.agent_id, page.who.name, typing=state == "typing")
    await svc.bus.signal(
        {"kind": "presence", "conversation_id": conversation_id, "agent_id": page.who.agent_id, "author": page.who.name, "state": state}
    )
    if state == "typing":  # the widget visitor (and API stream clients) see it too
        await typing_signal(svc, page.who, conversation_id)
    others = board.others(conversation_id, page.who.agent_id)
    return JSONResponse({"others": [{"name": p.name, "typing": p.typing} for p in others]})


# The contact's page and its edit form are in people_pages.py.


@router.post("/contacts/{contact_id}/merge")
async def contact_merge(page: AgentForm, contact_id: Id, other: Annotated[str, Form()] = "") -> Response:
    other_id = parse_id(other)
    if other_id is None:
        return RedirectResponse(f"/contacts/{contact_id}?error=merge_failed", status_code=303)
    try:
        await contact_actions.merge_contacts(page.services.ctx, page.actor, contact_id, other_id)
    except NotFound:
        return not_found(page)
    except DomainError:
        return RedirectResponse(f"/contacts/{contact_id}?error=merge_failed", status_code=303)
    return RedirectResponse(f"/contacts/{contact_id}", status_code=303)
