"""Rules on changes (`on = "change"`): a rule on risk = "high" notifies its team (each member
by e-mail through the outbox) and an address once per status the change enters, audited
`rule.notify`; a rule that does not match does nothing; the message router leaves them out."""

from __future__ import annotations

from sqlalchemy import select

from inbox.pipeline.router import load_stored_rules
from inbox.store.models import AuditEntry, Conversation, Message, OutboxItem, Rule, utcnow
from routing.change_rules import stored_conditions
from tests.fixtures.inbox import Api, add_agent, add_channel
from tests.inbox.web.test_api_changes import create, graph, move, team


async def change_rule(api: Api, name: str, conditions: dict[str, object], actions: dict[str, object], position: int) -> None:
    async with api.services.db.transaction() as session:
        session.add(
            Rule(
                name=name,
                conditions=stored_conditions(conditions),
                actions=actions,
                enabled=True,
                position=position,
                provisioned=True,
                created_at=utcnow(),
            )
        )


async def test_a_high_risk_rule_notifies_once_per_status_change_and_a_mismatch_does_nothing(api: Api) -> None:
    await graph(api)
    await add_channel(api.services, "mail", "email")
    await add_channel(api.services, "slack", "slack")
    ana, ana_token = await add_agent(api.services, "ana@example.com")
    bob, _ = await add_agent(api.services, "bob@example.com")
    _, eve_token = await add_agent(api.services, "eve@example.com")
    await team(api, "ops", bob.id)
    await change_rule(
        api,
        "high risk to ops",
        {"risk": "high"},
        {"notify_team": "ops", "notify_email": "ops-list@example.com", "notify_slack": "C0OPS"},
        0,
    )
    await change_rule(api, "wiki outages", {"items": "Wiki", "risk": "high"}, {"notify_email": "wiki@example.com"}, 1)

    # emergency (+2) on Checkout (high, +3): 5, high risk
    change = await create(api, eve_token, type="emergency", items=["Checkout"], approvers=["ana@example.com"])
    assert change["risk"] == "high"
    assert (await move(api, eve_token, change["id"], "assessment")).status_code == 200
    assert (await move(api, eve_token, change["id"], "approval")).status_code == 200
    decided = await api.client.post(f"/api/v1/changes/{change['id']}/approvals", json={"decision": "approve"}, headers=api.auth(ana_token))
    assert decided.json()["status"] == "scheduled"
    # a low-risk change: standard (0) on Wiki (low, 1) — neither rule matches
    low = await create(api, eve_token, type="standard", items=["Wiki"])
    assert low["risk"] == "low"
    assert (await move(api, eve_token, low["id"], "assessment")).status_code == 200

    async with api.services.db.read() as session:
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "rule.notify").order_by(AuditEntry.id))).all()
        notices = (
            await session.scalars(
                select(Message)
                .where(Message.subject.like("Change #%"), Message.subject.not_like("%needs your approval%"))
                .order_by(Message.id)
            )
        ).all()
        queued = set((await session.scalars(select(OutboxItem.message_id))).all())
        posts = (
            await session.scalars(
                select(Message).join(Conversation, Conversation.id == Message.conversation_id).where(Conversation.thread_key == "C0OPS:")
            )
        ).all()
        stored = await session.run_sync(lambda s: load_stored_rules(s.connection()))
    assert [(a.target, a.details["rule"], a.details["previous"], a.details["status"]) for a in audits] == [
        (f"change:{change['id']}", "high risk to ops", None, "draft"),
        (f"change:{change['id']}", "high risk to ops", "draft", "assessment"),
        (f"change:{change['id']}", "high risk to ops", "assessment", "approval"),
        (f"change:{change['id']}", "high risk to ops", "approval", "scheduled"),
    ]
    assert all(a.details["email"] == ["bob@example.com", "ops-list@example.com"] and a.details["team"] == "ops" for a in audits)
    assert all(a.details["slack"] == ["C0OPS"] for a in audits)
    # one post in the team's Slack channel per status (its own resolved conversation, through the outbox)
    assert len(posts) == 4 and all(p.id in queued for p in posts) and "Change #1 draft: Upgrade" in posts[0].text
    # two e-mails per status (bob, the list), each a message with its outbox item; nothing for the low-risk change or the Wiki rule
    slack_ids = {p.id for p in posts}
    notices = [m for m in notices if m.id not in slack_ids]
    assert [m.subject for m in notices] == [
        f"Change #{change['number']} {status}: Upgrade" for status in ("draft", "assessment", "approval", "scheduled") for _ in range(2)
    ]
    assert all(m.id in queued and m.delivery == "queued" for m in notices)
    assert (
        "approval → scheduled" in notices[-1].text and "Risk: high" in notices[-1].text and f"/changes/{change['id']}" in notices[-1].text
    )
    # the inbound-message router does not see change rules (and does not log them as broken)
    assert stored == []
    _, admin_token = await add_agent(api.services, "root@example.com", role="admin")
    listed = (await api.client.get("/api/v1/rules", headers=api.auth(admin_token))).json()["items"]
    assert [(r["name"], r["on"], r["if"]) for r in listed] == [
        ("high risk to ops", "change", {"risk": "high"}),
        ("wiki outages", "change", {"items": "Wiki", "risk": "high"}),
    ]


async def test_a_change_rule_made_through_the_api_is_stored_audited_and_notifies(api: Api) -> None:
    await graph(api)
    await add_channel(api.services, "mail", "email")
    _, eve_token = await add_agent(api.services, "eve@example.com")
    headers = api.auth(api.admin_token)
    made = await api.client.post(
        "/api/v1/rules",
        json={"name": "high risk to the list", "on": "change", "if": {"risk": "high"}, "then": {"notify_email": "ops-list@example.com"}},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    rule = made.json()
    assert rule["on"] == "change" and rule["if"] == {"risk": "high"}
    assert rule["provisioned"] is False
    # A message rule's payload is what it always was (no "on": a message rule).
    plain = await api.client.post(
        "/api/v1/rules", json={"name": "tags", "if": {"text_matches": "x"}, "then": {"tag": ["x"]}}, headers=headers
    )
    assert plain.status_code == 201 and plain.json()["on"] == "message"
    # A change rule is checked as one: a message action on it is refused, and the other way round.
    wrong = await api.client.post("/api/v1/rules", json={"name": "w", "on": "change", "then": {"tag": ["x"]}}, headers=headers)
    assert wrong.status_code == 422 and "notify_team" in wrong.text
    smuggled = await api.client.post("/api/v1/rules", json={"name": "s", "if": {"on": "change"}, "then": {"tag": ["x"]}}, headers=headers)
    assert smuggled.status_code == 422
    patched = await api.client.patch(f"/api/v1/rules/{rule['id']}", json={"if": {"risk": ["high", "medium"]}}, headers=headers)
    assert patched.status_code == 200 and patched.json()["on"] == "change" and patched.json()["if"] == {"risk": ["high", "medium"]}
    bad_patch = await api.client.patch(f"/api/v1/rules/{rule['id']}", json={"then": {"tag": ["x"]}}, headers=headers)
    assert bad_patch.status_code == 422

    change = await create(api, eve_token, type="emergency", items=["Checkout"], approvers=[])
    assert change["risk"] == "high"
    async with api.services.db.read() as session:
        audits = (await session.scalars(select(AuditEntry).where(AuditEntry.target == f"rule:{rule['id']}").order_by(AuditEntry.id))).all()
        fired = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "rule.notify"))).all()
        stored = await session.run_sync(lambda s: load_stored_rules(s.connection()))
    assert [(a.action, a.details["on"]) for a in audits] == [("rule.create", "change"), ("rule.update", "change")]
    assert [a.details["rule"] for a in fired] == ["high risk to the list"]
    assert [r.name for r in stored] == ["tags"]  # the message router leaves change rules out
