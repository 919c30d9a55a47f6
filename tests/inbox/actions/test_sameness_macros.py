"""Macro apply and bulk status change through the API and the UI: the same audit entries,
the same stored result."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.store.models import AuditEntry, Conversation, Message, OutboxItem
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces  # noqa: F401  (the fixture)

BOTH = ["api", "ui"]


async def conversations(surfaces: Surfaces, n: int) -> list[int]:
    channel = await add_channel(surfaces.api.services, "mail", "email")
    results = await surfaces.api.services.ingestor.ingest(
        channel, [inbound(f"m{i}", sender=f"c{i}@example.com", name=f"Carla {i}") for i in range(n)]
    )
    return [r.conversation_id for r in results]


@pytest.mark.parametrize("surface", BOTH)
async def test_macro_apply_is_one_action(surfaces: Surfaces, surface: str) -> None:
    [cid] = await conversations(surfaces, 1)
    made = await surfaces.call(
        "POST", "/api/v1/macros", json={"name": "Pending", "actions": [{"reply": "Hi {{contact.first_name}}"}, {"status": "pending"}]}
    )
    macro_id = made.json()["id"]
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/conversations/{cid}/macros/{macro_id}")
        assert response.status_code == 200, response.text
    else:
        response = await surfaces.form(f"/conversations/{cid}/macros", {"macro": str(macro_id)})
        assert response.status_code == 303, response.text
    async with surfaces.api.services.db.read() as session:
        message = await session.scalar(select(Message).where(Message.conversation_id == cid, Message.author_type == "agent"))
        conversation = await session.get(Conversation, cid)
        actions = [(e.action, e.target) for e in (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()][-3:]
    assert message is not None and message.text == "Hi Carla" and conversation is not None and conversation.status == "pending"
    assert actions == [
        ("message.create", f"message:{message.id}"),
        ("conversation.update", f"conversation:{cid}"),
        ("macro.apply", f"conversation:{cid}"),
    ]
    entry = await surfaces.last_audit()
    assert entry.details == {"macro_id": macro_id, "name": "Pending", "messages": [message.id], "changes": {"status": "pending"}}


@pytest.mark.parametrize("surface", BOTH)
async def test_bulk_status_change_is_one_action(surfaces: Surfaces, surface: str) -> None:
    ids = await conversations(surfaces, 3)
    if surface == "api":
        response = await surfaces.call(
            "POST", "/api/v1/conversations/bulk", json={"ids": [*ids, 999999], "changes": {"status": "resolved"}}
        )
        assert response.json() == {"updated": 3, "errors": [{"id": 999999, "error": "not found"}]}
    else:
        response = await surfaces.client.post(
            "/conversations/bulk",
            data={"csrf": await surfaces.csrf(), "ids": [*map(str, ids), "999999"], "status": "resolved", "key": "k1"},
        )
        assert response.status_code == 200 and "3 conversations changed" in response.text and "#999999" in response.text
    async with surfaces.api.services.db.read() as session:
        statuses = [c.status for c in (await session.scalars(select(Conversation).order_by(Conversation.id))).all()]
    assert statuses == ["resolved"] * 3
    entry = await surfaces.last_audit()
    assert (entry.action, entry.details) == ("conversation.bulk", {"conversations": 4, "macro_id": None, "updated": 3, "errors": 1})


async def test_ui_bulk_over_fifty_asks_first_and_a_resubmission_sends_once(surfaces: Surfaces) -> None:
    ids = await conversations(surfaces, 51)
    made = await surfaces.call("POST", "/api/v1/macros", json={"name": "Ack", "actions": [{"reply": "Got it"}]})
    data = {"csrf": await surfaces.csrf(), "all_in_view": "1", "filter_status": "open", "macro": str(made.json()["id"]), "key": "page-1"}
    asked = await surfaces.client.post("/conversations/bulk", data=data)
    assert asked.status_code == 200 and "Change 51 conversations" in asked.text
    async with surfaces.api.services.db.read() as session:
        assert (await session.scalars(select(OutboxItem))).all() == []
    for _ in range(2):
        done = await surfaces.client.post("/conversations/bulk", data={**data, "confirmed": "1"})
        assert done.status_code == 200 and "51 conversations changed" in done.text
    async with surfaces.api.services.db.read() as session:
        assert len((await session.scalars(select(OutboxItem))).all()) == len(ids)
