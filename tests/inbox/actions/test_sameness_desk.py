"""The agent's desk through the API and the UI: the same action, the same audit entry, the
same stored result, and the same refusal (conversations, replies, tickets, problems, contacts)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from inbox.store.models import AuditEntry, Contact, Conversation, Event, Message, Problem, Ticket
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces  # noqa: F401  (the fixture)

BOTH = ["api", "ui"]


async def conversation(surfaces: Surfaces, external_id: str = "m1", sender: str = "ana@example.com") -> int:
    channel = await add_channel(surfaces.api.services, f"mail-{external_id}", "email")
    [r] = await surfaces.api.services.ingestor.ingest(channel, [inbound(external_id, sender=sender, subject=f"About {external_id}")])
    return r.conversation_id


async def incident(surfaces: Surfaces, cid: int, kind: str = "incident") -> Ticket:
    response = await surfaces.call("POST", f"/api/v1/conversations/{cid}/ticket", json={"kind": kind})
    assert response.status_code == 201, response.text
    return await row(surfaces, Ticket, response.json()["id"])


async def row(surfaces: Surfaces, model: Any, id_: int) -> Any:
    async with surfaces.api.services.db.read() as session:
        found = await session.get(model, id_)
    assert found is not None
    return found


async def entry(surfaces: Surfaces) -> tuple[str, str, dict[str, Any]]:
    last = await surfaces.last_audit()
    return last.action, last.target, last.details


async def audit_count(surfaces: Surfaces) -> int:
    async with surfaces.api.services.db.read() as session:
        return int(await session.scalar(select(func.count(AuditEntry.id))) or 0)


@pytest.mark.parametrize("surface", BOTH)
async def test_conversation_update_is_one_action(surfaces: Surfaces, surface: str) -> None:
    cid = await conversation(surfaces)
    if surface == "api":
        response = await surfaces.call(
            "PATCH", f"/api/v1/conversations/{cid}", json={"assignee": "boss@example.com", "priority": "P2", "tags": ["web", "slow"]}
        )
        assert response.status_code == 200, response.text
    else:
        response = await surfaces.form(
            f"/conversations/{cid}/update", {"assignee": "boss@example.com", "priority": "P2", "tags": "web, slow"}
        )
        assert response.status_code == 303, response.text
    changes = {"assignee": "boss@example.com", "priority": "P2", "tags": ["slow", "web"]}
    assert await entry(surfaces) == ("conversation.update", f"conversation:{cid}", changes)
    stored = await row(surfaces, Conversation, cid)
    assert (stored.assignee_id is not None, stored.priority, stored.tags) == (True, "P2", ["slow", "web"])
    async with surfaces.api.services.db.read() as session:
        event = await session.scalar(select(Event).where(Event.type == "conversation.updated").order_by(Event.seq.desc()).limit(1))
    assert event is not None and event.payload["changes"] == changes and event.payload["by"] == "boss@example.com"


@pytest.mark.parametrize("surface", BOTH)
async def test_conversation_update_refuses_an_unknown_agent_the_same_way(surfaces: Surfaces, surface: str) -> None:
    cid = await conversation(surfaces)
    before = await audit_count(surfaces)
    if surface == "api":
        response = await surfaces.call(
            "PATCH", f"/api/v1/conversations/{cid}", json={"assignee": "nobody@example.com", "status": "resolved"}
        )
        assert response.status_code == 422 and response.json()["error"]["message"] == "no active agent 'nobody@example.com'"
    else:
        response = await surfaces.form(f"/conversations/{cid}/update", {"assignee": "nobody@example.com", "status": "resolved"})
        assert response.status_code == 422 and "no active agent &#39;nobody@example.com&#39;" in response.text
    stored = await row(surfaces, Conversation, cid)
    assert (stored.status, stored.assignee_id) == ("open", None)
    assert await audit_count(surfaces) == before


@pytest.mark.parametrize("surface", BOTH)
async def test_a_markdown_reply_stores_the_same_html_from_every_surface(surfaces: Surfaces, surface: str) -> None:
    cid = await conversation(surfaces)
    text = "We are **on it**: <script>x</script> see [status](https://status.example.com)"
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/conversations/{cid}/messages", json={"text": text})
        assert response.status_code == 201, response.text
    else:
        response = await surfaces.form(f"/conversations/{cid}/reply", {"text": text})
        assert response.status_code == 303 and "error" not in response.headers["location"]
    async with surfaces.api.services.db.read() as session:
        sent = await session.scalar(select(Message).where(Message.conversation_id == cid, Message.direction == "out"))
        created = await session.scalar(select(Event).where(Event.type == "message.created").order_by(Event.seq.desc()).limit(1))
    assert sent is not None and sent.text == text
    assert sent.html is not None and "<strong>on it</strong>" in sent.html and "<script>" not in sent.html
    assert 'href="https://status.example.com"' in sent.html
    assert created is not None and created.payload["message_id"] == sent.id
    assert await entry(surfaces) == ("message.create", f"message:{sent.id}", {"conversation_id": cid, "private": False, "attachments": 0})


@pytest.mark.parametrize("surface", BOTH)
async def test_a_reply_to_a_missing_conversation_is_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    await conversation(surfaces)
    before = await audit_count(surfaces)
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/conversations/999999/messages", json={"text": "hello"})
        assert response.status_code == 404 and response.json()["error"]["message"] == "conversation not found"
    else:
        response = await surfaces.form("/conversations/999999/reply", {"text": "hello"})
        assert response.status_code == 404
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(func.count(Message.id)).where(Message.direction == "out")) == 0
    assert await audit_count(surfaces) == before


@pytest.mark.parametrize("surface", BOTH)
async def test_convert_to_an_incident_is_one_action(surfaces: Surfaces, surface: str) -> None:
    cid = await conversation(surfaces)
    body = {"kind": "incident", "impact": "high", "urgency": "medium"}
    if surface == "api":
        response = await surfaces.call("POST", f"/api/v1/conversations/{cid}/ticket", json=body)
        assert response.status_code == 201, response.text
        again = await surfaces.call("POST", f"/api/v1/conversations/{cid}/ticket", json=body)
        assert again.status_code == 409 and "already ticket" in again.json()["error"]["message"]
    else:
        response = await surfaces.form(f"/conversations/{cid}/ticket", {**body, "notify": "1"})  # the box is ticked by default
        assert response.status_code == 303 and response.headers["location"] == f"/conversations/{cid}"
        again = await surfaces.form(f"/conversations/{cid}/ticket", body)
        assert again.status_code == 409 and "already ticket" in again.text
    async with surfaces.api.services.db.read() as session:
        tickets = list((await session.scalars(select(Ticket).where(Ticket.conversation_id == cid))).all())
    assert [(t.kind, t.priority, t.impact, t.urgency) for t in tickets] == [("incident", "P2", "high", "medium")]
    details = {"conversation_id": cid, "kind": "incident", "priority": "P2", "impact": "high", "urgency": "medium", "notify": True}
    assert await entry(surfaces) == ("ticket.create", f"ticket:{tickets[0].id}", details)


@pytest.mark.parametrize("surface", BOTH)
async def test_ticket_status_change_is_one_action_and_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    ticket = await incident(surfaces, await conversation(surfaces), kind="request")

    async def change(status: str) -> tuple[bool, str]:
        if surface == "api":
            response = await surfaces.call("PATCH", f"/api/v1/tickets/{ticket.id}", json={"status": status})
            return response.status_code == 200, response.text
        response = await surfaces.form(f"/tickets/{ticket.id}", {"status": status, "problem": "", "children": ""})
        location = response.headers.get("location", "")
        return response.status_code == 303 and "error" not in location, location

    assert (await change("resolved"))[0]
    assert await entry(surfaces) == ("ticket.update", f"ticket:{ticket.id}", {"status": "resolved"})
    before = await audit_count(surfaces)
    done, said = await change("new")
    assert not done and "cannot go from resolved to new".replace(" ", "%20") in said.replace(" ", "%20")
    assert (await row(surfaces, Ticket, ticket.id)).status == "resolved"
    assert await audit_count(surfaces) == before


@pytest.mark.parametrize("surface", BOTH)
async def test_linking_an_incident_to_a_problem_and_children_to_a_major_incident(surfaces: Surfaces, surface: str) -> None:
    major = await incident(surfaces, await conversation(surfaces, "major", "noc@example.com"))
    child = await incident(surfaces, await conversation(surfaces, "child", "bo@example.com"))
    problem = (await surfaces.call("POST", "/api/v1/problems", json={"title": "Disk full"})).json()
    if surface == "api":
        linked = await surfaces.call("PATCH", f"/api/v1/tickets/{major.id}", json={"problem_id": problem["id"]})
        assert linked.status_code == 200, linked.text
        assert await entry(surfaces) == ("ticket.update", f"ticket:{major.id}", {"problem_id": problem["id"]})
        children = await surfaces.call("POST", f"/api/v1/tickets/{major.id}/children", json={"children": [child.id]})
        assert children.status_code == 200, children.text
    else:
        linked = await surfaces.form(f"/tickets/{major.id}", {"status": "new", "problem": str(problem["id"]), "children": ""})
        assert linked.status_code == 303 and "error" not in linked.headers["location"]
        assert await entry(surfaces) == ("ticket.update", f"ticket:{major.id}", {"problem_id": problem["id"]})
        children = await surfaces.form(
            f"/tickets/{major.id}", {"status": "new", "problem": str(problem["id"]), "children": str(child.number)}
        )
        assert children.status_code == 303 and "error" not in children.headers["location"]
    assert await entry(surfaces) == ("ticket.update", f"ticket:{major.id}", {"children": [child.id]})
    assert (await row(surfaces, Ticket, major.id)).problem_id == problem["id"]
    assert (await row(surfaces, Ticket, child.id)).parent_id == major.id
    async with surfaces.api.services.db.read() as session:
        announced = (await session.scalars(select(Event).where(Event.type == "problem.updated"))).all()
    # The link is announced on the incident's own conversation (it reaches who may see it).
    assert [(e.conversation_id, e.payload["changes"]) for e in announced] == [(major.conversation_id, {"incidents": [major.id]})]


@pytest.mark.parametrize("surface", BOTH)
async def test_problem_create_is_one_action_and_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    if surface == "api":
        response = await surfaces.call(
            "POST", "/api/v1/problems", json={"title": " Disk full on db-2 ", "root_cause": " log rotation off "}
        )
        assert response.status_code == 201, response.text
        problem_id = response.json()["id"]
        blank = await surfaces.call("POST", "/api/v1/problems", json={"title": "   "})
        assert blank.status_code == 422 and blank.json()["error"]["message"] == "a title cannot be empty"
    else:
        response = await surfaces.form("/problems", {"title": " Disk full on db-2 ", "root_cause": " log rotation off "})
        assert response.status_code == 303, response.text
        problem_id = int(response.headers["location"].rsplit("/", 1)[1])
        blank = await surfaces.form("/problems", {"title": "   "})
        assert blank.status_code == 422 and "a title cannot be empty" in blank.text
    stored = await row(surfaces, Problem, problem_id)
    assert (stored.title, stored.root_cause, stored.workaround, stored.known_error) == (
        "Disk full on db-2",
        "log rotation off",
        None,
        False,
    )
    details = {"title": "Disk full on db-2", "root_cause": "log rotation off", "workaround": None, "known_error": False}
    assert await entry(surfaces) == ("problem.create", f"problem:{problem_id}", details)
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(func.count(Problem.id))) == 1


@pytest.mark.parametrize("surface", BOTH)
async def test_problem_update_is_one_action_and_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    problem_id = (await surfaces.call("POST", "/api/v1/problems", json={"title": "Disk full", "workaround": "rm old logs"})).json()["id"]
    if surface == "api":
        response = await surfaces.call(
            "PATCH", f"/api/v1/problems/{problem_id}", json={"status": "known_error", "root_cause": "log rotation off"}
        )
        assert response.status_code == 200, response.text
        bad = await surfaces.call("PATCH", f"/api/v1/problems/{problem_id}", json={"status": "bogus"})
        gone = await surfaces.call("PATCH", "/api/v1/problems/999999", json={"status": "open"})
    else:
        form = {"status": "known_error", "root_cause": "log rotation off", "workaround": "rm old logs"}
        response = await surfaces.form(f"/problems/{problem_id}", form)
        assert response.status_code == 303, response.text
        bad = await surfaces.form(f"/problems/{problem_id}", {**form, "status": "bogus"})
        gone = await surfaces.form("/problems/999999", form)
    assert (bad.status_code, gone.status_code) == (422, 404)
    stored = await row(surfaces, Problem, problem_id)
    assert (stored.status, stored.known_error, stored.root_cause, stored.workaround) == (
        "known_error",
        True,
        "log rotation off",
        "rm old logs",
    )
    details = {"status": "known_error", "known_error": True, "root_cause": "log rotation off"}
    assert await entry(surfaces) == ("problem.update", f"problem:{problem_id}", details)


async def test_a_problem_patch_with_nulls_keeps_what_the_ui_cannot_clear(surfaces: Surfaces) -> None:
    problem_id = (await surfaces.call("POST", "/api/v1/problems", json={"title": "Disk full", "workaround": "rm old logs"})).json()["id"]
    response = await surfaces.call(
        "PATCH", f"/api/v1/problems/{problem_id}", json={"title": None, "status": None, "known_error": None, "workaround": None}
    )
    assert response.status_code == 200, response.text
    stored = await row(surfaces, Problem, problem_id)
    assert (stored.title, stored.status, stored.known_error, stored.workaround) == ("Disk full", "open", False, None)
    assert await entry(surfaces) == ("problem.update", f"problem:{problem_id}", {"workaround": None})


async def test_contact_merge_is_an_action_with_its_audit_entry_and_refusals(surfaces: Surfaces) -> None:
    a = await conversation(surfaces, "m1", "ana@example.com")
    b = await conversation(surfaces, "c1", "visitor-9")
    keep, other = (await row(surfaces, Conversation, a)).contact_id, (await row(surfaces, Conversation, b)).contact_id
    merged = await surfaces.form(f"/contacts/{keep}/merge", {"other": str(other)})
    assert merged.status_code == 303 and "error" not in merged.headers["location"]
    assert await entry(surfaces) == ("contact.merge", f"contact:{keep}", {"merged": other})
    assert (await row(surfaces, Contact, other)).merged_into_id == keep
    assert (await row(surfaces, Conversation, b)).contact_id == keep
    before = await audit_count(surfaces)
    again = await surfaces.form(f"/contacts/{keep}/merge", {"other": str(other)})
    itself = await surfaces.form(f"/contacts/{keep}/merge", {"other": str(keep)})
    assert [again.headers["location"], itself.headers["location"]] == [f"/contacts/{keep}?error=merge_failed"] * 2
    assert (await surfaces.form(f"/contacts/{keep}/merge", {"other": "999999"})).status_code == 404
    assert await audit_count(surfaces) == before
