"""The same write through the API, the UI and the CLI: the same audit action, the same result.

Each test drives one use case through every surface that offers it (parametrised), then
checks what was stored and what the audit log says, so the surfaces cannot drift apart.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inbox.store.models import ApiToken
from tests.fixtures.inbox import add_agent
from tests.fixtures.surfaces import Surfaces, surfaces


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_token_create_is_one_action_on_every_surface(surfaces: Surfaces, surface: str) -> None:
    agent, _ = await add_agent(surfaces.api.services, "ops@example.com")
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/tokens", json={"agent": " OPS@example.com", "name": " deploy "})
        assert response.status_code == 201, response.text
        clear = response.json()["token"]
    elif surface == "ui":
        response = await surfaces.form("/admin/tokens", {"agent": " OPS@example.com", "name": " deploy "})
        assert response.status_code == 200
        clear = next(word for word in response.text.replace("<", " ").replace(">", " ").split() if word.startswith("fd_"))
    else:
        result = await surfaces.cli("tokens", "create", "--agent", " OPS@example.com", "--name", " deploy ")
        assert result.status == 0, result.stderr
        clear = result.stdout.strip()
    async with surfaces.api.services.db.read() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.agent_id == agent.id, ApiToken.name == "deploy"))
    assert row is not None and row.prefix == clear[:10] and not row.revoked
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("token.create", f"agent:{agent.id}", {"name": "deploy"})
    me = await surfaces.client.get("/api/v1/conversations", headers=surfaces.api.auth(clear))
    assert me.status_code == 200


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_token_for_an_unknown_agent_is_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    before = await surfaces.audit_actions()
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/tokens", json={"agent": "nobody@example.com"})
        assert response.status_code == 422 and response.json()["error"] == {
            "code": "invalid",
            "message": "no active agent nobody@example.com",
        }
    elif surface == "ui":
        response = await surfaces.form("/admin/tokens", {"agent": "nobody@example.com"})
        assert response.status_code == 422 and "no active agent nobody@example.com" in response.text
    else:
        result = await surfaces.cli("tokens", "create", "--agent", "nobody@example.com")
        assert result.status == 2 and "no active agent nobody@example.com" in result.stderr
    assert await surfaces.audit_actions() == before


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_token_revoke_is_one_action(surfaces: Surfaces, surface: str) -> None:
    _, token = await add_agent(surfaces.api.services, "ops@example.com")
    async with surfaces.api.services.db.read() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.prefix == token[:10]))
    assert row is not None
    if surface == "api":
        assert (await surfaces.call("DELETE", f"/api/v1/tokens/{row.id}")).status_code == 204
        missing = await surfaces.call("DELETE", "/api/v1/tokens/999999")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    else:
        assert (await surfaces.form(f"/admin/tokens/{row.id}/revoke")).status_code == 303
        assert (await surfaces.form("/admin/tokens/999999/revoke")).status_code == 404
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target) == ("token.revoke", f"token:{row.id}")
    refused = await surfaces.client.get("/api/v1/conversations", headers=surfaces.api.auth(token))
    assert refused.status_code == 401
