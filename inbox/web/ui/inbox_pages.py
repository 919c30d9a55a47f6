"""The inbox: views (mine, unassigned, team, all), filters, search, unread markers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from inbox import events
from inbox.actions.views import SLA_STATES
from inbox.auth import Principal
from inbox.queries import conversations as conv
from inbox.store.models import Channel, ConversationRead
from inbox.web import pagination
from inbox.web.errors import ApiError
from inbox.web.ui.macro_pages import bulk_context
from inbox.web.ui.routes import AgentPage, Page
from inbox.web.ui.view_tabs import view_tabs
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

VIEWS = ("mine", "unassigned", "team", "all")
PAGE = 100


@dataclass(frozen=True, slots=True)
class InboxQuery:
    view: str = "all"
    status: str = "open"
    channel: str = ""
    priority: str = ""
    tag: str = ""
    q: str = ""
    assignee: str = ""  # me | none | EMAIL (a saved view's; the built-in views set their own)
    team: str = ""
    waiting: str = ""  # minutes: the customer has waited longer than this
    sla: str = ""  # due_soon | breached
    saved: str = ""  # the saved view shown (its tab is the current one)
    cursor: str = ""  # older than this (opaque, as in the API)

    @classmethod
    def from_request(cls, request: Request) -> InboxQuery:
        return cls.from_form(request.query_params)

    @classmethod
    def from_form(cls, p: Mapping[str, Any]) -> InboxQuery:
        """The view from its query parameters (or the same names in a form)."""
        view = p.get("view", "all")
        status = p.get("status", "open")
        return cls(
            view=view if view in VIEWS else "all",
            status=status if status in (*CONVERSATION_STATUSES, "any") else "open",
            channel=p.get("channel", "")[:63],
            priority=p.get("priority", "") if p.get("priority", "") in PRIORITIES else "",
            tag=p.get("tag", "")[:64],
            q=p.get("q", "")[:200],
            assignee=p.get("assignee", "")[:254],
            team=p.get("team", "")[:100],
            waiting=p.get("waiting", "") if p.get("waiting", "").isdigit() and len(p.get("waiting", "")) <= 6 else "",
            sla=p.get("sla", "") if p.get("sla", "") in SLA_STATES else "",
            saved=p.get("saved", "") if p.get("saved", "").isdigit() and len(p.get("saved", "")) <= 18 else "",
            cursor=p.get("cursor", "")[:200],
        )

    def filters(self) -> conv.ListFilter:
        saved = self.saved_filters()
        return conv.ListFilter(
            status=saved.get("status"),
            channel=saved.get("channel"),
            assignee=saved.get("assignee"),
            team=saved.get("team"),
            q=saved.get("q"),
            priority=saved.get("priority"),
            tag=saved.get("tag"),
            waiting_minutes_over=saved.get("waiting_minutes_over"),
            sla=saved.get("sla"),
            my_teams=self.view == "team",
        )

    def saved_filters(self) -> dict[str, Any]:
        """The filters shown, as a saved view holds them (what "Save view" stores)."""
        values: dict[str, Any] = {
            "status": None if self.status == "any" else self.status,
            "channel": self.channel,
            "assignee": {"mine": "me", "unassigned": "none"}.get(self.view) or self.assignee,
            "team": self.team,
            "priority": self.priority,
            "tag": self.tag,
            "q": self.q,
            "waiting_minutes_over": int(self.waiting) if self.waiting else None,
            "sla": self.sla,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    def link(self, **changes: str) -> str:
        from urllib.parse import urlencode

        values = {
            "view": self.view,
            "status": self.status,
            "channel": self.channel,
            "priority": self.priority,
            "tag": self.tag,
            "q": self.q,
            "assignee": self.assignee,
            "team": self.team,
            "waiting": self.waiting,
            "sla": self.sla,
            "saved": self.saved,
        }
        values.update(changes)
        return "/?" + urlencode({k: v for k, v in values.items() if v})


async def unread_ids(session: AsyncSession, who: Principal, items: list[dict[str, Any]]) -> set[int]:
    """Conversations with activity after the agent last opened them."""
    ids = [c["id"] for c in items]
    if not ids:
        return set()
    query = select(ConversationRead.conversation_id, ConversationRead.read_at).where(
        ConversationRead.agent_id == who.agent_id, ConversationRead.conversation_id.in_(ids)
    )
    seen = {row.conversation_id: row.read_at for row in await session.execute(query)}
    unread = set()
    for c in items:
        read_at = seen.get(c["id"])
        if read_at is None or read_at < dt.datetime.fromisoformat(c["last_message_at"]):
            unread.add(c["id"])
    return unread


async def inbox_rows(request: Request, page: Page) -> dict[str, Any]:
    query = InboxQuery.from_request(request)
    svc = page.services
    try:
        values = pagination.decode(query.cursor or None, 2)
        after = (str(values[0]), int(values[1])) if values else None
        if after:
            dt.datetime.fromisoformat(after[0])
    except (ApiError, ValueError):
        after = None
    async with svc.db.read() as session:
        # The seq first: on PostgreSQL each statement sees the latest commits, so an event
        # read after the rows could stand for a change the rows miss — and the page's
        # live stream, starting after that seq, would never bring it.
        seq = await events.latest_seq(session)
        rows = await conv.list_conversations(session, page.agent, query.filters(), after=after, limit=PAGE)
        items = await conv.describe(session, rows)
        unread = await unread_ids(session, page.agent, items)
        channels = list(await session.scalars(select(Channel.name).order_by(Channel.name)))
        tabs = await view_tabs(session, page.agent, query.saved)
    older = pagination.encode([rows[-1].last_message_at.isoformat(), rows[-1].id]) if len(rows) == PAGE else ""
    return {"conversations": items, "unread": unread, "query": query, "channels": channels, "seq": seq, "older": older, "tabs": tabs}


router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def inbox_page(request: Request, page: AgentPage) -> Response:
    context = await inbox_rows(request, page)
    context.update(await bulk_context(page, context["query"].filters()))
    return page.render(
        "ui/inbox.html", views=VIEWS, statuses=(*CONVERSATION_STATUSES, "any"), priorities=PRIORITIES, sla_states=SLA_STATES, **context
    )


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_fragment(request: Request, page: AgentPage) -> Response:
    """The list's rows alone: what the live update swaps in."""
    return page.render("ui/_inbox_rows.html", **await inbox_rows(request, page))
