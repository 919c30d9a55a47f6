"""The conversation page's Merge (pick, preview, confirm), Split here, Schedule… and Cancel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inbox.store.models import Conversation, Message, OutboxItem, utcnow
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import sign_in


async def test_merge_from_the_ui_with_a_preview_then_a_confirmation(api: Api) -> None:
    mail = await add_channel(api.services, "mail")
    chat = await add_channel(api.services, "chat")
    [a] = await api.services.ingestor.ingest(mail, [inbound("<m1@x>", subject="Invoice wrong")])
    [b] = await api.services.ingestor.ingest(chat, [inbound("c1", sender="ana-chat", subject="Hello from chat")])
    csrf = await sign_in(api, "lead@example.com", role="admin")
    page = await api.client.get(f"/conversations/{b.conversation_id}")
    assert f'href="/conversations/{b.conversation_id}/merge"' in page.text and "Schedule…" in page.text
    found = await api.client.get(f"/conversations/{b.conversation_id}/merge", params={"q": "invoice"})
    assert found.status_code == 200 and f"into={a.conversation_id}" in found.text
    by_number = await api.client.get(f"/conversations/{b.conversation_id}/merge", params={"q": str(a.conversation_id)})
    assert f"into={a.conversation_id}" in by_number.text
    preview = await api.client.get(f"/conversations/{b.conversation_id}/merge", params={"into": a.conversation_id})
    assert "Invoice wrong" in preview.text and "Hello from chat" in preview.text and "chat" in preview.text
    async with api.services.db.read() as session:
        assert (await session.get(Conversation, b.conversation_id)).merged_into_id is None  # a preview changes nothing
    done = await api.client.post(f"/conversations/{b.conversation_id}/merge", data={"csrf": csrf, "into": str(a.conversation_id)})
    assert done.status_code == 303 and done.headers["location"] == f"/conversations/{a.conversation_id}"
    target = await api.client.get(f"/conversations/{a.conversation_id}")
    assert f"#{b.conversation_id} merged here" in target.text
    source = await api.client.get(f"/conversations/{b.conversation_id}")
    assert f"Merged into #{a.conversation_id}" in source.text
    forged = await api.client.post(f"/conversations/{a.conversation_id}/merge", data={"csrf": "nope", "into": str(b.conversation_id)})
    assert forged.status_code == 403


async def test_split_here_and_schedule_then_cancel_from_the_ui(api: Api) -> None:
    mail = await add_channel(api.services, "mail")
    results = await api.services.ingestor.ingest(mail, [inbound(f"<m{i}@x>", text=f"part {i}", thread_key="t") for i in range(3)])
    cid = results[0].conversation_id
    csrf = await sign_in(api, "lead@example.com", role="admin")
    async with api.services.db.read() as session:
        ids = list(await session.scalars(select(Message.id).where(Message.conversation_id == cid).order_by(Message.id)))
    page = await api.client.get(f"/conversations/{cid}")
    assert f'action="/messages/{ids[1]}/split"' in page.text and f'action="/messages/{ids[0]}/split"' not in page.text
    split = await api.client.post(f"/messages/{ids[1]}/split", data={"csrf": csrf})
    assert split.status_code == 303
    new_id = int(split.headers["location"].rsplit("/", 1)[1])
    # Schedule… : 09:30 local in a browser 120 minutes behind UTC (getTimezoneOffset() = 120) is 11:30 UTC.
    local = (utcnow() + dt.timedelta(days=2)).replace(hour=9, minute=30, second=0, microsecond=0, tzinfo=None)
    sent = await api.client.post(
        f"/conversations/{new_id}/reply",
        data={"csrf": csrf, "text": "See you then", "send_at": local.strftime("%Y-%m-%dT%H:%M"), "tz_offset": "120"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert sent.status_code == 303
    async with api.services.db.read() as session:
        message = await session.scalar(select(Message).where(Message.direction == "out"))
        item = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    assert message.conversation_id == new_id and message.delivery == "scheduled"
    assert message.send_at == (local + dt.timedelta(hours=2)).replace(tzinfo=dt.UTC) == item.next_attempt_at
    page = await api.client.get(f"/conversations/{new_id}")
    assert "Sends at" in page.text and f'action="/messages/{message.id}/cancel"' in page.text
    cancelled = await api.client.post(f"/messages/{message.id}/cancel", data={"csrf": csrf, "back": str(new_id)})
    assert cancelled.status_code == 303
    async with api.services.db.read() as session:
        assert (await session.get(Message, message.id)).delivery == "cancelled"
        assert await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id)) is None
