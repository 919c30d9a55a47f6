"""The admin webhooks page: add, send a test, see the log, disable, edit, delete after asking."""

from __future__ import annotations

from sqlalchemy import select

from inbox.store.models import AuditEntry, Webhook
from tests.fixtures.inbox import Api
from tests.fixtures.webhook_receiver import Receiver, receiver  # noqa: F401
from tests.inbox.pipeline.test_webhooks import LOCAL, SECRET
from tests.inbox.web.ui.test_ui_pages import csrf_of, sign_in


async def test_admin_adds_tests_disables_edits_and_deletes_a_webhook(api: Api, receiver: Receiver) -> None:
    api.services.config.webhooks = LOCAL
    csrf = await sign_in(api, "admin@example.com", role="admin")
    page = await api.client.get("/admin/webhooks")
    assert page.status_code == 200 and 'value="ticket.created"' in page.text and "/admin/webhooks" in page.text
    form = {"csrf": csrf, "url": receiver.url, "secret": SECRET, "events": ["ticket.created", "message.created"]}
    added = await api.client.post("/admin/webhooks", data=form)
    assert added.status_code == 303
    [row] = await api.services.db.query(lambda s: s.scalars(select(Webhook)).all())
    assert row.events == ["message.created", "ticket.created"]
    listed = await api.client.get("/admin/webhooks")
    assert receiver.url in listed.text and SECRET not in listed.text
    tested = await api.client.post(f"/admin/webhooks/{row.id}/test", data={"csrf": csrf})
    assert tested.status_code == 200 and "Test delivered" in tested.text and "webhook.test" in tested.text
    assert receiver.received[0].verifies_with(SECRET)
    disabled = await api.client.post(f"/admin/webhooks/{row.id}/toggle", data={"csrf": csrf})
    assert disabled.status_code == 303
    edited = await api.client.post(
        f"/admin/webhooks/{row.id}", data={"csrf": csrf, "url": receiver.url + "/v2", "events": ["ticket.updated"]}
    )
    assert edited.status_code == 303
    changed = await api.services.db.query(lambda s: s.get(Webhook, row.id))
    assert changed is not None and not changed.enabled and changed.url.endswith("/v2") and changed.events == ["ticket.updated"]
    assert changed.secret == row.secret  # an empty secret field keeps the secret
    asked = await api.client.get("/admin/webhooks", params={"delete": row.id})
    assert "Yes, delete" in asked.text
    gone = await api.client.post(f"/admin/webhooks/{row.id}/delete", data={"csrf": csrf})
    assert gone.status_code == 303 and await api.services.db.query(lambda s: s.get(Webhook, row.id)) is None
    actions = await api.services.db.query(lambda s: s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all())
    assert actions == ["webhook.create", "webhook.test", "webhook.update", "webhook.update", "webhook.delete"]


async def test_a_refused_url_keeps_what_was_typed_but_not_the_secret(api: Api) -> None:
    csrf = await sign_in(api, "admin@example.com", role="admin")
    form = {"csrf": csrf, "url": "http://169.254.169.254/latest", "secret": SECRET, "events": ["ticket.created"]}
    refused = await api.client.post("/admin/webhooks", data=form)
    assert refused.status_code == 422 and "link-local" in refused.text
    assert 'value="http://169.254.169.254/latest"' in refused.text and SECRET not in refused.text
    assert await api.services.db.query(lambda s: s.scalars(select(Webhook)).all()) == []


async def test_agents_cannot_open_the_webhooks_page(api: Api) -> None:
    csrf = await sign_in(api, "agent@example.com")
    assert (await api.client.get("/admin/webhooks")).status_code == 403
    form = {"csrf": csrf, "url": "https://hooks.example/x", "secret": SECRET, "events": ["ticket.created"]}
    assert (await api.client.post("/admin/webhooks", data=form)).status_code == 403
    assert csrf_of((await api.client.get("/")).text)
