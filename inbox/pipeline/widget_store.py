"""The widget gateway's view of the store: a visitor's transcript by event seq.

A scheduled reply is stored (and its `message.created` written) when the agent sends it,
but the visitor sees it only when the outbox releases it: its `message.updated` event
marked `scheduled` is the one that shows it, at its own seq."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from inbox.pipeline.request_types import spec_of
from inbox.store.db import Database
from inbox.store.models import Agent, Attachment, Blob, Channel, Conversation, CsatSurvey, Event, Message, OutboxItem, RequestType, utcnow
from inbox.store.sign_ins import ever_signed_in
from routing import csat as csat_text
from routing.request_types import RequestTypeSpec
from widget.csat import SurveyOffer
from widget.gateway import FileRef, StoredFile, TranscriptItem
from widget.requests import ALL


class WidgetTranscripts:
    """Implements widget.gateway.WidgetStore (and widget.csat.SurveyStore, widget.requests.RequestCatalogue) over the database."""

    def __init__(self, db: Database, csat_url: Callable[[int, dt.datetime], tuple[str, str]] | None = None) -> None:
        self.db = db
        self.csat_url = csat_url  # a survey's signed token (None: no surveys in the widget)

    # -- request forms (widget/requests.py) --------------------------------------------------

    async def request_types(self, names: Sequence[str]) -> list[RequestTypeSpec]:
        """The catalogue's types a widget channel offers (`["*"]`: all), by name; unknown names are left out."""
        every = ALL in names

        def read(session: Session) -> list[RequestTypeSpec]:
            query = select(RequestType).order_by(RequestType.name, RequestType.id)
            if not every:
                query = query.where(RequestType.name.in_(list(names)))
            return [spec_of(row) for row in session.scalars(query)]

        return await self.db.query(read)

    # -- satisfaction surveys (widget/csat.py) ---------------------------------------------

    def _offer(self, survey: CsatSurvey) -> SurveyOffer | None:
        if self.csat_url is None:
            return None
        token, _ = self.csat_url(survey.id, survey.expires_at)
        language = survey.language if survey.language in csat_text.QUESTION else "en"
        return SurveyOffer(token, csat_text.QUESTION[language], csat_text.LABELS[language])

    async def open_survey(self, channel: str, thread_key: str) -> SurveyOffer | None:
        now = utcnow()
        survey = await self.db.query(
            lambda session: session.scalar(
                select(CsatSurvey)
                .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
                .join(Channel, Channel.id == CsatSurvey.channel_id)
                .where(
                    Channel.name == channel,
                    Conversation.thread_key == thread_key,
                    CsatSurvey.rated_at.is_(None),
                    CsatSurvey.expires_at > now,
                    # asked: its question went out (until then it may still be withdrawn)
                    select(OutboxItem.id).where(OutboxItem.survey_id == CsatSurvey.id, OutboxItem.status == "sent").exists(),
                )
                .order_by(CsatSurvey.id.desc())
                .limit(1)
            )
        )
        return self._offer(survey) if survey is not None else None

    async def surveys_since(self, after: int) -> tuple[int, list[tuple[str, str, SurveyOffer]]]:
        def read(session: Session) -> tuple[int, list[tuple[str, str, CsatSurvey]]]:
            rows = session.execute(
                select(Event.seq, CsatSurvey, Channel.name, Conversation.thread_key)
                .join(CsatSurvey, CsatSurvey.conversation_id == Event.conversation_id)
                .join(Conversation, Conversation.id == CsatSurvey.conversation_id)
                .join(Channel, Channel.id == CsatSurvey.channel_id)
                .where(Event.seq > after, Event.type == "csat.requested", Channel.type == "widget")
                .order_by(Event.seq)
                .limit(100)
            ).all()
            newest = max([after, *(r[0] for r in rows)])
            return newest, [(name, key or "", survey) for _, survey, name, key in rows]

        newest, rows = await self.db.query(read)
        offers = [(name, key, offer) for name, key, survey in rows if (offer := self._offer(survey)) is not None]
        return newest, offers

    async def transcript(self, channel: str, thread_key: str, after: int, limit: int = 200) -> list[TranscriptItem]:
        return await self.db.query(lambda session: _transcript(session, channel, thread_key, after, limit))

    async def since(self, after: int, limit: int = 500) -> tuple[int, list[tuple[str, str, TranscriptItem]]]:
        """Every widget message after `after`, with its channel and thread key, in one read."""
        return await self.db.query(lambda session: _since(session, after, limit))

    async def file(self, attachment_id: int) -> StoredFile | None:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Channel.name, Attachment.filename, Attachment.content_type, Blob.data, Message.private)
                    .join(Message, Message.id == Attachment.message_id)
                    .join(Channel, Channel.id == Message.channel_id)
                    .join(Blob, Blob.sha256 == Attachment.sha256)
                    .where(Attachment.id == attachment_id)
                )
            ).first()
        if row is None or row.private:
            return None
        return StoredFile(channel=row.name, name=row.filename, content_type=row.content_type, data=row.data or b"")

    async def latest_seq(self) -> int:
        return await self.db.query(lambda session: int(session.scalar(select(func.max(Event.seq))) or 0))

    async def agents_online(self) -> bool:
        online = (
            select(func.count())
            .select_from(Agent)
            .where(Agent.active.is_(True), Agent.availability == "online", ever_signed_in(Agent.id, Agent.password_hash))
        )
        return await self.db.query(lambda session: bool(session.scalar(online)))


def _shown_events() -> ColumnElement[bool]:
    released = and_(Event.type == "message.updated", Event.payload["scheduled"].as_boolean().is_(True))
    return or_(Event.type == "message.created", released)


def _shows(event_type: str, payload: dict[str, Any], message: Message) -> bool:
    """Whether this event is the one that shows this message to the visitor."""
    if message.private:
        return False
    if message.send_at is None:
        return event_type == "message.created"
    return event_type == "message.updated" and bool(payload.get("scheduled")) and message.delivery == "sent"


def _transcript(session: Session, channel: str, thread_key: str, after: int, limit: int) -> list[TranscriptItem]:
    conversations = (
        select(Conversation.id)
        .join(Channel, Channel.id == Conversation.channel_id)
        .where(Channel.name == channel, Conversation.thread_key == thread_key)
    )
    rows = session.execute(
        select(Event.seq, Event.type, Event.payload)
        .where(Event.seq > after, _shown_events(), Event.conversation_id.in_(conversations))
        .order_by(Event.seq)
        .limit(limit)
    ).all()
    ids = [int(r.payload["message_id"]) for r in rows if not r.payload.get("private")]
    if not ids:
        return []
    messages = {
        m.id: (m, name)
        for m, name in session.execute(
            select(Message, Agent.name).outerjoin(Agent, Agent.id == Message.agent_id).where(Message.id.in_(ids))
        ).all()
    }
    files = _files_of(session, ids)
    items = []
    for row in rows:
        found = messages.get(int(row.payload["message_id"]))
        if found is None:
            continue
        message, agent_name = found
        if not _shows(row.type, row.payload, message):
            continue
        items.append(_item(row.seq, message, agent_name, files))
    return items


def _since(session: Session, after: int, limit: int) -> tuple[int, list[tuple[str, str, TranscriptItem]]]:
    events = session.execute(select(Event.seq, Event.type, Event.payload).where(Event.seq > after).order_by(Event.seq).limit(limit)).all()
    if not events:
        return after, []
    newest = events[-1].seq
    wanted: dict[int, tuple[int, str, dict[str, Any]]] = {}
    for e in events:
        if "message_id" not in e.payload or e.payload.get("private"):
            continue
        if e.type == "message.created" or (e.type == "message.updated" and e.payload.get("scheduled")):
            wanted[int(e.payload["message_id"])] = (e.seq, e.type, e.payload)
    if not wanted:
        return newest, []
    rows = session.execute(
        select(Message, Agent.name, Channel.name, Conversation.thread_key)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Channel, Channel.id == Message.channel_id)
        .outerjoin(Agent, Agent.id == Message.agent_id)
        .where(Message.id.in_(wanted), Channel.type == "widget", Message.private.is_(False))
    ).all()
    rows = [r for r in rows if _shows(wanted[r[0].id][1], wanted[r[0].id][2], r[0])]
    files = _files_of(session, [r[0].id for r in rows])
    out = [
        (channel, thread_key, _item(wanted[message.id][0], message, agent_name, files))
        for message, agent_name, channel, thread_key in rows
        if thread_key is not None
    ]
    out.sort(key=lambda entry: entry[2].seq)
    return newest, out


def _item(seq: int, message: Message, agent_name: str | None, files: dict[int, list[FileRef]]) -> TranscriptItem:
    return TranscriptItem(
        seq=seq,
        message_id=message.id,
        direction=message.direction,
        text=message.text,
        author=agent_name if message.direction == "out" else None,
        created_at=message.created_at.isoformat(),
        client_id=message.meta.get("client_id") if message.direction == "in" else None,
        files=tuple(files.get(message.id, ())),
        conversation_id=message.conversation_id,
    )


def _files_of(session: Session, message_ids: list[int]) -> dict[int, list[FileRef]]:
    if not message_ids:
        return {}
    rows = session.execute(
        select(Attachment.id, Attachment.message_id, Attachment.filename, Attachment.content_type, Attachment.size)
        .where(Attachment.message_id.in_(message_ids), Attachment.inline.is_(False))
        .order_by(Attachment.id)
    ).all()
    out: dict[int, list[FileRef]] = defaultdict(list)
    for r in rows:
        out[r.message_id].append(FileRef(r.id, r.filename, r.content_type, r.size))
    return out
