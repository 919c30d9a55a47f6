"""Macros and bulk changes through the API: CRUD, who may do what, validation, one
transaction per apply, the variables, bulk results per conversation, idempotent retries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from inbox.actions.macros import fill_variables, parse_duration
from inbox.errors import Invalid
from inbox.store.models import Agent, AuditEntry, Conversation, Message, OutboxItem, Team
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def conversations(api: Api, n: int, prefix: str = "m", name: str | None = "Ana María López") -> list[int]:
    channel = await add_channel(api.services, f"mail-{prefix}", "email")
    messages = [
        inbound(f"{prefix}{i}", sender=f"c{i}@example.com", subject=f"Case {i}", **({"name": name} if name else {})) for i in range(n)
    ]
    results = await api.services.ingestor.ingest(channel, messages)
    return [r.conversation_id for r in results]


async def macro(api: Api, token: str, actions: list[dict[str, Any]], name: str = "Thanks", shared: bool = False) -> dict[str, Any]:
    response = await api.client.post("/api/v1/macros", headers=api.auth(token), json={"name": name, "actions": actions, "shared": shared})
    assert response.status_code == 201, response.text
    return response.json()


async def count(api: Api, model: Any, *where: Any) -> int:
    async with api.services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_variables_are_filled_and_unknown_ones_stay_as_typed() -> None:
    values = {"contact.name": "Ana López", "contact.first_name": "Ana", "agent.name": "Boss", "ticket.number": ""}
    text = "Hi {{contact.first_name}}, {{ agent.name }} here ({{contact.name}}){{ticket.number}} {{contact.phone}} {{nope}} {contact.name}"
    assert fill_variables(text, values) == "Hi Ana, Boss here (Ana López) {{contact.phone}} {{nope}} {contact.name}"


@pytest.mark.parametrize("text", ["4h", "PT", "P", "-PT1H", "PT0S", "P400D", "01:00:00"])
def test_snooze_needs_a_positive_iso_duration(text: str) -> None:
    with pytest.raises(Invalid):
        parse_duration(text)
    assert parse_duration("P1DT2H").total_seconds() == 26 * 3600 and parse_duration("pt4h").total_seconds() == 4 * 3600


async def test_macro_crud_permissions_and_validation(api: Api) -> None:
    _, ana = await add_agent(api.services, "ana@example.com")
    _, bob = await add_agent(api.services, "bob@example.com")
    mine = await macro(api, ana, [{"status": "pending"}], name="Mine")
    shared = await macro(api, ana, [{"add_tags": ["b", "a", "a"]}, {"snooze": "PT4H"}], name="Shared", shared=True)
    assert shared["actions"] == [{"add_tags": ["a", "b"]}, {"snooze": "PT4H"}]
    names = lambda r: [m["name"] for m in r.json()["items"]]  # noqa: E731
    assert names(await api.client.get("/api/v1/macros", headers=api.auth(bob))) == ["Shared"]
    assert names(await api.client.get("/api/v1/macros", headers=api.auth(ana))) == ["Mine", "Shared"]
    # Bob may apply the shared one but not edit it; he cannot see Ana's personal one at all.
    assert (await api.client.patch(f"/api/v1/macros/{shared['id']}", headers=api.auth(bob), json={"name": "x"})).status_code == 403
    assert (await api.client.delete(f"/api/v1/macros/{mine['id']}", headers=api.auth(bob))).status_code == 404
    # An admin edits the shared one.
    edited = await api.client.patch(f"/api/v1/macros/{shared['id']}", headers=api.auth(api.admin_token), json={"shared": False})
    assert edited.status_code == 200 and edited.json()["shared"] is False
    duplicate = await api.client.post("/api/v1/macros", headers=api.auth(ana), json={"name": "Mine", "actions": [{"priority": "P1"}]})
    assert duplicate.status_code == 409
    for bad, message in [
        ([{"explode": 1}], "unknown action 'explode'"),
        ([{"snooze": "4 hours"}], "ISO-8601"),
        ([{"priority": "P9"}], "priority must be one of"),
        ([{"status": "pending", "priority": "P1"}], "one key"),
        ([{"reply": "  "}], "reply needs a text"),
    ]:
        refused = await api.client.post("/api/v1/macros", headers=api.auth(ana), json={"name": "Bad", "actions": bad})
        assert refused.status_code == 422 and message in refused.json()["error"]["message"], refused.text
    assert (await api.client.delete(f"/api/v1/macros/{mine['id']}", headers=api.auth(ana))).status_code == 204
    async with api.services.db.read() as session:
        audit = [(e.action, e.target) for e in (await session.scalars(select(AuditEntry).where(AuditEntry.action.like("macro.%")))).all()]
    assert audit == [
        ("macro.create", f"macro:{mine['id']}"),
        ("macro.create", f"macro:{shared['id']}"),
        ("macro.update", f"macro:{shared['id']}"),
        ("macro.delete", f"macro:{mine['id']}"),
    ]


async def test_apply_fills_variables_and_changes_everything(api: Api) -> None:
    [cid] = await conversations(api, 1)
    ticket = await api.client.post(f"/api/v1/conversations/{cid}/ticket", headers=api.auth(api.admin_token), json={"kind": "incident"})
    number = ticket.json()["number"]
    m = await macro(
        api,
        api.admin_token,
        [
            {"reply": "Hello {{contact.first_name}}, ticket {{ticket.number}}. {{agent.name}} {{contact.age}}"},
            {"note": "for {{contact.name}}"},
            {"assign": "BOSS@example.com"},
            {"add_tags": ["refund"]},
            {"priority": "P2"},
            {"snooze": "PT4H"},
        ],
    )
    response = await api.client.post(f"/api/v1/conversations/{cid}/macros/{m['id']}", headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text
    async with api.services.db.read() as session:
        texts = [
            (x.text, x.private)
            for x in (
                await session.scalars(
                    select(Message).where(Message.conversation_id == cid, Message.author_type == "agent").order_by(Message.id)
                )
            ).all()
        ]
        conversation = await session.get(Conversation, cid)
    assert texts == [(f"Hello Ana, ticket {number}. Boss {{{{contact.age}}}}", False), ("for Ana María López", True)]
    assert conversation is not None and (conversation.status, conversation.priority, conversation.tags) == ("snoozed", "P2", ["refund"])
    assert conversation.snoozed_until is not None and conversation.assignee_id is not None
    entry = (await api.client.get("/api/v1/audit", headers=api.auth(api.admin_token))).json()
    assert any(e["action"] == "macro.apply" and e["target"] == f"conversation:{cid}" for e in entry["items"])


async def test_a_failing_action_rolls_back_the_others(api: Api) -> None:
    [cid] = await conversations(api, 1)
    helper, _ = await add_agent(api.services, "helper@example.com")
    m = await macro(api, api.admin_token, [{"reply": "On it"}, {"priority": "P1"}, {"assign": "helper@example.com"}])
    async with api.services.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id == helper.id).values(active=False))
    response = await api.client.post(f"/api/v1/conversations/{cid}/macros/{m['id']}", headers=api.auth(api.admin_token))
    assert response.status_code == 422 and "no active agent" in response.json()["error"]["message"]
    assert await count(api, Message, Message.conversation_id == cid, Message.direction == "out") == 0
    assert await count(api, OutboxItem) == 0
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, cid)
    assert conversation is not None and conversation.priority is None
    assert await count(api, AuditEntry, AuditEntry.action.in_(["macro.apply", "message.create", "conversation.update"])) == 0


async def test_applying_someone_elses_personal_macro_is_not_found(api: Api) -> None:
    [cid] = await conversations(api, 1)
    _, ana = await add_agent(api.services, "ana@example.com")
    m = await macro(api, api.admin_token, [{"priority": "P1"}])
    response = await api.client.post(f"/api/v1/conversations/{cid}/macros/{m['id']}", headers=api.auth(ana))
    assert response.status_code == 404 and response.json()["error"]["message"] == "macro not found"


async def test_bulk_with_visible_invisible_and_missing_ids(api: Api) -> None:
    ids = await conversations(api, 4)
    agent, token = await add_agent(api.services, "ana@example.com")
    async with api.services.db.transaction() as session:
        team = Team(name="Secret")
        session.add(team)
        await session.flush()
        await session.execute(update(Conversation).where(Conversation.id == ids[1]).values(team_id=team.id))
    body = {"ids": [ids[0], ids[1], 999999, ids[2], ids[0]], "changes": {"status": "pending", "add_tags": ["vip"], "priority": "P3"}}
    response = await api.client.post("/api/v1/conversations/bulk", headers=api.auth(token), json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"updated": 2, "errors": [{"id": ids[1], "error": "not found"}, {"id": 999999, "error": "not found"}]}
    async with api.services.db.read() as session:
        rows = {c.id: c for c in (await session.scalars(select(Conversation))).all()}
    assert [(rows[i].status, rows[i].tags, rows[i].priority) for i in ids] == [
        ("pending", ["vip"], "P3"),
        ("open", [], None),
        ("pending", ["vip"], "P3"),
        ("open", [], None),
    ]
    removed = await api.client.post(
        "/api/v1/conversations/bulk", headers=api.auth(token), json={"ids": [ids[0]], "changes": {"remove_tags": ["vip"]}}
    )
    assert removed.json() == {"updated": 1, "errors": []}
    unknown = await api.client.post(
        "/api/v1/conversations/bulk", headers=api.auth(token), json={"ids": [ids[0]], "changes": {"assignee": "nobody@example.com"}}
    )
    assert unknown.status_code == 422
    too_many = await api.client.post(
        "/api/v1/conversations/bulk", headers=api.auth(token), json={"ids": list(range(1, 10_002)), "changes": {"status": "open"}}
    )
    assert too_many.status_code == 422
    by_filter = await api.client.post(
        "/api/v1/conversations/bulk", headers=api.auth(token), json={"filters": {"status": "open"}, "changes": {"priority": "P5"}}
    )
    assert by_filter.json() == {"updated": 1, "errors": []}  # the only open one Ana sees: ids[3]
    assert agent.id


async def test_an_idempotent_retry_sends_once(api: Api) -> None:
    ids = await conversations(api, 3)
    m = await macro(api, api.admin_token, [{"reply": "We are on it, {{contact.first_name}}"}, {"status": "pending"}])
    headers = {**api.auth(api.admin_token), "Idempotency-Key": "run-1"}
    body = {"ids": ids, "macro": m["id"]}
    first = await api.client.post("/api/v1/conversations/bulk", headers=headers, json=body)
    assert first.status_code == 200 and first.json() == {"updated": 3, "errors": []}
    again = await api.client.post("/api/v1/conversations/bulk", headers=headers, json=body)
    assert again.json() == first.json()
    assert await count(api, OutboxItem) == 3
    assert await count(api, Message, Message.direction == "out", Message.text == "We are on it, Ana") == 3
    other = await api.client.post("/api/v1/conversations/bulk", headers=headers, json={"ids": ids[:1], "macro": m["id"]})
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    # Without a key, the same request is a new one.
    fresh = await api.client.post("/api/v1/conversations/bulk", headers=api.auth(api.admin_token), json={"ids": ids[:1], "macro": m["id"]})
    assert fresh.json() == {"updated": 1, "errors": []} and await count(api, OutboxItem) == 4


async def test_an_interrupted_keyed_run_resumes_without_sending_twice(api: Api) -> None:
    ids = await conversations(api, 3)
    m = await macro(api, api.admin_token, [{"reply": "Hello"}])
    headers = {**api.auth(api.admin_token), "Idempotency-Key": "run-2"}
    first = await api.client.post("/api/v1/conversations/bulk", headers=headers, json={"ids": ids, "macro": m["id"]})
    assert first.json()["updated"] == 3
    # As if the run had stopped before storing its result: the items stay, the result is lost.
    from inbox.store.models import BulkRequest

    async with api.services.db.transaction() as session:
        await session.execute(update(BulkRequest).values(result=None))
    again = await api.client.post("/api/v1/conversations/bulk", headers=headers, json={"ids": ids, "macro": m["id"]})
    assert again.json() == {"updated": 3, "errors": []}
    assert await count(api, OutboxItem) == 3
