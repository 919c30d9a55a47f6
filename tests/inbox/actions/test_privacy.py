"""GDPR export and erasure of a contact."""

from __future__ import annotations

from sqlalchemy import func, select

from channels.base import InboundAttachment
from inbox.actions.privacy import erase_contact
from inbox.actions.runner import CLI
from inbox.queries.privacy import export_contact
from inbox.runtime.services import Services
from inbox.store.models import AuditEntry, Blob, Contact, ContactIdentity, Message
from tests.fixtures.inbox import add_channel, inbound


async def test_export_then_erase_removes_personal_data_but_keeps_others(services: Services) -> None:
    channel = await add_channel(services)
    pdf = InboundAttachment("passport.pdf", "application/pdf", b"secret scan")
    [ana] = await services.ingestor.ingest(
        channel, [inbound("a1", sender="ana@example.com", name="Ana", text="my IBAN is X", attachments=(pdf,), raw=b"raw ana")]
    )
    await services.ingestor.ingest(channel, [inbound("b1", sender="bo@example.com", name="Bo", text="hello")])
    async with services.db.read() as session:
        data = await export_contact(session, "ana@example.com")
    contact_id = data["contact"]["id"]
    assert data["contact"]["name"] == "Ana" and data["identities"][0]["address"] == "ana@example.com"
    assert data["conversations"][0]["messages"][0]["text"] == "my IBAN is X"
    assert data["conversations"][0]["messages"][0]["attachments"][0]["filename"] == "passport.pdf"

    counts = await erase_contact(services.ctx, CLI, "ana@example.com")
    assert counts["messages"] == 1 and counts["identities"] == 1 and counts["blobs"] == 2
    async with services.db.read() as session:
        contact = await session.get(Contact, contact_id)
        texts = dict((await session.execute(select(Message.external_id, Message.text))).all())
        assert (contact.name, contact.email) == ("Erased contact", None)
        assert texts == {"a1": "[erased]", "b1": "hello"}
        assert await session.scalar(select(func.count()).select_from(ContactIdentity).where(ContactIdentity.contact_id == contact_id)) == 0
        assert await session.scalar(select(func.count()).select_from(Blob)) == 0
        assert await session.scalar(select(AuditEntry.action)) == "contact.erase"
    assert ana.conversation_id is not None
