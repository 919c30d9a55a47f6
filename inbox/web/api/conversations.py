"""Conversations and their messages."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from channels.base import OutboundAttachment
from inbox.actions import conversations as actions
from inbox.actions.bulk import MAX_IDS, BulkChange, bulk_change
from inbox.actions.replies import MAX_TEXT, send_reply
from inbox.actions.runner import Actor
from inbox.actions.views import MAX_WAIT
from inbox.queries import conversations as conv
from inbox.queries import csat as csat_queries
from inbox.queries.views import find_view, list_filter_of
from inbox.web import pagination
from inbox.web.api.deps import BodyId, Id, Svc, Who
from inbox.web.errors import ApiError, not_found
from inbox.web.signals import typing_signal
from inbox.web.uploads import (
    MAX_FILES,
    UnreadableForm,
    UploadRefused,
    attached_files,
    reply_form,
)
from routing.vocabulary import ConversationStatus, Priority

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"])

Limit = Annotated[int, Query(ge=1, le=200)]


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="Markdown (no raw HTML)")
    private: bool = False
    send_at: dt.datetime | None = Field(
        default=None, description="ISO-8601 with a time zone, in the future, at most a year ahead: the reply is scheduled"
    )
    after_message_id: BodyId | None = Field(
        default=None, description="the newest message seen: 409 conversation_moved (nothing sent) if a newer public message exists"
    )
    status: Literal["resolved", "pending"] | None = Field(default=None, description="then set this status, in the same transaction")


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus | None = Field(default=None, description="null leaves it as it is")
    assignee: str | None = Field(default=None, description='agent email; null or "" unassigns')
    team: str | None = Field(default=None, description='team name; null or "" clears')
    priority: Priority | Literal[""] | None = Field(default=None, description='null or "" clears')
    tags: list[str] | None = None
    snoozed_until: dt.datetime | None = None


class BulkChangesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus | None = None
    snoozed_until: dt.datetime | None = Field(default=None, description='with status "snoozed"')
    assignee: str | None = Field(default=None, description='agent email; "" unassigns')
    team: str | None = Field(default=None, description='team name; "" clears')
    priority: Priority | Literal[""] | None = Field(default=None, description='"" clears')
    add_tags: list[str] = Field(default_factory=list, max_length=50)
    remove_tags: list[str] = Field(default_factory=list, max_length=50)


class BulkFiltersIn(BaseModel):
    """A list's filters, as `GET /conversations` takes them: every conversation they show."""

    model_config = ConfigDict(extra="forbid")
    status: ConversationStatus | None = None
    channel: str | None = None
    assignee: str | None = None
    team: str | None = None
    q: str | None = Field(default=None, max_length=200)
    priority: str | None = None
    tag: str | None = None


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[BodyId] | None = Field(default=None, min_length=1, max_length=MAX_IDS)
    filters: BulkFiltersIn | None = Field(default=None, description="instead of ids: what the list with these filters shows")
    changes: BulkChangesIn | None = None
    macro: BodyId | None = None


@router.post("/bulk")
async def bulk(svc: Svc, who: Who, body: BulkIn, idempotency_key: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The same changes and/or a macro on many conversations (at most 10,000): `{"updated":
    N, "errors": [{"id", "error"}]}`. With an `Idempotency-Key` header a retry returns the
    stored result and changes (and sends) nothing again."""
    if (body.ids is None) == (body.filters is None):
        raise ApiError(422, "give ids or filters (not both)")
    ids = body.ids
    if body.filters is not None:
        f = body.filters
        async with svc.db.read() as session:
            ids = await conv.ids_matching(
                session, who, conv.ListFilter(f.status, f.channel, f.assignee, f.team, f.q, f.priority, f.tag), limit=MAX_IDS + 1
            )
        if len(ids) > MAX_IDS:
            raise ApiError(422, f"these filters show more than {MAX_IDS} conversations: narrow them")
        if not ids:
            return {"updated": 0, "errors": []}
    changes = None
    if body.changes is not None:
        c, fields = body.changes, body.changes.model_fields_set
        changes = actions.ConversationChanges(
            status=c.status,
            snoozed_until=c.snoozed_until,
            assignee=(c.assignee or "") if "assignee" in fields else None,
            team=(c.team or "") if "team" in fields else None,
            priority=(c.priority or "") if "priority" in fields else None,
            add_tags=tuple(c.add_tags),
            remove_tags=tuple(c.remove_tags),
        )
    assert ids is not None
    request = BulkChange(tuple(ids), changes, body.macro)
    return await bulk_change(svc.ctx, Actor.of(who), request, idempotency_key=idempotency_key)


@router.get("")
async def list_conversations(
    svc: Svc,
    who: Who,
    status: ConversationStatus | None = None,
    channel: str | None = None,
    assignee: str | None = None,
    team: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    priority: str | None = None,
    tag: str | None = None,
    waiting_minutes_over: Annotated[int | None, Query(ge=0, le=MAX_WAIT)] = None,
    sla: Literal["due_soon", "breached"] | None = None,
    view: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="a saved view's filters; other parameters given win")] = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    after_values = pagination.decode(cursor, 2)
    after = (str(after_values[0]), int(after_values[1])) if after_values else None
    given = {
        "status": status,
        "channel": channel,
        "assignee": assignee,
        "team": team,
        "q": q,
        "priority": priority,
        "tag": tag,
        "waiting_minutes_over": waiting_minutes_over,
        "sla": sla,
    }

    def read(session: Session) -> tuple[list[Any], list[dict[str, Any]]]:
        saved = find_view(session, who, view) if view is not None else None
        if view is not None and saved is None:
            raise not_found("view")
        filters = list_filter_of(saved.filters if saved else {}, **given)
        rows = conv.list_rows(session, who, filters, after=after, limit=limit)
        return rows, conv.conversation_shapes(session, rows)

    rows, items = await svc.db.query(read)  # the whole page in one hop
    last = rows[-1] if rows else None
    return pagination.page(items, limit, [last.last_message_at.isoformat(), last.id] if last else None)


@router.get("/{conversation_id}")
async def get_conversation(svc: Svc, who: Who, conversation_id: Id) -> dict[str, Any]:

    def read(session: Session) -> dict[str, Any]:
        found = conv.find_visible(session, who, conversation_id)
        if found is None:
            raise not_found("conversation")
        described = conv.conversation_shapes(session, [found])[0]
        described["csat"] = csat_queries.of_conversation(session, conversation_id)
        return described

    return await svc.db.query(read)


@router.patch("/{conversation_id}")
async def patch_conversation(svc: Svc, who: Who, conversation_id: Id, body: ConversationPatch) -> dict[str, Any]:
    fields = body.model_fields_set
    changes = actions.ConversationChanges(
        status=body.status,
        assignee=(body.assignee or "") if "assignee" in fields else None,
        team=(body.team or "") if "team" in fields else None,
        priority=(body.priority or "") if "priority" in fields else None,
        tags=body.tags,
        snoozed_until=body.snoozed_until,
    )
    await actions.update_conversation(svc.ctx, Actor.of(who), conversation_id, changes)
    async with svc.db.read() as session:
        refreshed = await conv.get_visible(session, who, conversation_id)
        assert refreshed is not None
        return (await conv.describe(session, [refreshed]))[0]


@router.get("/{conversation_id}/messages")
async def list_messages(svc: Svc, who: Who, conversation_id: Id, cursor: str | None = None, limit: Limit = 100) -> dict[str, Any]:
    after = pagination.decode(cursor, 1)

    def read(session: Session) -> tuple[list[Any], list[dict[str, Any]]]:
        if not conv.is_visible(session.connection(), who, conversation_id):
            raise not_found("conversation")
        rows = conv.message_rows(session, conversation_id, after_id=int(after[0]) if after else None, limit=limit)
        return rows, conv.message_shapes(session, rows)

    rows, items = await svc.db.query(read)
    return pagination.page(items, limit, [rows[-1].id] if rows else None)


_REPLY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ReplyIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                        "private": {"type": "boolean", "default": False},
                        "send_at": {"type": "string", "format": "date-time"},
                        "after_message_id": {"type": "integer", "minimum": 1},
                        "status": {"type": "string", "enum": ["resolved", "pending"]},
                        "file": {"type": "array", "maxItems": MAX_FILES, "items": {"type": "string", "format": "binary"}},
                    },
                }
            },
        },
    }
}


async def _reply_in(request: Request) -> tuple[ReplyIn, tuple[OutboundAttachment, ...]]:
    """The reply: a JSON body, or a multipart form whose `file` parts are attached."""
    try:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return ReplyIn.model_validate_json(await request.body()), ()
        fields, form = await reply_form(request)
        files = await attached_files(form)
        private = fields.pop("private", "false").strip().lower() in ("1", "true", "on", "yes")
        return ReplyIn.model_validate({**fields, "private": private}), files
    except UnreadableForm as exc:
        raise ApiError(400, f"unreadable multipart form: {exc}") from None
    except UploadRefused as exc:
        raise ApiError(422, str(exc)) from None
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


@router.post("/{conversation_id}/messages", status_code=201, openapi_extra=_REPLY_BODY)
async def post_message(request: Request, svc: Svc, who: Who, conversation_id: Id) -> dict[str, Any]:
    """Reply. JSON `{"text", "private"}`, or multipart/form-data with `text`, `private`
    and up to ten `file` parts, which go out with the reply on its channel. The text is
    Markdown: the stored `html` is its rendering, sanitised (as for a reply from the UI).
    With `send_at` the reply is scheduled (`delivery: "scheduled"`) and sent at that time.
    With `after_message_id` a newer public message refuses it (409 `conversation_moved`);
    with `status` ("resolved" or "pending") the conversation then takes that status."""
    body, files = await _reply_in(request)
    message_id = await send_reply(
        svc.ctx,
        Actor.of(who),
        conversation_id,
        body.text,
        private=body.private,
        attachments=files,
        send_at=body.send_at,
        after_message_id=body.after_message_id,
        then_status=body.status,
    )

    shape = await svc.db.query_core(lambda conn: conv.message_shape(conn, message_id, with_files=bool(files)))
    assert shape is not None
    return shape


@router.post("/{conversation_id}/typing", status_code=204)
async def post_typing(svc: Svc, who: Who, conversation_id: Id) -> Response:
    """Say "I am typing" (repeat every few seconds while typing): shown to the other
    agents on the conversation and, on a widget conversation, to the visitor."""
    async with svc.db.read() as session:
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("conversation")
    await typing_signal(svc, who, conversation_id)
    return Response(status_code=204)
