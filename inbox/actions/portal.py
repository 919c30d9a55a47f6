"""The customer portal's writes: sign-in links, replies and new requests, and approvals.

A portal reply or new request is an INBOUND customer message, so it goes through the
ingest pipeline like mail or chat (the Ingestor is the one door for what customers say):
the rules, the assignment, the SLA clock, the events and the notifications treat it as
any customer message. A reply is ingested on the conversation's own channel, as the
identity that wrote there, with a reference to the thread's first message — so it lands
in that same conversation and the agent's answer goes back on the customer's channel. A
new request is ingested on `[portal] email_channel` from the contact's e-mail address,
so the answers go by e-mail. Its message carries `meta.via = "portal"` and, for a request
type, `meta.request` (the type and the answers), which the rules see (`request_type`,
`field.<name>`); the ticket and its answers are then written by `attach_request`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from channels.base import InboundAttachment, InboundMessage, Sender
from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Forbidden, Invalid, NotFound
from inbox.pipeline import direct_mail
from inbox.pipeline import tickets as store
from inbox.pipeline.ingest import ChannelRef, Ingestor
from inbox.portal_tokens import link_digest, new_link_token
from inbox.queries import portal as q
from inbox.queries.tickets import find_visible_ticket
from inbox.store.models import (
    Agent,
    Channel,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    PortalLink,
    Team,
    Ticket,
    TicketRequest,
)
from routing.request_types import AnswerError, RequestTypeSpec, check_answers, summary
from routing.vocabulary import APPROVAL_DECISIONS

PORTAL = Actor.system("portal")
MAX_TEXT = 20_000
MAX_SUBJECT = 200

SIGN_IN_MAIL = {
    "en": (
        "Your sign-in link",
        "Hello,\n\nOpen this link to see your requests (it works once, for {minutes} minutes):\n\n{url}\n\n"
        "If you did not ask for it, you can ignore this e-mail.\n",
    ),
    "es": (
        "Su enlace para entrar",
        "Hola:\n\nAbra este enlace para ver sus solicitudes (sirve una vez, durante {minutes} minutos):\n\n{url}\n\n"
        "Si no lo pidió, puede ignorar este correo.\n",
    ),
}


async def request_sign_in(ctx: Context, email: str, *, channel_name: str | None, minutes: int, language: str) -> None:
    """Send a one-time sign-in link to `email` if it is a contact's; otherwise do nothing
    at all (the caller answers the same either way, so no one learns who is known)."""
    email = email.strip().lower()
    if channel_name is None or "@" not in email or len(email) > 320:
        return

    def work(tx: Tx) -> None:
        channel_id = direct_mail.email_channel(tx.conn, channel_name)
        contact_id = q.contact_by_email(tx.session, email)
        if channel_id is None or contact_id is None:
            return
        person = q.person_of(tx.session, contact_id)
        if person is None:
            return
        final, _ = person
        contact = tx.session.get(Contact, final)
        assert contact is not None
        token = new_link_token()
        tx.session.add(PortalLink(token_sha256=link_digest(token), contact_id=final, expires_at=tx.now + dt.timedelta(minutes=minutes)))
        lang = language if language in SIGN_IN_MAIL else "en"
        subject, body = SIGN_IN_MAIL[lang]
        direct_mail.queue(
            tx.conn,
            channel_id=channel_id,
            to=email,
            subject=subject,
            text=body.format(minutes=minutes, url=f"{ctx.public_url}/portal/in/{token}"),
            kind="portal_sign_in",
            feed=tx.feed,
            now=tx.now,
            language=lang,
            name=contact.name,
        )
        tx.audit("portal.link_send", f"contact:{final}", {"channel": channel_name})

    await perform(ctx.db, ctx.bus, PORTAL, work)


async def redeem_sign_in(ctx: Context, token: str) -> int:
    """Use a one-time sign-in link: its contact, once; NotFound when unknown, used or expired."""
    if not token or len(token) > 100:
        raise NotFound.of("sign-in link")

    def work(tx: Tx) -> int:
        row = tx.conn.execute(
            update(PortalLink)
            .where(PortalLink.token_sha256 == link_digest(token), PortalLink.used_at.is_(None), PortalLink.expires_at > tx.now)
            .values(used_at=tx.now)
            .returning(PortalLink.contact_id)
        ).first()
        if row is None:
            raise NotFound.of("sign-in link")
        tx.audit("portal.sign_in", f"contact:{row[0]}", {"by": "link"})
        return int(row[0])

    return await perform(ctx.db, ctx.bus, PORTAL, work)


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("write a message", code="text")
    if len(text) > MAX_TEXT:
        raise Invalid(f"a message is at most {MAX_TEXT} characters", code="text")
    return text


async def portal_reply(
    ctx: Context, ingestor: Ingestor, contact_id: int, conversation_id: int, text: str, attachments: Sequence[InboundAttachment] = ()
) -> int:
    """The customer's reply from the portal, ingested into that same conversation. Returns the message id."""
    text = _text(text)

    def find(session: Session) -> tuple[ChannelRef, str, str, str | None]:
        person = q.person_of(session, contact_id)
        conversation = q.own_conversation(session, person[1], conversation_id) if person is not None else None
        if person is None or conversation is None:
            raise NotFound.of("conversation")
        channel = session.get(Channel, conversation.channel_id)
        assert channel is not None
        first = session.scalar(
            select(Message.external_id)
            .where(Message.conversation_id == conversation.id, Message.channel_id == channel.id)
            .order_by(Message.id)
            .limit(1)
        )
        owners = [conversation.contact_id, *[c for c in person[1] if c != conversation.contact_id]]
        identity = None
        for owner in owners:
            identity = session.scalar(
                select(ContactIdentity).where(ContactIdentity.contact_id == owner, ContactIdentity.channel_id == channel.id).limit(1)
            )
            if identity is not None:
                break
        if first is None or identity is None:
            raise Invalid("this conversation cannot be answered from the portal; reply on its channel", code="channel")
        email = session.scalar(select(Contact.email).where(Contact.id == identity.contact_id))
        return ChannelRef(channel.id, channel.name, channel.type), identity.address, first, email

    channel, address, first, email = await ctx.db.query(find)
    inbound = InboundMessage(
        external_id=f"portal:{uuid.uuid4().hex}",
        sender=Sender(address=address, email=email),
        text=text,
        references=(first,),
        attachments=tuple(attachments),
        meta={"via": "portal"},
    )
    [result] = await ingestor.ingest(channel, [inbound])
    if result.message_id is None:
        raise Invalid("the message could not be stored", code="text")
    return result.message_id


async def open_request(
    ctx: Context,
    ingestor: Ingestor,
    contact_id: int,
    *,
    channel_name: str | None,
    subject: str,
    text: str,
    request_type: RequestTypeSpec | None = None,
    answers: Mapping[str, str] | None = None,
    files: Mapping[str, InboundAttachment] | None = None,
    attachments: Sequence[InboundAttachment] = (),
    via: str = "portal",
) -> tuple[int, int | None]:
    """A new request from the portal (or the widget's form): (conversation id, ticket id).
    With a request type its answers are checked (Invalid with `code` = the field's name)
    and stored on the ticket, with the type's team, priority and approval."""
    subject = subject.strip()[:MAX_SUBJECT]
    files = dict(files or {})
    stored: dict[str, str] = {}
    if request_type is not None:
        try:
            stored = check_answers(request_type, answers or {}, {k: f.filename for k, f in files.items()})
        except AnswerError as exc:
            raise Invalid(exc.message, code=f"field.{exc.field}") from None
        body = "\n\n".join(part for part in (summary(request_type, stored), text.strip()) if part)
        if not body:
            body = request_type.name
        subject = subject or request_type.name[:MAX_SUBJECT]
    else:
        body = text.strip()
    body = _text(body)
    if not subject:
        raise Invalid("give the request a subject", code="subject")
    if channel_name is None:
        raise Invalid("new requests are off: [portal] email_channel is not set", code="channel")

    def find(session: Session) -> tuple[ChannelRef, str, str | None, str | None]:
        person = q.person_of(session, contact_id)
        channel = session.scalar(select(Channel).where(Channel.name == channel_name))
        if person is None:
            raise NotFound.of("contact")
        if channel is None:
            raise Invalid(f"the portal's channel {channel_name!r} does not exist", code="channel")
        contact = session.get(Contact, person[0])
        assert contact is not None
        email = contact.email or next(
            (
                i.address
                for i in session.scalars(
                    select(ContactIdentity).where(ContactIdentity.contact_id.in_(person[1]), ContactIdentity.channel_id == channel.id)
                )
            ),
            None,
        )
        if not email:
            raise Invalid("this contact has no e-mail address to answer at", code="email")
        return ChannelRef(channel.id, channel.name, channel.type), email, contact.name, contact.language

    channel, email, name, language = await ctx.db.query(find)
    meta: dict[str, object] = {"via": via}
    if request_type is not None:
        meta["request"] = {"type": request_type.name, "fields": stored}
    inbound = InboundMessage(
        external_id=f"portal:{uuid.uuid4().hex}",
        sender=Sender(address=email, email=email, name=name, language=language, verified=True),
        text=body,
        subject=subject,
        attachments=(*attachments, *files.values()),
        meta=meta,
    )
    [result] = await ingestor.ingest(channel, [inbound])
    if result.conversation_id is None:
        raise Invalid("the request could not be stored", code="text")
    ticket_id = await attach_request(ctx, result.conversation_id, request_type, stored) if request_type is not None else None
    return result.conversation_id, ticket_id


async def attach_request(ctx: Context, conversation_id: int, spec: RequestTypeSpec, fields: Mapping[str, str]) -> int:
    """Make the conversation a request ticket of type `spec` with the customer's answers:
    the type's team and priority (unless a rule already chose them), and, when the type
    names an approver, the ticket waits (pending, its SLA paused) for their decision."""

    def work(tx: Tx) -> int:
        conversation = tx.session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound.of("conversation")
        ticket_id = tx.conn.scalar(select(Ticket.id).where(Ticket.conversation_id == conversation_id))
        if ticket_id is not None and tx.session.get(TicketRequest, ticket_id) is not None:
            return int(ticket_id)  # already a request (a resent widget form): it stays as it was
        if ticket_id is None:
            ticket_id = store.open_ticket(
                tx.conn, conversation_id, "request", ctx.policy, tx.feed, priority=conversation.priority or spec.priority, now=tx.now
            )
        values: dict[str, object] = {}
        if spec.team is not None and conversation.team_id is None:
            team_id = tx.conn.scalar(select(Team.id).where(Team.name == spec.team))
            if team_id is not None:
                values["team_id"] = team_id
        if values:
            tx.conn.execute(update(Conversation).where(Conversation.id == conversation_id).values(**values, updated_at=tx.now))
            tx.event(
                "conversation.updated", {"conversation_id": conversation_id, "changes": {"team_id": values["team_id"]}}, conversation_id
            )
        tx.session.add(
            TicketRequest(
                ticket_id=ticket_id,
                request_type=spec.name,
                fields=dict(fields),
                approver=spec.approver,
                approval="waiting" if spec.approver else None,
            )
        )
        if spec.approver:
            store.change_status(tx.conn, ticket_id, "pending", ctx.policy, tx.feed, now=tx.now)
            _set_conversation_status(tx, conversation_id, "pending", ("open",))
        tx.audit(
            "ticket.request",
            f"ticket:{ticket_id}",
            {"conversation_id": conversation_id, "request_type": spec.name, "fields": sorted(fields), "approver": spec.approver},
        )
        return int(ticket_id)

    return await perform(ctx.db, ctx.bus, PORTAL, work)


def _set_conversation_status(tx: Tx, conversation_id: int, status: str, only_from: tuple[str, ...]) -> None:
    """The conversation follows its request's wait for approval: pending while it waits, open once approved."""
    changed = tx.conn.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.status.in_(only_from))
        .values(status=status, updated_at=tx.now)
    ).rowcount
    if changed:
        tx.event("conversation.updated", {"conversation_id": conversation_id, "changes": {"status": status}}, conversation_id)


async def decide_approval(ctx: Context, actor: Actor, ticket_id: int, decision: str, comment: str | None = None) -> str:
    """The named approver (or an admin) approves or rejects a waiting request: approved,
    work starts (the ticket opens); rejected, it is resolved. Returns the new approval state."""
    if decision not in APPROVAL_DECISIONS:
        raise Invalid(f"decision must be one of {', '.join(APPROVAL_DECISIONS)}", code="decision")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > 5000:
        raise Invalid("a comment is at most 5000 characters", code="comment")

    def work(tx: Tx) -> str:
        ticket = find_visible_ticket(tx.session, actor.principal, ticket_id)
        request = tx.session.get(TicketRequest, ticket_id) if ticket is not None else None
        if ticket is None or request is None or request.approval is None:
            raise NotFound.of("approval")
        if request.approval != "waiting":
            raise Invalid(f"this request was already {request.approval}", code="decided")
        email = tx.conn.scalar(select(Agent.email).where(Agent.id == actor.agent_id)) if actor.agent_id is not None else None
        if not actor.is_admin and (email or "").lower() != (request.approver or ""):
            raise Forbidden(f"only the approver ({request.approver}) decides on this request", code="not_approver")
        state = "approved" if decision == "approve" else "rejected"
        request.approval = state
        request.decided_by = actor.agent_id
        request.decided_at = tx.now
        request.comment = comment
        tx.session.flush()
        store.change_status(tx.conn, ticket_id, "open" if state == "approved" else "resolved", ctx.policy, tx.feed, now=tx.now)
        if state == "approved" and ticket.conversation_id is not None:
            _set_conversation_status(tx, ticket.conversation_id, "open", ("pending",))
        tx.event(
            "ticket.updated", {"ticket_id": ticket_id, "number": ticket.number, "changes": {"approval": state}}, ticket.conversation_id
        )
        tx.audit("ticket.approval", f"ticket:{ticket_id}", {"decision": decision, "comment": comment})
        return state

    return await perform(ctx.db, ctx.bus, actor, work)
