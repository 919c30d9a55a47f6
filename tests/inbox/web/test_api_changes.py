"""Change management through the API: lifecycle, risk through the graph, approvals (agent and
team approvers, reject, standard changes skip approval), the signed e-mail link (valid once,
expired, tampered, GET never decides), the calendar's conflicts and freezes, and an incident's
suspected changes. Services, items and edges are rows written by the fixture."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from channels.base import ChannelContext, WebhookRequest
from channels.slack import SlackChannel, SlackConfig
from inbox.actions import changes as change_actions
from inbox.config import OutboxConfig
from inbox.pipeline.outbox import OutboxWorker
from inbox.runtime.channels import ChannelSink
from inbox.store.models import Agent, AuditEntry, ConfigItem, Dependency, Event, Message, Service, Team, TeamMember, TicketAffected, utcnow
from tests.fixtures.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, event_callback, fake_slack, message_event, sign, signed_request  # noqa: F401
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound

T0 = dt.datetime(2030, 3, 2, 10, 0, tzinfo=dt.UTC)


def at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat()


async def graph(api: Api) -> dict[str, tuple[str, int]]:
    """Checkout (high) and Wiki (low) services; Checkout depends on the CI pg-main, which runs on the CI rack-1."""
    async with api.services.db.transaction() as session:
        checkout = Service(name="Checkout", criticality="high")
        wiki = Service(name="Wiki", criticality="low")
        session.add_all([checkout, wiki])
        await session.flush()
        pg = ConfigItem(name="pg-main", kind="database", service_id=checkout.id, attributes={})
        rack = ConfigItem(name="rack-1", kind="server", attributes={})
        session.add_all([pg, rack])
        await session.flush()
        session.add_all(
            [
                Dependency(source_type="service", source_id=checkout.id, target_type="config_item", target_id=pg.id),
                Dependency(source_type="config_item", source_id=pg.id, target_type="config_item", target_id=rack.id),
            ]
        )
        return {
            "Checkout": ("service", checkout.id),
            "Wiki": ("service", wiki.id),
            "pg-main": ("config_item", pg.id),
            "rack-1": ("config_item", rack.id),
        }


async def team(api: Api, name: str, *agent_ids: int) -> None:
    async with api.services.db.transaction() as session:
        row = Team(name=name)
        session.add(row)
        await session.flush()
        session.add_all([TeamMember(team_id=row.id, agent_id=a) for a in agent_ids])


async def create(api: Api, token: str, **body: Any) -> dict[str, Any]:
    response = await api.client.post("/api/v1/changes", json={"title": "Upgrade", **body}, headers=api.auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def move(api: Api, token: str, change_id: int, status: str) -> Any:
    return await api.client.patch(f"/api/v1/changes/{change_id}", json={"status": status}, headers=api.auth(token))


async def test_lifecycle_risk_and_approvals_by_agent_and_team(api: Api) -> None:
    await graph(api)
    await add_channel(api.services, "mail", "email")
    ana, ana_token = await add_agent(api.services, "ana@example.com")
    bob, bob_token = await add_agent(api.services, "bob@example.com")
    _, eve_token = await add_agent(api.services, "eve@example.com")
    await team(api, "CAB", bob.id)
    async with api.services.db.transaction() as session:
        await session.execute(update(Agent).where(Agent.id == bob.id).values(language="es"))
    change = await create(
        api,
        eve_token,
        items=["rack-1"],
        approvers=["ana@example.com", "CAB"],
        planned_start=at(1),
        planned_end=at(2),
        backout_plan="restore",
    )
    # rack-1 is reached by pg-main and Checkout (high): 3, a normal change: +1 → medium
    assert (change["status"], change["risk"], change["number"]) == ("draft", "medium", 1)
    assert change["risk_reasons"][:2] == ["touches Checkout (high criticality): +3", "normal change: +1"]
    assert [a["approver"] for a in change["approvers"]] == ["ana@example.com", "CAB"]
    assert change["requested_by"] == "eve@example.com" and change["items"] == ["rack-1"]
    refused = await move(api, eve_token, change["id"], "scheduled")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "illegal_transition"
    assert "cannot go from draft to scheduled" in refused.json()["error"]["message"]
    assert (await move(api, eve_token, change["id"], "assessment")).json()["status"] == "assessment"
    skip = await move(api, eve_token, change["id"], "scheduled")
    assert skip.status_code == 409 and "approvers approve" in skip.json()["error"]["message"]
    assert (await move(api, eve_token, change["id"], "approval")).json()["status"] == "approval"
    # every approver (the team's members) got an e-mail through the outbox
    async with api.services.db.read() as session:
        mails = (await session.scalars(select(Message).where(Message.subject.like("%#1 ne%")).order_by(Message.id))).all()
        assert [m.subject for m in mails] == ["Change #1 needs your approval: Upgrade", "El cambio #1 necesita tu aprobación: Upgrade"]
        assert all(m.delivery == "queued" for m in mails) and "Aprobar: http://" in mails[1].text
    outsider = await api.client.post(f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve"}, headers=api.auth(eve_token))
    assert outsider.status_code == 403
    by_team = await api.client.post(
        f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve", "comment": "ok for CAB"}, headers=api.auth(bob_token)
    )
    assert by_team.status_code == 200 and by_team.json()["status"] == "approval"
    assert [a["decision"] for a in by_team.json()["approvers"]] == [None, "approve"]
    again = await api.client.post(f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve"}, headers=api.auth(bob_token))
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_decided"
    mine = await api.client.get(f"/api/v1/changes/{change['id']}", headers=api.auth(ana_token))
    assert [a["can_decide"] for a in mine.json()["approvers"]] == [True, False]
    done = await api.client.post(f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve"}, headers=api.auth(ana_token))
    assert done.json()["status"] == "scheduled"
    locked = await api.client.patch(f"/api/v1/changes/{change['id']}", json={"title": "x"}, headers=api.auth(eve_token))
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "change_locked"
    for status in ("implementing", "review", "closed"):
        assert (await move(api, eve_token, change["id"], status)).json()["status"] == status
    final = await move(api, eve_token, change["id"], "draft")
    assert final.status_code == 409 and "final" in final.json()["error"]["message"]
    async with api.services.db.read() as session:
        decisions = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "change.approval").order_by(AuditEntry.id))).all()
        assert [(d.agent_id, d.details["decision"], d.details["via"]) for d in decisions] == [
            (bob.id, "approve", "api"),
            (ana.id, "approve", "api"),
        ]
        types = [e.type for e in (await session.scalars(select(Event).where(Event.type.like("change.%")).order_by(Event.seq))).all()]
    assert types[0] == "change.created" and "change.approval_requested" in types and types.count("change.approved") == 2
    listed = (await api.client.get("/api/v1/changes?status=closed", headers=api.auth(eve_token))).json()["items"]
    assert [c["id"] for c in listed] == [change["id"]]


async def test_reject_standard_skip_failed_history_and_bad_input(api: Api) -> None:
    await graph(api)
    _, ana_token = await add_agent(api.services, "ana@example.com")
    _, eve_token = await add_agent(api.services, "eve@example.com")
    normal = await create(api, eve_token, items=["pg-main"], approvers=["ana@example.com"])
    await move(api, eve_token, normal["id"], "assessment")
    await move(api, eve_token, normal["id"], "approval")
    rejected = await api.client.post(
        f"/api/v1/changes/{normal['id']}/approvals", json={"decision": "reject", "comment": "no backout plan"}, headers=api.auth(ana_token)
    )
    assert rejected.json()["status"] == "rejected" and rejected.json()["approvers"][0]["comment"] == "no backout plan"
    standard = await create(api, eve_token, type="standard", items=["Wiki"])
    assert standard["risk"] == "low"
    await move(api, eve_token, standard["id"], "assessment")
    assert "needs no approval" in (await move(api, eve_token, standard["id"], "approval")).json()["error"]["message"]
    assert (await move(api, eve_token, standard["id"], "scheduled")).json()["status"] == "scheduled"
    for status in ("implementing", "failed"):
        await move(api, eve_token, standard["id"], status)
    after_failure = await create(api, eve_token, type="standard", items=["Wiki"])
    assert after_failure["risk_reasons"][-1] == "1 failed change(s) on these items in 90 days: +1" and after_failure["risk"] == "low"
    assert (await create(api, eve_token, type="emergency", items=["Wiki"]))["risk"] == "medium"
    bad = [
        {"title": "x", "items": ["nope"]},
        {"title": "x", "approvers": ["ghost@example.com"]},
        {"title": "x", "approvers": ["No team"]},
        {"title": "x", "type": "huge"},
        {"title": "x", "planned_start": "2030-01-01T10:00:00"},
        {"title": "x", "planned_start": at(2), "planned_end": at(1)},
        {"title": "x", "problem_id": 9_999_999},
        {"title": "x", "problem_id": 2**70},
    ]
    for body in bad:
        answer = await api.client.post("/api/v1/changes", json=body, headers=api.auth(eve_token))
        assert answer.status_code == 422, (body, answer.text)
    assert (await api.client.get("/api/v1/changes/99999999", headers=api.auth(eve_token))).status_code == 404
    assert (await move(api, eve_token, normal["id"], "bogus")).status_code == 422


async def test_signed_link_valid_once_expired_tampered_and_get_never_decides(api: Api) -> None:
    await graph(api)
    await add_channel(api.services, "mail", "email")
    ana, ana_token = await add_agent(api.services, "ana@example.com")
    _, eve_token = await add_agent(api.services, "eve@example.com")
    change = await create(api, eve_token, items=["Wiki"], approvers=["ana@example.com"])
    await move(api, eve_token, change["id"], "assessment")
    await move(api, eve_token, change["id"], "approval")
    async with api.services.db.read() as session:
        mail = (await session.scalars(select(Message).where(Message.subject.like("Change #%")))).one()
    text = mail.text
    # The mail holds signed links: only its agent sees its conversation (an admin sees everything).
    hidden = await api.client.get(f"/api/v1/conversations/{mail.conversation_id}", headers=api.auth(eve_token))
    assert hidden.status_code == 404
    listed = (await api.client.get("/api/v1/conversations?status=resolved", headers=api.auth(eve_token))).json()["items"]
    assert mail.conversation_id not in [c["id"] for c in listed]
    assert (await api.client.get(f"/api/v1/conversations/{mail.conversation_id}", headers=api.auth(ana_token))).status_code == 200
    approve = re.search(r"Approve: http://127\.0\.0\.1:8000(\S+)", text)
    reject = re.search(r"Reject: http://127\.0\.0\.1:8000(\S+)", text)
    assert approve and reject
    page = await api.client.get(approve.group(1), headers={"Accept-Language": "es"})
    assert page.status_code == 200 and "Aprobar" in page.text and "Upgrade" in page.text
    assert (await api.client.get(approve.group(1))).status_code == 200  # a scanner's prefetch, twice
    assert (await api.client.get(f"/api/v1/changes/{change['id']}", headers=api.auth(eve_token))).json()["status"] == "approval"
    tampered = approve.group(1)[:-3] + ("AAA" if not approve.group(1).endswith("AAA") else "BBB")
    assert (await api.client.get(tampered)).status_code == 404
    assert (await api.client.post(tampered, data={"comment": ""})).status_code == 404
    swapped = approve.group(1).replace(".approve.", ".reject.")
    assert (await api.client.post(swapped, data={})).status_code == 404  # the decision is signed too
    decided = await api.client.post(approve.group(1), data={"comment": "fine"})
    assert decided.status_code == 200 and "You approved this change" in decided.text
    assert (await api.client.get(f"/api/v1/changes/{change['id']}", headers=api.auth(eve_token))).json()["status"] == "scheduled"
    assert (await api.client.post(approve.group(1), data={})).status_code == 409  # single use
    async with api.services.db.read() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "change.approval"))).one()
    assert (entry.agent_id, entry.details["via"], entry.details["comment"]) == (ana.id, "email", "fine")
    expired = change_actions.sign_link(api.services.ctx, "n" * 32, "approve", utcnow() - dt.timedelta(minutes=1))
    gone = await api.client.get(f"/changes/decide/{expired}")
    assert gone.status_code == 422 and "expired" in gone.text
    assert (await api.client.get("/changes/decide/" + "x" * 400)).status_code == 404


async def test_calendar_conflicts_through_dependencies_and_freezes(api: Api) -> None:
    await graph(api)
    _, eve_token = await add_agent(api.services, "eve@example.com")
    on_rack = await create(api, eve_token, title="Rack firmware", items=["rack-1"], planned_start=at(0), planned_end=at(4))
    on_checkout = await create(api, eve_token, title="Checkout deploy", items=["Checkout"], planned_start=at(3), planned_end=at(5))
    later = await create(api, eve_token, title="Later", items=["pg-main"], planned_start=at(10), planned_end=at(11))
    apart = await create(api, eve_token, title="Wiki", items=["Wiki"], planned_start=at(3), planned_end=at(4))
    window = {"from": at(-24), "to": at(48)}
    calendar = (await api.client.get("/api/v1/changes/calendar", params=window, headers=api.auth(eve_token))).json()
    conflicts = {c["id"]: [x["id"] for x in c["conflicts"]] for c in calendar["changes"]}
    # Checkout depends on pg-main which depends on rack-1: overlapping in time, they conflict.
    assert conflicts == {on_rack["id"]: [on_checkout["id"]], on_checkout["id"]: [on_rack["id"]], apart["id"]: [], later["id"]: []}
    freeze = await api.client.post(
        "/api/v1/change-freezes", json={"name": "Black Friday", "start": at(20), "end": at(30)}, headers=api.auth(api.admin_token)
    )
    assert freeze.status_code == 201
    assert (
        await api.client.post("/api/v1/change-freezes", json={"name": "x", "start": at(1), "end": at(2)}, headers=api.auth(eve_token))
    ).status_code == 403
    refused = await api.client.post(
        "/api/v1/changes",
        json={"title": "During", "items": ["Wiki"], "planned_start": at(25), "planned_end": at(26)},
        headers=api.auth(eve_token),
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "change_freeze"
    moved = await api.client.patch(
        f"/api/v1/changes/{later['id']}", json={"planned_start": at(29), "planned_end": at(31)}, headers=api.auth(eve_token)
    )
    assert moved.status_code == 422 and moved.json()["error"]["code"] == "change_freeze"
    emergency = await create(api, eve_token, title="Hotfix", type="emergency", items=["Wiki"], planned_start=at(25), planned_end=at(26))
    calendar = (await api.client.get("/api/v1/changes/calendar", params=window, headers=api.auth(eve_token))).json()
    assert [f["name"] for f in calendar["freezes"]] == ["Black Friday"]
    assert next(c for c in calendar["changes"] if c["id"] == emergency["id"])["in_freeze"] == ["Black Friday"]
    bad = await api.client.get("/api/v1/changes/calendar", params={"from": at(0), "to": at(-1)}, headers=api.auth(eve_token))
    assert bad.status_code == 422
    freeze_id = freeze.json()["id"]
    assert (await api.client.delete(f"/api/v1/change-freezes/{freeze_id}", headers=api.auth(api.admin_token))).status_code == 204
    assert (await api.client.get("/api/v1/change-freezes", headers=api.auth(eve_token))).json()["items"] == []


async def test_suspected_changes_of_an_incident_within_48_hours(api: Api) -> None:
    nodes = await graph(api)
    _, eve_token = await add_agent(api.services, "eve@example.com")
    now = utcnow()
    recent = await api.client.post(
        "/api/v1/changes",
        json={"title": "pg upgrade", "type": "emergency", "items": ["pg-main"], "planned_start": (now - dt.timedelta(hours=3)).isoformat(),
              "planned_end": (now - dt.timedelta(hours=2)).isoformat()},
        headers=api.auth(eve_token),
    )  # fmt: skip
    old = await api.client.post(
        "/api/v1/changes",
        json={"title": "old", "type": "emergency", "items": ["pg-main"], "planned_start": (now - dt.timedelta(hours=60)).isoformat(),
              "planned_end": (now - dt.timedelta(hours=50)).isoformat()},
        headers=api.auth(eve_token),
    )  # fmt: skip
    # An emergency change is still approved (by an emergency CAB): one approver each here.
    _, ana_token = await add_agent(api.services, "ana@example.com")
    for change in (recent.json(), old.json()):
        await api.client.patch(f"/api/v1/changes/{change['id']}", json={"approvers": ["ana@example.com"]}, headers=api.auth(eve_token))
        for status in ("assessment", "approval"):
            await move(api, eve_token, change["id"], status)
        await api.client.post(f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve"}, headers=api.auth(ana_token))
        assert (await move(api, eve_token, change["id"], "implementing")).json()["status"] == "implementing"
    channel = await add_channel(api.services, "web")
    [result] = await api.services.ingestor.ingest(channel, [inbound("m1", text="checkout is down")])
    ticket = await api.client.post(
        f"/api/v1/conversations/{result.conversation_id}/ticket", json={"kind": "incident"}, headers=api.auth(api.admin_token)
    )
    ticket_id = ticket.json()["id"]
    assert ticket.json()["suspected_changes"] == []
    async with api.services.db.transaction() as session:
        node_type, node_id = nodes["Checkout"]
        session.add(TicketAffected(ticket_id=ticket_id, node_type=node_type, node_id=node_id))
    shown = (await api.client.get(f"/api/v1/tickets/{ticket_id}", headers=api.auth(api.admin_token))).json()["suspected_changes"]
    # Checkout depends on pg-main: the change of 3 hours ago is suspected, the one of 60 hours ago is not.
    assert [(c["id"], c["title"], c["status"]) for c in shown] == [(recent.json()["id"], "pg upgrade", "implementing")]


async def test_slack_buttons_decide_through_the_signed_interactive_endpoint(api: Api, fake_slack: FakeSlack) -> None:  # noqa: F811
    await graph(api)
    ref = await add_channel(api.services, "slack", "slack")
    config = SlackConfig.model_validate(
        {"name": "slack", "type": "slack", "bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET, "api_url": fake_slack.api_url}
    )
    slack = SlackChannel(config, ChannelContext(public_url="http://127.0.0.1:8000"))
    await slack.start(ChannelSink(api.services.ingestor, ref, interactions=api.services.interact))
    try:
        # Ana wrote to the bot once: Slack told us her e-mail, so she is "on Slack".
        said_hi = await slack.handle_webhook(signed_request(event_callback(message_event("hi", channel="D0ANA"))))
        assert said_hi.status == 200
        ana, _ = await add_agent(api.services, "ana@example.com")
        _, eve_token = await add_agent(api.services, "eve@example.com")
        change = await create(api, eve_token, items=["Wiki"], approvers=["ana@example.com"])
        for status in ("assessment", "approval"):
            await move(api, eve_token, change["id"], status)
        worker = OutboxWorker(
            api.services.db, api.services.bus, lambda cid: slack if cid == ref.id else None, OutboxConfig(base_delay=0.01)
        )
        assert await worker.drain_once() == 1
        await asyncio.gather(*worker._inflight)  # noqa: SLF001 - the sends drain_once started
        post = fake_slack.posts[-1]
        blocks = post.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        buttons = blocks[1]["elements"]
        assert post.channel == "D0ANA" and [b["action_id"] for b in buttons] == ["frontdesk:change:approve", "frontdesk:change:reject"]

        def press(action: dict[str, Any], secret: str = SIGNING_SECRET) -> WebhookRequest:
            payload = {
                "type": "block_actions",
                "team": {"id": "T0TEAM"},
                "user": {"id": "U0ANA"},
                "api_app_id": "A0APP",
                "token": "legacy",
                "trigger_id": "1.2.3",
                "channel": {"id": "D0ANA"},
                "actions": [{**action, "type": "button", "action_ts": "1.0"}],
            }
            body = urlencode({"payload": json.dumps(payload)}).encode()
            headers = {**sign(body, secret=secret), "content-type": "application/x-www-form-urlencoded"}
            return WebhookRequest(method="POST", path="/hooks/slack/slack", headers=headers, body=body)

        forged = await slack.handle_webhook(press(buttons[0], secret="not-the-secret"))
        assert forged.status == 401
        assert (await api.client.get(f"/api/v1/changes/{change['id']}", headers=api.auth(eve_token))).json()["status"] == "approval"
        pressed = await slack.handle_webhook(press(buttons[0]))
        assert pressed.status == 200
        assert (await api.client.get(f"/api/v1/changes/{change['id']}", headers=api.auth(eve_token))).json()["status"] == "scheduled"
        assert fake_slack.ephemeral[-1]["text"].startswith("Recorded: you approved change")
        again = await slack.handle_webhook(press(buttons[1]))
        assert again.status == 200 and "not waiting for approval" in fake_slack.ephemeral[-1]["text"]
        async with api.services.db.read() as session:
            entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "change.approval"))).one()
        assert (entry.agent_id, entry.details["via"]) == (ana.id, "slack")
    finally:
        await slack.stop()


async def test_change_freezes_from_the_config_are_provisioned_read_only(api: Api) -> None:
    from inbox import config as config_module
    from inbox.config import ConfigError

    raw = {"server": {"secret_key": "x" * 20}, "change_freezes": [{"name": "Year end", "start": at(0), "end": at(24)}]}
    parsed = config_module.parse(raw, "t.toml", {})
    freezes = [(f.name, f.start, f.end) for f in parsed.change_freezes]
    for bad in ({"name": "x", "start": at(2), "end": at(1)}, {"name": "x", "start": "2030-01-01T00:00:00", "end": at(1)}):
        with pytest.raises(ConfigError, match="change_freezes"):
            config_module.parse({**raw, "change_freezes": [bad]}, "t.toml", {})
    await change_actions.provision_freezes(api.services.ctx, freezes)
    await change_actions.provision_freezes(api.services.ctx, freezes)  # at every start: the same rows
    listed = (await api.client.get("/api/v1/change-freezes", headers=api.auth(api.admin_token))).json()["items"]
    assert [(f["name"], f["provisioned"]) for f in listed] == [("Year end", True)]
    refused = await api.client.delete(f"/api/v1/change-freezes/{listed[0]['id']}", headers=api.auth(api.admin_token))
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "provisioned"
    await change_actions.provision_freezes(api.services.ctx, [])
    assert (await api.client.get("/api/v1/change-freezes", headers=api.auth(api.admin_token))).json()["items"] == []
