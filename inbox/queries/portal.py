"""What the customer portal reads: one person's own conversations, tickets and files.

A person is a contact together with every contact merged into it (followed through
`merged_into`): what any of their identities wrote, on any channel, is theirs. Everything
here is scoped to that set; an id outside it is not found, exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from inbox.pipeline.request_types import spec_of
from inbox.store.models import (
    Attachment,
    Blob,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    RequestType,
    Ticket,
    TicketRequest,
)
from routing.request_types import RequestTypeSpec

MAX_HOPS = 20
MAX_CONTACTS = 500


def person_of(session: Session, contact_id: int) -> tuple[int, list[int]] | None:
    """(the contact at the end of the merge chain, every contact that is that person), or
    None when the contact does not exist."""
    final = contact_id
    for _ in range(MAX_HOPS):
        row = session.execute(select(Contact.id, Contact.merged_into_id).where(Contact.id == final)).first()
        if row is None:
            return None
        if row.merged_into_id is None:
            break
        final = row.merged_into_id
    people = {final}
    frontier = {final}
    for _ in range(MAX_HOPS):
        found = set(session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(frontier)))) - people
        if not found or len(people) >= MAX_CONTACTS:
            break
        people |= found
        frontier = found
    return final, sorted(people)


def public(query: Any) -> Any:
    """Only what the customer may read: no private note, nothing deleted, scheduled or cancelled."""
    return query.where(
        Message.private.is_(False),
        Message.deleted_at.is_(None),
        or_(Message.direction == "in", Message.delivery.in_(("sent", "queued", "failed"))),
    )


def own_conversation(session: Session, contacts: Sequence[int], conversation_id: int) -> Conversation | None:
    """The conversation if it is the person's and not merged away (its messages live on in the target)."""
    return session.scalar(
        select(Conversation).where(
            Conversation.id == conversation_id, Conversation.contact_id.in_(contacts), Conversation.merged_into_id.is_(None)
        )
    )


@dataclass(frozen=True, slots=True)
class Row:
    conversation: Conversation
    ticket: Ticket | None
    channel: str
    request_type: str | None


def conversations_of(session: Session, contacts: Sequence[int], limit: int = 200) -> list[Row]:
    rows = session.execute(
        select(Conversation, Ticket, Channel.name, TicketRequest.request_type)
        .join(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(Ticket, Ticket.conversation_id == Conversation.id)
        .outerjoin(TicketRequest, TicketRequest.ticket_id == Ticket.id)
        .where(Conversation.contact_id.in_(contacts), Conversation.merged_into_id.is_(None))
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    ).all()
    return [Row(c, t, name, rt) for c, t, name, rt in rows]


def thread(session: Session, conversation_id: int) -> list[dict[str, Any]]:
    """The conversation's public messages, oldest first, with their files."""
    messages = list(session.scalars(public(select(Message).where(Message.conversation_id == conversation_id)).order_by(Message.id)))
    ids = [m.id for m in messages]
    files: dict[int, list[Attachment]] = {}
    if ids:
        for a in session.scalars(
            select(Attachment).where(Attachment.message_id.in_(ids), Attachment.inline.is_(False)).order_by(Attachment.id)
        ):
            files.setdefault(a.message_id, []).append(a)
    return [
        {
            "id": m.id,
            "from_customer": m.direction == "in",
            "text": m.text,
            "html": m.html,
            "created_at": m.created_at,
            "files": files.get(m.id, []),
        }
        for m in messages
    ]


def ticket_of(session: Session, conversation_id: int) -> tuple[Ticket | None, TicketRequest | None]:
    ticket = session.scalar(select(Ticket).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id).limit(1))
    request = session.get(TicketRequest, ticket.id) if ticket is not None else None
    return ticket, request


def conversation_of_ticket(session: Session, contacts: Sequence[int], number: int) -> int | None:
    return session.scalar(
        select(Conversation.id)
        .join(Ticket, Ticket.conversation_id == Conversation.id)
        .where(Ticket.number == number, Conversation.contact_id.in_(contacts), Conversation.merged_into_id.is_(None))
    )


def attachment_of(session: Session, contacts: Sequence[int], attachment_id: int) -> tuple[Attachment, bytes] | None:
    """A file of one of the person's public messages (with its bytes), or None."""
    row = session.execute(
        public(
            select(Attachment, Blob.data)
            .join(Blob, Blob.sha256 == Attachment.sha256)
            .join(Message, Message.id == Attachment.message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Attachment.id == attachment_id, Conversation.contact_id.in_(contacts), Conversation.merged_into_id.is_(None))
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def contact_by_email(session: Session, email: str) -> int | None:
    """The contact an address belongs to: its main e-mail, or an identity on an email channel."""
    email = email.strip().lower()
    found = session.scalar(select(Contact.id).where(Contact.email == email).order_by(Contact.id).limit(1))
    if found is not None:
        return found
    return session.scalar(
        select(ContactIdentity.contact_id)
        .join(Channel, Channel.id == ContactIdentity.channel_id)
        .where(Channel.type == "email", ContactIdentity.address == email)
        .order_by(ContactIdentity.id)
        .limit(1)
    )


# -- request types ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredType:
    id: int
    spec: RequestTypeSpec
    provisioned: bool

    def shape(self) -> dict[str, Any]:
        return {"id": self.id, **self.spec.shape(), "provisioned": self.provisioned}


def request_types_in(session: Session) -> list[StoredType]:
    return [
        StoredType(r.id, spec_of(r), r.provisioned) for r in session.scalars(select(RequestType).order_by(RequestType.name, RequestType.id))
    ]


async def request_types(session: AsyncSession) -> list[StoredType]:
    return await session.run_sync(request_types_in)


def request_type_named(session: Session, name: str) -> StoredType | None:
    row = session.scalar(select(RequestType).where(RequestType.name == name))
    return StoredType(row.id, spec_of(row), row.provisioned) if row is not None else None


def ticket_fields(session: Session, ticket_ids: Sequence[int]) -> dict[int, TicketRequest]:
    if not ticket_ids:
        return {}
    return {r.ticket_id: r for r in session.scalars(select(TicketRequest).where(TicketRequest.ticket_id.in_(ticket_ids)))}


def request_of_ticket(session: Session, ticket_id: int) -> tuple[TicketRequest | None, dict[str, str]]:
    """A ticket's request (answers, approval) and its fields' labels, for the agent's page."""
    request = session.get(TicketRequest, ticket_id)
    spec = request_type_named(session, request.request_type) if request is not None else None
    return request, ({f.name: f.label for f in spec.spec.fields} if spec is not None else {})


def request_shape(request: TicketRequest | None) -> dict[str, Any]:
    """What a ticket's API payload carries of its request type: `request_type`, `fields`, `approval`."""
    if request is None:
        return {"request_type": None, "fields": {}, "approval": None}
    return {
        "request_type": request.request_type,
        "fields": dict(request.fields or {}),
        "approval": {
            "state": request.approval,
            "approver": request.approver,
            "decided_at": request.decided_at.isoformat() if request.decided_at else None,
            "comment": request.comment,
        }
        if request.approval
        else None,
    }
