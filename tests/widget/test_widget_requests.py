"""Request types in the widget, in-process over both databases (the socket double of
test_widget_queue_context): the welcome offers the channel's types without their team or
approver; a `request` frame makes the same request ticket a portal form makes (fields,
team, priority, approval) and is stored once when resent; bad answers come back as error
frames naming the field. And a customer writing (from the portal or the chat) while the
request waits for its approver leaves it pending."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from inbox.actions.portal import decide_approval, portal_reply
from inbox.actions.runner import CLI
from inbox.runtime.channels import ChannelSink
from inbox.runtime.provision import provision_request_types
from inbox.runtime.services import Services
from inbox.store.models import AuditEntry, Conversation, Message, Team, Ticket, TicketRequest
from routing.request_types import RequestTypeSpec
from tests.fixtures.inbox import add_channel, services  # noqa: F401
from tests.inbox.web.test_portal import ACCESS, LAPTOP
from tests.widget.test_widget_queue_context import PUBLIC, Socket, Widget, widget_config
from widget.gateway import GatewayChannel

HIDDEN = {"name": "Internal only", "fields": []}


async def catalogue_widget(svc: Services, **extra: Any) -> Widget:
    svc.config.request_types = [RequestTypeSpec.model_validate(t) for t in (ACCESS, LAPTOP, HIDDEN)]
    async with svc.db.transaction() as session:
        session.add(Team(name="it"))
    await provision_request_types(svc.db, svc.config)
    ref = await add_channel(svc, "website", "widget")
    sink = ChannelSink(svc.ingestor, ref, requests=svc.attach_request)
    return Widget(svc, GatewayChannel(widget_config(**extra), sink, PUBLIC))


@pytest.fixture
async def widget(services: Services) -> AsyncIterator[Widget]:  # noqa: F811
    found = await catalogue_widget(services, request_types=["Access request", "New laptop", "No such type"])
    yield found
    await found.close()


async def frames(socket: Socket, *kinds: str) -> dict[str, dict[str, Any]]:
    """The first frame of each kind, in whatever order they come (others are skipped)."""
    got: dict[str, dict[str, Any]] = {}
    while set(kinds) - set(got):
        frame = await asyncio.wait_for(socket.outgoing.get(), 30)
        if frame["type"] in kinds and frame["type"] not in got:
            got[frame["type"]] = frame
    return got


async def count(svc: Services, model: Any) -> int:
    return int(await svc.db.query(lambda s: s.scalar(select(func.count()).select_from(model))))


async def test_a_request_frame_makes_the_portals_request_ticket_once(widget: Widget) -> None:
    svc = widget.services
    socket, welcome = await widget.visitor()
    offered = welcome["request_types"]
    assert [t["name"] for t in offered] == ["Access request", "New laptop"]  # the channel's, known ones only
    access = offered[0]
    assert access["description"] == "Ask for access to a system." and access["approval"] is False and offered[1]["approval"] is True
    assert [(f["name"], f["kind"], f["required"]) for f in access["fields"]][:2] == [
        ("system", "choice", True),
        ("needed_by", "date", False),
    ]
    assert access["fields"][0]["choices"] == ["vpn", "crm"]
    assert not {"team", "priority", "approver"} & set(access)  # who handles it is not the visitor's to see
    frame = {
        "type": "request",
        "client_id": "rq-1",
        "request_type": "Access request",
        "fields": {"system": "vpn", "why": "New starter", "needed_by": "2030-01-15"},
        "text": "Thanks!",
    }
    socket.say(frame)
    got = await frames(socket, "ack", "message")  # the hub may show the message before the ack comes
    ack, shown = got["ack"], got["message"]
    assert ack["client_id"] == "rq-1" and ack["duplicate"] is False and ack["ticket_id"]
    assert shown["id"] == ack["id"] and shown["client_id"] == "rq-1" and shown["direction"] == "in"
    assert "System: vpn" in shown["text"] and "Needed by: 2030-01-15" in shown["text"] and "New starter" in shown["text"]
    assert shown["text"].endswith("Thanks!")
    ticket = await svc.db.query(lambda s: s.get(Ticket, ack["ticket_id"]))
    assert ticket is not None and ticket.kind == "request" and ticket.priority == "P2" and ticket.status != "pending"
    conversation = await svc.db.query(lambda s: s.get(Conversation, ticket.conversation_id))
    team = await svc.db.query(lambda s: s.scalar(select(Team.id).where(Team.name == "it")))
    assert conversation is not None and conversation.team_id == team and conversation.thread_key is not None
    request = await svc.db.query(lambda s: s.get(TicketRequest, ticket.id))
    assert request is not None and request.request_type == "Access request" and request.approval is None
    assert request.fields == {"system": "vpn", "needed_by": "2030-01-15", "why": "New starter"}
    message = await svc.db.query(lambda s: s.get(Message, ack["id"]))
    assert message is not None and message.meta["request"] == {"type": "Access request", "fields": request.fields}
    assert message.meta["via"] == "widget" and message.meta["client_id"] == "rq-1"
    # Resent (a lost ack, a reconnect): the same message and ticket, nothing stored twice.
    again, _ = await widget.visitor(token=welcome["token"])
    again.say(frame)
    second = await again.next("ack")
    assert second["duplicate"] is True and second["id"] == ack["id"] and second["ticket_id"] == ack["ticket_id"]
    assert await count(svc, TicketRequest) == 1 and await count(svc, Ticket) == 1
    inbound = await svc.db.query(lambda s: s.scalar(select(func.count(Message.id)).where(Message.direction == "in")))
    assert inbound == 1
    audits = await svc.db.query(lambda s: s.scalars(select(AuditEntry.target).where(AuditEntry.action == "ticket.request")).all())
    assert audits == [f"ticket:{ticket.id}"]


async def test_bad_answers_come_back_naming_the_field_and_store_nothing(widget: Widget) -> None:
    svc = widget.services
    socket, _ = await widget.visitor()
    good = {"system": "vpn", "why": "x"}
    cases: list[tuple[dict[str, Any], str, str | None]] = [
        ({"fields": {"system": "fax", "why": "x"}}, "bad_field", "system"),
        ({"fields": {"system": "vpn"}}, "bad_field", "why"),
        ({"fields": {**good, "needed_by": "2030-02-31"}}, "bad_field", "needed_by"),
        ({"fields": {**good, "colour": "red"}}, "bad_field", "colour"),
        ({"fields": {**good, "why": 5}}, "bad_field", "why"),
        ({"fields": {**good, "why": "w" * 10_001}}, "bad_field", "why"),
        ({"fields": ["vpn"]}, "bad_fields", None),
        ({"request_type": "Internal only", "fields": {}}, "unknown_request_type", None),  # not this channel's
        ({"request_type": "No such type", "fields": {}}, "unknown_request_type", None),
        ({"client_id": "", "fields": good}, "bad_client_id", None),
    ]
    for n, (change, code, field) in enumerate(cases):
        socket.say({"type": "request", "client_id": f"bad-{n}", "request_type": "Access request", **change})
        error = await socket.next("error")
        assert error["code"] == code, (change, error)
        assert error.get("field") == field, (change, error)
        if code != "bad_client_id":
            assert error["client_id"] == f"bad-{n}"
    assert "required" in (await _error_of(socket, {"fields": {"system": "vpn"}}))["message"]
    assert await count(svc, Ticket) == 0 and await count(svc, Message) == 0
    # The socket stays open: a good request is still taken.
    socket.say({"type": "request", "client_id": "ok", "request_type": "Access request", "fields": good})
    assert (await socket.next("ack"))["ticket_id"]


async def _error_of(socket: Socket, change: dict[str, Any]) -> dict[str, Any]:
    socket.say({"type": "request", "client_id": "again", "request_type": "Access request", **change})
    return await socket.next("error")


async def test_a_channel_without_request_types_offers_none(services: Services) -> None:  # noqa: F811
    widget = await catalogue_widget(services)
    try:
        socket, welcome = await widget.visitor()
        assert welcome["request_types"] == []
        socket.say({"type": "request", "client_id": "r", "request_type": "Access request", "fields": {"system": "vpn", "why": "x"}})
        assert (await socket.next("error"))["code"] == "unknown_request_type"
    finally:
        await widget.close()


async def test_every_type_with_a_star_and_a_reply_while_approval_waits_stays_pending(services: Services) -> None:  # noqa: F811
    svc = services
    widget = await catalogue_widget(svc, request_types=["*"])
    try:
        socket, welcome = await widget.visitor()
        assert [t["name"] for t in welcome["request_types"]] == ["Access request", "Internal only", "New laptop"]
        socket.say({"type": "request", "client_id": "lap", "request_type": "New laptop", "fields": {"model": "X1"}})
        ack = await socket.next("ack")
        ticket = await svc.db.query(lambda s: s.get(Ticket, ack["ticket_id"]))
        assert ticket is not None and ticket.status == "pending"
        request = await svc.db.query(lambda s: s.get(TicketRequest, ticket.id))
        assert request is not None and request.approval == "waiting" and request.approver == "boss2@example.com"
        conversation_id = ticket.conversation_id
        assert conversation_id is not None

        async def statuses() -> tuple[str, str]:
            def read(s: Any) -> tuple[str, str]:
                return s.scalar(select(Ticket.status).where(Ticket.id == ticket.id)), s.scalar(
                    select(Conversation.status).where(Conversation.id == conversation_id)
                )

            return await svc.db.query(read)

        assert await statuses() == ("pending", "pending")
        # The customer writes from the portal, then in the chat: the wait is the approver's, so it stays pending.
        contact = await svc.db.query(lambda s: s.scalar(select(Conversation.contact_id).where(Conversation.id == conversation_id)))
        reply = await portal_reply(svc.ctx, svc.ingestor, int(contact), conversation_id, "Any news?")
        stored = await svc.db.query(lambda s: s.get(Message, reply))
        assert stored is not None and stored.conversation_id == conversation_id and stored.meta == {"via": "portal"}
        socket.say({"type": "message", "client_id": "m1", "text": "Hello?"})
        assert (await socket.next("ack"))["id"]
        assert await statuses() == ("pending", "pending")
        # Approved: work starts, and from then on the customer writing reopens as usual.
        assert await decide_approval(svc.ctx, CLI, ticket.id, "approve") == "approved"
        assert await statuses() == ("open", "open")
    finally:
        await widget.close()
