"""Saved views: CRUD and who may change them, the new list filters (waiting, SLA), `view=ID`
on the API's list, and the tab counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from inbox.queries import conversations as conv
from inbox.store.models import Conversation, Message, Ticket, utcnow
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound


async def seed(api: Api, n: int) -> list[int]:
    channel = await add_channel(api.services, "web")
    results = await api.services.ingestor.ingest(channel, [inbound(f"m{i}", sender=f"c{i}@example.com", subject=f"Q{i}") for i in range(n)])
    return [r.conversation_id for r in results]


async def test_views_crud_and_only_owner_or_admin_changes_a_shared_view(api: Api) -> None:
    _, ana = await add_agent(api.services, "ana@example.com")
    _, bob = await add_agent(api.services, "bob@example.com")
    body = {"name": "Urgent waiting", "filters": {"priority": "P1", "waiting_minutes_over": 30, "sla": "breached"}, "shared": True}
    created = await api.client.post("/api/v1/views", json=body, headers=api.auth(ana))
    assert created.status_code == 201, created.text
    view = created.json()
    assert (view["name"], view["filters"], view["shared"], view["owner"]) == (
        "Urgent waiting",
        {"priority": "P1", "waiting_minutes_over": 30, "sla": "breached"},
        True,
        "ana@example.com",
    )
    private = (await api.client.post("/api/v1/views", json={"name": "Mine", "filters": {"tag": "vip"}}, headers=api.auth(ana))).json()
    seen_by_bob = (await api.client.get("/api/v1/views", headers=api.auth(bob))).json()["items"]
    assert [(v["name"], v["can_change"]) for v in seen_by_bob] == [("Urgent waiting", False)]
    assert (await api.client.get(f"/api/v1/views/{private['id']}", headers=api.auth(bob))).status_code == 404
    refused = await api.client.patch(f"/api/v1/views/{view['id']}", json={"name": "Taken"}, headers=api.auth(bob))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert (await api.client.delete(f"/api/v1/views/{view['id']}", headers=api.auth(bob))).status_code == 403
    assert (await api.client.delete(f"/api/v1/views/{private['id']}", headers=api.auth(bob))).status_code == 404
    renamed = await api.client.patch(f"/api/v1/views/{view['id']}", json={"name": "Hot", "shared": False}, headers=api.auth(ana))
    assert renamed.status_code == 200 and (renamed.json()["name"], renamed.json()["shared"]) == ("Hot", False)
    assert (await api.client.get("/api/v1/views", headers=api.auth(bob))).json()["items"] == []
    admin_sees = (await api.client.get("/api/v1/views", headers=api.auth(api.admin_token))).json()["items"]
    assert admin_sees == []  # an admin sees shared views and their own, like anyone
    await api.client.patch(f"/api/v1/views/{view['id']}", json={"shared": True}, headers=api.auth(ana))
    assert (await api.client.delete(f"/api/v1/views/{view['id']}", headers=api.auth(api.admin_token))).status_code == 204
    assert [v["name"] for v in (await api.client.get("/api/v1/views", headers=api.auth(ana))).json()["items"]] == ["Mine"]


async def test_a_bad_view_is_refused_with_a_clear_error(api: Api) -> None:
    for filters, field in (({"sla": "late"}, "sla"), ({"waiting_minutes_over": -1}, "waiting_minutes_over"), ({"colour": "red"}, "colour")):
        response = await api.client.post("/api/v1/views", json={"name": "x", "filters": filters}, headers=api.auth(api.admin_token))
        assert response.status_code == 422, filters
        assert field in response.text
    response = await api.client.post("/api/v1/views", json={"name": "", "filters": {}}, headers=api.auth(api.admin_token))
    assert response.status_code == 422
    assert (await api.client.get("/api/v1/views", headers=api.auth(api.admin_token))).json()["items"] == []


async def _set_times(api: Api, cid: int, inbound_at: dt.datetime, reply_at: dt.datetime | None = None, **reply: object) -> None:
    async with api.services.db.transaction() as session:
        await session.execute(
            update(Message).where(Message.conversation_id == cid, Message.direction == "in").values(created_at=inbound_at)
        )
        if reply_at is not None:
            conversation = await session.get(Conversation, cid)
            assert conversation is not None
            session.add(
                Message(
                    conversation_id=cid,
                    channel_id=conversation.channel_id,
                    external_id=f"out-{cid}-{reply_at.timestamp()}",
                    direction="out",
                    author_type="agent",
                    text="reply",
                    created_at=reply_at,
                    **reply,
                )
            )


async def ids(api: Api, **params: object) -> set[int]:
    response = await api.client.get("/api/v1/conversations", params=params, headers=api.auth(api.admin_token))
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["items"]}


async def test_waiting_means_the_last_inbound_is_unanswered_and_older_than_n_minutes(api: Api) -> None:
    now = utcnow()
    fresh, old_unanswered, answered, answered_then_wrote, noted, auto = await seed(api, 6)
    await _set_times(api, fresh, now - dt.timedelta(minutes=5))
    await _set_times(api, old_unanswered, now - dt.timedelta(minutes=90))
    await _set_times(api, answered, now - dt.timedelta(minutes=90), now - dt.timedelta(minutes=80))
    await _set_times(api, answered_then_wrote, now - dt.timedelta(minutes=60), now - dt.timedelta(minutes=120))
    await _set_times(api, noted, now - dt.timedelta(minutes=90), now - dt.timedelta(minutes=80), private=True)
    await _set_times(api, auto, now - dt.timedelta(minutes=90), now - dt.timedelta(minutes=80), automated=True)
    assert await ids(api, waiting_minutes_over=30, status="open") == {old_unanswered, answered_then_wrote, noted, auto}
    assert await ids(api, waiting_minutes_over=70) == {old_unanswered, noted, auto}
    assert await ids(api, waiting_minutes_over=0) == {fresh, old_unanswered, answered_then_wrote, noted, auto}


async def test_sla_filter_due_soon_and_breached_skip_what_is_met_or_closed(api: Api) -> None:
    now = utcnow()
    soon, late, met, closed, far, late_resolution = await seed(api, 6)
    for cid in (soon, late, met, closed, far, late_resolution):
        assert (await api.client.post(f"/api/v1/conversations/{cid}/ticket", json={}, headers=api.auth(api.admin_token))).status_code == 201
    plan = {
        soon: {"first_response_due": now + dt.timedelta(minutes=30)},
        late: {"first_response_due": now - dt.timedelta(minutes=5)},
        met: {"first_response_due": now - dt.timedelta(minutes=5), "first_response_at": now - dt.timedelta(minutes=10)},
        closed: {"first_response_due": now - dt.timedelta(minutes=5), "status": "closed"},
        far: {"first_response_due": now + dt.timedelta(hours=3)},
        late_resolution: {"first_response_due": now + dt.timedelta(hours=3), "resolution_due": now - dt.timedelta(minutes=1)},
    }
    async with api.services.db.transaction() as session:
        for cid, values in plan.items():
            defaults = {"first_response_at": None, "resolution_due": now + dt.timedelta(days=3), "status": "open"}
            await session.execute(update(Ticket).where(Ticket.conversation_id == cid).values(**{**defaults, **values}))
            await session.execute(update(Conversation).where(Conversation.id == cid).values(first_response_at=None))
    assert await ids(api, sla="due_soon") == {soon}
    assert await ids(api, sla="breached") == {late, late_resolution}
    assert (await api.client.get("/api/v1/conversations?sla=late", headers=api.auth(api.admin_token))).status_code == 422


async def test_view_param_applies_the_saved_filters_and_counts_respect_visibility(api: Api) -> None:
    a, b, c = await seed(api, 3)
    agent, token = await add_agent(api.services, "ana@example.com")
    for cid in (a, b):
        await api.client.patch(f"/api/v1/conversations/{cid}", json={"tags": ["vip"]}, headers=api.auth(api.admin_token))
    await api.client.post("/api/v1/teams", json={"name": "Billing"}, headers=api.auth(api.admin_token))
    await api.client.patch(f"/api/v1/conversations/{b}", json={"team": "Billing"}, headers=api.auth(api.admin_token))
    view = (
        await api.client.post("/api/v1/views", json={"name": "VIP", "filters": {"tag": "vip"}, "shared": True}, headers=api.auth(token))
    ).json()
    listed = await api.client.get(f"/api/v1/conversations?view={view['id']}", headers=api.auth(token))
    assert {x["id"] for x in listed.json()["items"]} == {a}  # b is Billing's, which ana is not in
    assert await ids(api, view=view["id"]) == {a, b}
    assert await ids(api, view=view["id"], tag="other") == set()  # a parameter given wins
    assert (await api.client.get("/api/v1/conversations?view=999999", headers=api.auth(token))).status_code == 404
    async with api.services.db.read() as session:
        from inbox.auth import Principal

        ana = Principal(agent.id, agent.email, agent.name, "agent", None)
        assert await conv.count_conversations(session, ana, conv.ListFilter(tag="vip")) == 1
        assert await conv.count_conversations(session, ana, conv.ListFilter()) == 2
        assert c  # the untagged one counts in the unfiltered list only
