"""The conversation page's "Send again" for a reply whose delivery failed or is unknown."""

from __future__ import annotations

import html

from sqlalchemy import select, update

from inbox.actions.replies import send_reply
from inbox.actions.runner import Actor
from inbox.store.models import AuditEntry, Message, OutboxItem
from inbox.web.ui.i18n import TEXT
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import sign_in


async def ended(api: Api, message_id: int, state: str) -> None:
    """The outbox gave up on the reply (`failed`) or held it in doubt (`unknown`)."""
    async with api.services.db.transaction() as session:
        await session.execute(update(Message).where(Message.id == message_id).values(delivery=state, delivery_error="boom"))
        await session.execute(update(OutboxItem).where(OutboxItem.message_id == message_id).values(status=state))


async def test_send_again_shows_on_a_failed_or_unknown_reply_and_queues_it(api: Api) -> None:
    channel = await add_channel(api.services, "chat")
    [r] = await api.services.ingestor.ingest(channel, [inbound("c1", thread_key="t")])
    cid = r.conversation_id
    failed = await send_reply(api.services.ctx, Actor.system("cli"), cid, "First try")
    unknown = await send_reply(api.services.ctx, Actor.system("cli"), cid, "Second try")
    queued = await send_reply(api.services.ctx, Actor.system("cli"), cid, "Third try")
    await ended(api, failed, "failed")
    await ended(api, unknown, "unknown")
    csrf = await sign_in(api, "lead@example.com", role="admin")
    page = (await api.client.get(f"/conversations/{cid}")).text
    assert f'action="/messages/{failed}/resend"' in page and f'action="/messages/{unknown}/resend"' in page
    assert f'action="/messages/{queued}/resend"' not in page
    assert page.count(">Send again</button>") == 2 and ">failed<" in page and "delivery unknown" in page
    # Only the unknown one asks first: the customer may already have it.
    confirm = html.escape(TEXT["en"]["resend_unknown_confirm"])
    assert page.count(f'data-confirm="{confirm}"') == 1
    unknown_form = page.split(f'action="/messages/{unknown}/resend"', 1)[1].split("</form>", 1)[0]
    assert "data-confirm" in unknown_form and 'name="csrf"' in unknown_form

    forged = await api.client.post(f"/messages/{unknown}/resend", data={"csrf": "nope", "back": str(cid)})
    assert forged.status_code == 403
    done = await api.client.post(f"/messages/{unknown}/resend", data={"csrf": csrf, "back": str(cid)})
    assert done.status_code == 303 and done.headers["location"] == f"/conversations/{cid}#m{unknown}"
    async with api.services.db.read() as session:
        assert (await session.get(Message, unknown)).delivery == "queued"
        assert await session.scalar(select(OutboxItem.status).where(OutboxItem.message_id == unknown)) == "pending"
        assert await session.scalar(select(AuditEntry.details).where(AuditEntry.action == "message.resend")) is not None
    again = await api.client.post(f"/messages/{unknown}/resend", data={"csrf": csrf, "back": str(cid)})
    assert again.status_code == 409 and "<html" in again.text.lower()


async def test_send_again_in_spanish(api: Api) -> None:
    channel = await add_channel(api.services, "chat")
    [r] = await api.services.ingestor.ingest(channel, [inbound("c1", thread_key="t")])
    message_id = await send_reply(api.services.ctx, Actor.system("cli"), r.conversation_id, "Hola")
    await ended(api, message_id, "unknown")
    await sign_in(api, "lead@example.com", role="admin")
    page = (await api.client.get(f"/conversations/{r.conversation_id}", headers={"Accept-Language": "es"})).text
    assert "Enviar de nuevo" in page and html.escape(TEXT["es"]["resend_unknown_confirm"]) in page
