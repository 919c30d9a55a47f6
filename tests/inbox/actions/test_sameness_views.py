"""Saved views through the API and the UI: the same action, audit entry and stored view; the
tabs show live counts; the bell and the notifications page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from inbox.store.models import SavedView
from tests.fixtures.inbox import add_channel, inbound
from tests.fixtures.surfaces import Surfaces, surfaces  # noqa: F401  (the fixture)

BOTH = ["api", "ui"]


async def stored(surfaces: Surfaces) -> list[SavedView]:
    async with surfaces.api.services.db.read() as session:
        return list((await session.scalars(select(SavedView))).all())


@pytest.mark.parametrize("surface", BOTH)
async def test_view_create_and_delete_are_one_action(surfaces: Surfaces, surface: str) -> None:
    filters = {"status": "open", "priority": "P1", "waiting_minutes_over": 30, "sla": "breached"}
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/views", json={"name": "Hot", "filters": filters, "shared": True})
        assert response.status_code == 201, response.text
    else:
        fields = {f"f_{k}": str(v) for k, v in filters.items()}
        response = await surfaces.form("/views", {"name": "Hot", "shared": "1", **fields})
        assert response.status_code == 303, response.text
    [view] = await stored(surfaces)
    last = await surfaces.last_audit()
    assert (last.action, last.target, last.details) == (
        "view.create",
        f"view:{view.id}",
        {"name": "Hot", "filters": filters, "shared": True},
    )
    assert (view.name, view.filters, view.shared) == ("Hot", filters, True)
    if surface == "api":
        assert (await surfaces.call("DELETE", f"/api/v1/views/{view.id}")).status_code == 204
    else:
        assert (await surfaces.form(f"/views/{view.id}/delete")).status_code == 303
    last = await surfaces.last_audit()
    assert (last.action, last.target, last.details) == ("view.delete", f"view:{view.id}", {"name": "Hot"})
    assert await stored(surfaces) == []


@pytest.mark.parametrize("surface", BOTH)
async def test_a_bad_view_is_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/views", json={"name": "x", "filters": {"waiting_minutes_over": "soon"}})
    else:
        response = await surfaces.form("/views", {"name": "x", "f_waiting_minutes_over": "soon"})
    assert response.status_code == 422
    assert "waiting_minutes_over" in response.text
    assert await stored(surfaces) == []


async def test_inbox_tabs_show_counts_and_the_bell_counts_mentions(surfaces: Surfaces) -> None:
    channel = await add_channel(surfaces.api.services, "web")
    results = await surfaces.api.services.ingestor.ingest(channel, [inbound(f"m{i}", subject=f"Q{i}") for i in range(3)])
    cid = results[0].conversation_id
    await surfaces.call("PATCH", f"/api/v1/conversations/{cid}", json={"priority": "P1"})
    await surfaces.call("POST", "/api/v1/views", json={"name": "Urgent", "filters": {"priority": "P1"}})
    await surfaces.call("POST", "/api/v1/views", json={"name": "Everything", "filters": {}})
    await surfaces.csrf()
    page = (await surfaces.client.get("/")).text
    tabs = dict(re.findall(r'data-view-id="\d+">([^<]+?) <span class="count"[^>]*>(\d+)</span>', page))
    assert tabs == {"Everything": "3", "Urgent": "1"}
    fragment = (await surfaces.client.get("/inbox/tabs")).text
    assert re.findall(r">(\d+)</span>", fragment) == ["3", "1"]
    assert 'aria-label="Notifications"' in page
    from tests.fixtures.inbox import add_agent

    _, ana = await add_agent(surfaces.api.services, "ana@example.com")
    body = {"text": "@boss@example.com please look", "private": True}
    note = await surfaces.client.post(f"/api/v1/conversations/{cid}/messages", json=body, headers=surfaces.api.auth(ana))
    assert note.status_code == 201
    page = (await surfaces.client.get("/")).text
    assert 'aria-label="Notifications (1 Unread)"' in page and "data-bell-count>1<" in page
    listing = (await surfaces.client.get("/notifications")).text
    assert f'href="/conversations/{cid}"' in listing and "Mentioned by" in listing
    assert (await surfaces.form("/notifications/read")).status_code == 303
    assert "data-bell-count" not in (await surfaces.client.get("/notifications")).text
    es = (await surfaces.client.get("/notifications", headers={"Accept-Language": "es"})).text
    assert "Notificaciones" in es
