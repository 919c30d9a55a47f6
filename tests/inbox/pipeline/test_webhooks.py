"""Outbound webhooks: signed, in seq order per webhook, retried, disabled after a day of
failure, and never sent to an address that is not public unless allowed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from inbox import events
from inbox.actions import webhooks
from inbox.actions.runner import CLI, Context
from inbox.config import WebhooksConfig
from inbox.errors import Invalid
from inbox.pipeline import webhook_http
from inbox.pipeline.webhooks import WebhookWorker
from inbox.runtime.services import Services
from inbox.store.models import AuditEntry, Webhook, WebhookDelivery, utcnow
from tests.fixtures.inbox import Api, add_agent
from tests.fixtures.webhook_receiver import Receiver, receiver  # noqa: F401

SECRET = "a-receiver-shared-secret"
LOCAL = WebhooksConfig(allow_private=True, timeout_seconds=5, base_delay=60, max_delay=3600)


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def local_ctx(services: Services, config: WebhooksConfig = LOCAL) -> Context:
    return dataclasses.replace(services.ctx, webhooks=config)


async def emit(services: Services, *types: str) -> list[int]:
    rows: list[tuple[str, dict[str, Any], int | None]] = [(t, {"n": i}, None) for i, t in enumerate(types)]
    seqs = await services.db.run(lambda conn: events.insert_events(conn, rows))
    await services.bus.publish(max(seqs))
    return seqs


async def webhook_row(services: Services, webhook_id: int) -> Webhook:
    row = await services.db.query(lambda session: session.get(Webhook, webhook_id))
    assert row is not None
    return row


async def delivery_rows(services: Services, webhook_id: int) -> list[WebhookDelivery]:
    return list(
        await services.db.query(
            lambda s: s.scalars(select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id).order_by(WebhookDelivery.id)).all()
        )
    )


async def test_each_event_is_posted_signed_and_a_receiver_can_verify_it(services: Services, receiver: Receiver) -> None:
    webhook_id = await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.created"], SECRET)
    [seq] = await emit(services, "ticket.created")
    await WebhookWorker(services.db, services.bus, services.secrets, LOCAL).drain()
    [got] = receiver.received
    assert got.verifies_with(SECRET) and not got.verifies_with("another-secret-entirely")
    assert got.headers["X-Frontdesk-Event"] == "ticket.created"
    row = await webhook_row(services, webhook_id)
    assert got.headers["X-Frontdesk-Delivery"] == f"{row.key}-{seq}" == got.document["delivery"]
    assert abs(int(got.headers["X-Frontdesk-Timestamp"]) - utcnow().timestamp()) < 600
    assert got.document["seq"] == seq and got.document["type"] == "ticket.created" and got.document["payload"] == {"n": 0}
    assert row.cursor == seq and row.last_error is None
    [logged] = await delivery_rows(services, webhook_id)
    assert logged.ok and logged.response_code == 200 and logged.event_seq == seq


async def test_only_subscribed_types_are_sent_and_events_before_creation_are_not(services: Services, receiver: Receiver) -> None:
    await emit(services, "ticket.created")
    await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.created", "message.created"], SECRET)
    await emit(services, "conversation.updated", "message.created", "problem.created", "ticket.created")
    await WebhookWorker(services.db, services.bus, services.secrets, LOCAL).drain()
    assert [r.headers["X-Frontdesk-Event"] for r in receiver.received] == ["message.created", "ticket.created"]


async def test_failures_are_retried_with_backoff_in_seq_order_with_the_same_delivery_id(services: Services, receiver: Receiver) -> None:
    clock = Clock()
    webhook_id = await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.updated"], SECRET)
    seqs = await emit(services, *["ticket.updated"] * 5)
    receiver.script.extend([200, 500, 503, 200, 502])
    worker = WebhookWorker(services.db, services.bus, services.secrets, LOCAL, clock=clock)
    await worker.drain()
    assert [r.status for r in receiver.received] == [200, 500]
    row = await webhook_row(services, webhook_id)
    assert row.cursor == seqs[0] and row.attempts == 1 and "HTTP 500" in (row.last_error or "")
    assert row.next_attempt_at == clock.now + dt.timedelta(seconds=60)
    await worker.drain()  # not due yet: nothing is sent
    assert len(receiver.received) == 2
    clock.advance(60)
    await worker.drain()  # 503
    assert (await webhook_row(services, webhook_id)).next_attempt_at == clock.now + dt.timedelta(seconds=120)  # doubled
    for _ in range(4):
        clock.advance(3600)
        await worker.drain()
    sent = [r.document["seq"] for r in receiver.delivered()]
    assert sent == seqs  # every event, once accepted, in order
    ids = [r.headers["X-Frontdesk-Delivery"] for r in receiver.received]
    assert ids[1] == ids[2] == ids[3]  # the retries of one event carry one id
    assert len(set(ids)) == len(seqs)
    row = await webhook_row(services, webhook_id)
    assert row.cursor == seqs[-1] and row.attempts == 0 and row.last_error is None and row.enabled
    logged = await delivery_rows(services, webhook_id)
    assert [d.ok for d in logged] == [True, False, False, True, False, True, True, True]
    assert [d.response_code for d in logged] == [200, 500, 503, 200, 502, 200, 200, 200]


async def test_a_redirect_is_never_followed(services: Services, receiver: Receiver) -> None:
    webhook_id = await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.created"], SECRET)
    receiver.script.append(302)
    receiver.location = receiver.url.replace("/hook", "/elsewhere")
    await emit(services, "ticket.created")
    await WebhookWorker(services.db, services.bus, services.secrets, LOCAL).drain()
    [only] = receiver.received  # the Location was not requested
    assert only.status == 302
    [logged] = await delivery_rows(services, webhook_id)
    assert not logged.ok and logged.response_code == 302 and "redirects are not followed" in (logged.error or "")
    assert (await webhook_row(services, webhook_id)).cursor < (await emit(services, "ticket.created"))[0]


async def test_a_day_of_failures_disables_the_webhook_with_its_error(services: Services, receiver: Receiver) -> None:
    clock = Clock()
    webhook_id = await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.created"], SECRET)
    await emit(services, "ticket.created")
    receiver.script.extend([500] * 100)
    worker = WebhookWorker(services.db, services.bus, services.secrets, LOCAL, clock=clock)
    await worker.drain()
    tries = 1
    while (await webhook_row(services, webhook_id)).enabled:
        assert tries < 60, "never disabled"
        clock.advance(3600)
        await worker.drain()
        tries += 1
    row = await webhook_row(services, webhook_id)
    assert row.disabled_at is not None and row.failing_since is not None
    assert row.disabled_at - row.failing_since >= dt.timedelta(hours=24)
    assert row.disabled_at - row.failing_since < dt.timedelta(hours=25)
    assert "disabled after 24 hours" in (row.last_error or "") and "HTTP 500" in (row.last_error or "")
    count = len(receiver.received)
    clock.advance(7 * 24 * 3600)
    await worker.drain()
    assert len(receiver.received) == count  # disabled: no more tries
    await webhooks.update_webhook(local_ctx(services), CLI, webhook_id, enabled=True)
    receiver.script.clear()
    await worker.drain()
    assert receiver.received[-1].status == 200  # enabled again: resumes at its cursor
    row = await webhook_row(services, webhook_id)
    assert row.enabled and row.last_error is None and row.disabled_at is None


async def test_a_name_is_connected_to_at_the_address_checked_with_its_host_header(
    services: Services, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"] if host == "hooks.example" else []

    monkeypatch.setattr(webhook_http, "resolve", resolve)
    url = receiver.url.replace("127.0.0.1", "hooks.example")
    await webhooks.create_webhook(local_ctx(services), CLI, url, ["ticket.created"], SECRET)
    await emit(services, "ticket.created")
    await WebhookWorker(services.db, services.bus, services.secrets, LOCAL).drain()
    [got] = receiver.received
    assert got.headers["Host"] == url.split("/")[2]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://172.16.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://internal.example/hook",
        "ftp://hooks.example/x",
        "not a url",
    ],
)
async def test_urls_that_are_not_public_are_refused_at_create(services: Services, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = webhook_http.resolve

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.9.8.7"] if host == "internal.example" else await real(host, port)

    monkeypatch.setattr(webhook_http, "resolve", resolve)
    with pytest.raises(Invalid) as refused:
        await webhooks.create_webhook(services.ctx, CLI, url, ["ticket.created"], SECRET)
    assert refused.value.code == "webhook_url_refused"
    assert await services.db.query(lambda s: s.scalars(select(Webhook)).all()) == []


async def test_a_name_that_resolves_to_a_private_address_at_send_is_refused(
    services: Services, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"hooks.example": ["93.184.216.34"]}

    async def resolve(host: str, port: int) -> list[str]:
        return answers[host]

    monkeypatch.setattr(webhook_http, "resolve", resolve)
    port = receiver.url.split(":")[2].split("/")[0]
    webhook_id = await webhooks.create_webhook(services.ctx, CLI, f"http://hooks.example:{port}/hook", ["ticket.created"], SECRET)
    answers["hooks.example"] = ["127.0.0.1"]  # the name now points inside (DNS rebinding)
    await emit(services, "ticket.created")
    await WebhookWorker(services.db, services.bus, services.secrets, WebhooksConfig()).drain()
    assert receiver.received == []
    [logged] = await delivery_rows(services, webhook_id)
    assert not logged.ok and logged.response_code is None and "loopback" in (logged.error or "")


async def test_the_secret_is_sealed_and_never_audited(services: Services, receiver: Receiver) -> None:
    webhook_id = await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, ["ticket.created"], SECRET)
    await webhooks.update_webhook(local_ctx(services), CLI, webhook_id, secret="a-brand-new-shared-secret")
    row = await webhook_row(services, webhook_id)
    assert SECRET not in row.secret and services.secrets.open(row.secret) == "a-brand-new-shared-secret"
    audits = await services.db.query(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())
    assert [a.action for a in audits] == ["webhook.create", "webhook.update"]
    assert all(SECRET not in str(a.details) and "brand-new" not in str(a.details) for a in audits)
    assert audits[1].details == {"signing_changed": True}


@pytest.mark.parametrize("events,secret", [(["ticket.created", "nope.never"], SECRET), ([], SECRET), (["ticket.created"], "short")])
async def test_bad_events_or_a_short_secret_are_refused(services: Services, receiver: Receiver, events: list[str], secret: str) -> None:
    with pytest.raises(Invalid):
        await webhooks.create_webhook(local_ctx(services), CLI, receiver.url, events, secret)


async def test_api_manages_webhooks_shows_deliveries_and_sends_a_test(api: Api, receiver: Receiver) -> None:
    api.services.config.webhooks = LOCAL
    admin = api.auth(api.admin_token)
    _, agent_token = await add_agent(api.services, "agent@example.com")
    body = {"url": receiver.url, "events": ["ticket.created"], "secret": SECRET}
    assert (await api.client.post("/api/v1/webhooks", json=body, headers=api.auth(agent_token))).status_code == 403
    created = await api.client.post("/api/v1/webhooks", json=body, headers=admin)
    assert created.status_code == 201 and SECRET not in created.text and created.json()["secret_set"] is True
    webhook_id = created.json()["id"]
    bad = await api.client.post("/api/v1/webhooks", json={**body, "events": ["nope.never"]}, headers=admin)
    assert bad.status_code == 422
    tested = await api.client.post(f"/api/v1/webhooks/{webhook_id}/test", headers=admin)
    assert tested.status_code == 200 and tested.json()["status"] == "delivered" and tested.json()["response_code"] == 200
    [ping] = receiver.received
    assert ping.headers["X-Frontdesk-Event"] == "webhook.test" and ping.verifies_with(SECRET)
    assert ping.headers["X-Frontdesk-Delivery"] == tested.json()["delivery_id"]
    await emit(api.services, "ticket.created")
    await WebhookWorker(api.services.db, api.services.bus, api.services.secrets, LOCAL).drain()
    log = (await api.client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=admin)).json()["items"]
    assert [(d["event_type"], d["status"], d["response_code"]) for d in log] == [
        ("ticket.created", "delivered", 200),
        ("webhook.test", "delivered", 200),
    ]
    patched = await api.client.patch(
        f"/api/v1/webhooks/{webhook_id}", json={"enabled": False, "events": ["message.created"]}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["enabled"] is False and patched.json()["events"] == ["message.created"]
    api.services.config.webhooks = WebhooksConfig()
    refused = await api.client.patch(f"/api/v1/webhooks/{webhook_id}", json={"url": "http://169.254.169.254/"}, headers=admin)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "webhook_url_refused"
    listed = (await api.client.get("/api/v1/webhooks", headers=admin)).json()["items"]
    assert [w["id"] for w in listed] == [webhook_id] and SECRET not in str(listed)
    assert (await api.client.delete(f"/api/v1/webhooks/{webhook_id}", headers=admin)).status_code == 204
    assert (await api.client.get(f"/api/v1/webhooks/{webhook_id}/deliveries", headers=admin)).status_code == 404
    actions = await api.services.db.query(lambda s: s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all())
    assert [a for a in actions if a.startswith("webhook.")] == ["webhook.create", "webhook.test", "webhook.update", "webhook.delete"]
