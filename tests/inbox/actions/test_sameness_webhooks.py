"""Webhooks through the API and the admin pages: the same audit entries, the same stored
webhook, the same refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.store.models import AuditEntry, Webhook
from tests.fixtures.surfaces import Surfaces, surfaces  # noqa: F401
from tests.fixtures.webhook_receiver import Receiver, receiver  # noqa: F401
from tests.inbox.pipeline.test_webhooks import LOCAL, SECRET


async def entries(s: Surfaces) -> list[tuple[str, str, dict[str, object]]]:
    rows = await s.api.services.db.query(lambda session: session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all())
    return [(r.action, r.target, r.details) for r in rows if r.action.startswith("webhook.")]


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_webhook_writes_are_the_same_actions_on_every_surface(surfaces: Surfaces, receiver: Receiver, surface: str) -> None:
    surfaces.api.services.config.webhooks = LOCAL
    events = ["ticket.created", "message.created"]
    if surface == "api":
        created = await surfaces.call("POST", "/api/v1/webhooks", json={"url": receiver.url, "events": events, "secret": SECRET})
        assert created.status_code == 201
    else:
        assert (await surfaces.form("/admin/webhooks", {"url": receiver.url, "events": events, "secret": SECRET})).status_code == 303
    [row] = await surfaces.api.services.db.query(lambda session: session.scalars(select(Webhook)).all())
    assert (row.url, row.events, surfaces.api.services.secrets.open(row.secret)) == (
        receiver.url,
        ["message.created", "ticket.created"],
        SECRET,
    )
    if surface == "api":
        changed = await surfaces.call("PATCH", f"/api/v1/webhooks/{row.id}", json={"url": receiver.url, "events": ["ticket.updated"]})
        assert changed.status_code == 200
        assert (await surfaces.call("POST", f"/api/v1/webhooks/{row.id}/test")).status_code == 200
        refused = await surfaces.call("PATCH", f"/api/v1/webhooks/{row.id}", json={"events": ["ticket.updated"], "url": "ftp://x"})
        assert (await surfaces.call("DELETE", f"/api/v1/webhooks/{row.id}")).status_code == 204
    else:
        changed = await surfaces.form(f"/admin/webhooks/{row.id}", {"url": receiver.url, "events": ["ticket.updated"]})
        assert changed.status_code == 303
        assert (await surfaces.form(f"/admin/webhooks/{row.id}/test")).status_code == 200
        refused = await surfaces.form(f"/admin/webhooks/{row.id}", {"events": ["ticket.updated"], "url": "ftp://x"})
        assert (await surfaces.form(f"/admin/webhooks/{row.id}/delete")).status_code == 303
    assert refused.status_code == 422
    target = f"webhook:{row.id}"
    seen = await entries(surfaces)
    assert [(a, t) for a, t, _ in seen] == [
        ("webhook.create", target),
        ("webhook.update", target),
        ("webhook.test", target),
        ("webhook.delete", target),
    ]
    assert seen[0][2] == {"url": receiver.url, "events": ["message.created", "ticket.created"]}
    assert seen[1][2] == {"url": receiver.url, "events": ["ticket.updated"]}
    assert seen[2][2]["ok"] is True and seen[2][2]["response_code"] == 200
    assert seen[3][2] == {"url": receiver.url}
    assert await surfaces.api.services.db.query(lambda session: session.scalars(select(Webhook)).all()) == []
