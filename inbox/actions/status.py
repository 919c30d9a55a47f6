"""The public status page's writes: e-mail subscriptions and the incident-update e-mails.

Subscribing stores the address unconfirmed and e-mails a confirmation link; the link is
a sealed (AES-GCM: signed and opaque) token naming the subscriber, bound to its secret
and carrying an expiry; it confirms once. Every e-mail carries an unsubscribe link with
the subscriber's random token. Updates (public broadcasts) are e-mailed by
`send_updates` — run by the status worker — to confirmed subscribers only, once per
subscriber and broadcast (a `status_notice` row, unique), through the outbox.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Invalid, NotFound
from inbox.markdown import render_markdown
from inbox.pipeline import direct_mail
from inbox.store.models import Broadcast, ConfigItem, Service, StatusNotice, StatusSubscriber, Ticket, TicketAffected
from inbox.store.secrets import SecretError

STATUS = Actor.system("status-page")
MAX_EMAIL = 254
EMAIL = re.compile(
    r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$"
)
MAX_TOKEN = 512

TEXT = {
    "en": {
        "confirm_subject": "Confirm your subscription to {title}",
        "confirm_body": "Someone (hopefully you) asked to receive incident updates from {title} at this address.\n\n"
        "Confirm: {confirm}\n\nThe link works once and expires in {hours} hours. If it was not you, ignore this e-mail.\n\n"
        "Unsubscribe: {unsubscribe}",
        "update_subject": "[{title}] Incident update: {affects}",
        "update_body": "{text}\n\n— {title}: {page}\n\nUnsubscribe: {unsubscribe}",
    },
    "es": {
        "confirm_subject": "Confirma tu suscripción a {title}",
        "confirm_body": "Alguien (esperamos que tú) pidió recibir en esta dirección las novedades de incidencias de {title}.\n\n"
        "Confirmar: {confirm}\n\nEl enlace funciona una vez y caduca en {hours} horas. Si no fuiste tú, ignora este correo.\n\n"
        "Darse de baja: {unsubscribe}",
        "update_subject": "[{title}] Novedad de la incidencia: {affects}",
        "update_body": "{text}\n\n— {title}: {page}\n\nDarse de baja: {unsubscribe}",
    },
}


@dataclass(frozen=True, slots=True)
class StatusSettings:
    """What the status actions need of the config (`[status]`)."""

    title: str
    email_channel: str | None
    confirm_hours: float
    public_url: str


def _bind(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def confirm_link(ctx: Context, subscriber: StatusSubscriber, expires: dt.datetime) -> str:
    sealed = ctx.secrets.seal(
        json.dumps({"p": "status-confirm", "s": subscriber.id, "k": _bind(subscriber.token), "e": int(expires.timestamp())})
    )
    return f"{ctx.public_url}/status/confirm?token={sealed}"


def unsubscribe_link(ctx: Context, subscriber: StatusSubscriber) -> str:
    return f"{ctx.public_url}/status/unsubscribe?token={subscriber.token}"


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not email or len(email) > MAX_EMAIL or not EMAIL.match(email):
        raise Invalid("enter a valid e-mail address", code="email")
    return email


async def subscribe(ctx: Context, settings: StatusSettings, email: str, language: str) -> None:
    """Subscribe an address (unconfirmed) and e-mail it the confirmation link. The same
    answer whatever the address's state, so the form tells no one who is subscribed; an
    address already confirmed gets no e-mail."""
    address = normalise_email(email)
    lang = language if language in TEXT else "en"

    def work(tx: Tx) -> None:
        channel_id = direct_mail.email_channel(tx.conn, settings.email_channel)
        if channel_id is None:
            raise Conflict("subscribing by e-mail is not set up here", code="status_email_off")
        subscriber = tx.session.scalar(select(StatusSubscriber).where(StatusSubscriber.email == address))
        if subscriber is None:
            subscriber = StatusSubscriber(email=address, language=lang, token=secrets.token_urlsafe(32), created_at=tx.now)
            tx.session.add(subscriber)
            tx.session.flush()
        elif subscriber.confirmed_at is not None:
            return
        text = TEXT[lang]
        body = text["confirm_body"].format(
            title=settings.title,
            confirm=confirm_link(ctx, subscriber, tx.now + dt.timedelta(hours=settings.confirm_hours)),
            hours=f"{settings.confirm_hours:g}",
            unsubscribe=unsubscribe_link(ctx, subscriber),
        )
        queued = direct_mail.queue(
            tx.conn,
            channel_id=channel_id,
            to=address,
            subject=text["confirm_subject"].format(title=settings.title),
            text=body,
            html=render_markdown(body),
            kind="status_confirm",
            feed=tx.feed,
            now=tx.now,
            language=lang,
            thread=f"status:{subscriber.id}",
        )
        tx.session.add(StatusNotice(subscriber_id=subscriber.id, broadcast_id=None, message_id=queued.message_id, created_at=tx.now))
        tx.audit("status_subscriber.create", f"status_subscriber:{subscriber.id}", {"language": lang})

    await perform(ctx.db, ctx.bus, STATUS, work)


def open_confirm_token(ctx: Context, token: str, now: dt.datetime) -> tuple[int, str]:
    """(subscriber id, binding) of a confirmation token; Invalid when tampered or expired."""
    if not token or len(token) > MAX_TOKEN:
        raise Invalid("this confirmation link is not valid", code="link_invalid")
    try:
        data = json.loads(ctx.secrets.open(token))
    except (SecretError, ValueError):
        raise Invalid("this confirmation link is not valid", code="link_invalid") from None
    if not isinstance(data, dict) or data.get("p") != "status-confirm" or not isinstance(data.get("s"), int):
        raise Invalid("this confirmation link is not valid", code="link_invalid")
    if not isinstance(data.get("e"), int) or data["e"] < now.timestamp():
        raise Invalid("this confirmation link has expired: subscribe again", code="link_expired")
    return data["s"], str(data.get("k"))


async def confirm(ctx: Context, token: str) -> str:
    """Confirm the subscription a link names (once); returns its address."""

    def work(tx: Tx) -> str:
        subscriber_id, binding = open_confirm_token(ctx, token, tx.now)
        subscriber = tx.session.get(StatusSubscriber, subscriber_id)
        if subscriber is None or _bind(subscriber.token) != binding:
            raise Invalid("this confirmation link is not valid", code="link_invalid")
        if subscriber.confirmed_at is not None:
            raise Conflict("this confirmation link was already used", code="link_used")
        subscriber.confirmed_at = tx.now
        tx.audit("status_subscriber.confirm", f"status_subscriber:{subscriber.id}")
        return subscriber.email

    return await perform(ctx.db, ctx.bus, STATUS, work)


async def unsubscribe(ctx: Context, token: str) -> None:
    """Remove the subscriber whose unsubscribe token this is (NotFound when none)."""
    if not token or len(token) > MAX_TOKEN:
        raise NotFound.of("subscription")

    def work(tx: Tx) -> None:
        gone = tx.conn.execute(delete(StatusSubscriber).where(StatusSubscriber.token == token).returning(StatusSubscriber.id)).first()
        if gone is None:
            raise NotFound.of("subscription")
        tx.audit("status_subscriber.delete", f"status_subscriber:{gone[0]}")

    await perform(ctx.db, ctx.bus, STATUS, work)


def _affects(tx: Tx, ticket_id: int) -> str:
    names = []
    for node_type, node_id in tx.conn.execute(
        select(TicketAffected.node_type, TicketAffected.node_id).where(TicketAffected.ticket_id == ticket_id)
    ).all():
        model = Service if node_type == "service" else ConfigItem
        name = tx.conn.scalar(select(model.name).where(model.id == node_id))
        if name:
            names.append(name)
    return ", ".join(sorted(names))


async def send_updates(ctx: Context, settings: StatusSettings, *, limit: int = 500) -> int:
    """E-mail every public broadcast made since a subscriber confirmed to that confirmed
    subscriber, once each (at most `limit` e-mails a pass). Returns how many were queued."""

    def work(tx: Tx) -> int:
        channel_id = direct_mail.email_channel(tx.conn, settings.email_channel)
        if channel_id is None:
            return 0
        pending = tx.conn.execute(
            select(StatusSubscriber.id, Broadcast.id.label("broadcast_id"))
            .join(Broadcast, Broadcast.created_at >= StatusSubscriber.confirmed_at)
            .join(Ticket, Ticket.id == Broadcast.ticket_id)
            .where(StatusSubscriber.confirmed_at.is_not(None), Broadcast.public.is_(True))
            .where(
                ~select(StatusNotice.id)
                .where(StatusNotice.subscriber_id == StatusSubscriber.id, StatusNotice.broadcast_id == Broadcast.id)
                .exists()
            )
            .order_by(Broadcast.id, StatusSubscriber.id)
            .limit(limit)
        ).all()
        affects: dict[int, str] = {}
        for row in pending:
            subscriber = tx.session.get(StatusSubscriber, row.id)
            broadcast = tx.session.get(Broadcast, row.broadcast_id)
            assert subscriber is not None and broadcast is not None
            if broadcast.ticket_id not in affects:
                affects[broadcast.ticket_id] = _affects(tx, broadcast.ticket_id)
            text = TEXT.get(subscriber.language, TEXT["en"])
            body = text["update_body"].format(
                text=broadcast.text, title=settings.title, page=f"{ctx.public_url}/status", unsubscribe=unsubscribe_link(ctx, subscriber)
            )
            queued = direct_mail.queue(
                tx.conn,
                channel_id=channel_id,
                to=subscriber.email,
                subject=text["update_subject"].format(title=settings.title, affects=affects[broadcast.ticket_id] or "—"),
                text=body,
                html=render_markdown(body),
                kind="status_update",
                feed=tx.feed,
                now=tx.now,
                language=subscriber.language,
                thread=f"status:{subscriber.id}",
                meta={"broadcast_id": broadcast.id},
            )
            tx.session.add(
                StatusNotice(subscriber_id=subscriber.id, broadcast_id=broadcast.id, message_id=queued.message_id, created_at=tx.now)
            )
        if pending:
            tx.audit("status_update.send", "status_page", {"emails": len(pending)})
        return len(pending)

    return await perform(ctx.db, ctx.bus, STATUS, work)
