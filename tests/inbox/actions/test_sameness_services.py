"""Services and configuration items through the API and the UI: the same audit entries
(names, targets, details) and the same stored result, for each kind of node; the UI's
answers (where it redirects, the form shown again when refused)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from inbox.store.models import AuditEntry, ConfigItem, Service, Team
from tests.fixtures.surfaces import Surfaces, surfaces

# Per kind: its paths, a create and an update (as API JSON; the UI posts the same as form
# fields), and what the audit entries must say.
KINDS: dict[str, dict[str, Any]] = {
    "service": {
        "api": "/api/v1/services",
        "ui": "/services",
        "create": {"name": "Checkout", "criticality": "high", "team": "platform", "depends_on": ["pg-base"]},
        "created": {"name": "Checkout", "criticality": "high", "team": "platform", "depends_on": ["pg-base"]},
        "update": {"name": "Checkout 2", "description": "Pays", "criticality": "low", "team": "", "depends_on": []},
        "updated": {"name": "Checkout 2", "description": "Pays", "criticality": "low", "team": None, "depends_on": []},
    },
    "config_item": {
        "api": "/api/v1/config-items",
        "ui": "/config-items",
        "create": {"name": "pg-main", "kind": "database", "service": "Base", "depends_on": ["pg-base"]},
        "created": {"name": "pg-main", "kind": "database", "service": "Base", "depends_on": ["pg-base"]},
        "update": {"name": "pg-2", "kind": "server", "service": "", "depends_on": []},
        "updated": {"name": "pg-2", "kind": "server", "service": None, "depends_on": []},
    },
}


def _form(body: dict[str, Any]) -> dict[str, str]:
    return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in body.items()}


async def _entries(s: Surfaces, target: str) -> list[tuple[str, dict[str, Any]]]:
    async with s.api.services.db.read() as session:
        rows = (await session.scalars(select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id))).all()
    return [(e.action, dict(e.details)) for e in rows]


async def _seed(s: Surfaces) -> None:
    """A team, a service and an item to name."""
    async with s.api.services.db.transaction() as session:
        session.add(Team(name="platform"))
    assert (await s.call("POST", "/api/v1/services", json={"name": "Base"})).status_code == 201
    assert (await s.call("POST", "/api/v1/config-items", json={"name": "pg-base"})).status_code == 201


@pytest.mark.parametrize("surface", ["api", "ui"])
@pytest.mark.parametrize("kind", ["service", "config_item"])
async def test_graph_writes_are_one_action_for_either_kind_on_every_surface(surfaces: Surfaces, kind: str, surface: str) -> None:
    spec = KINDS[kind]
    await _seed(surfaces)
    if surface == "api":
        made = await surfaces.call("POST", spec["api"], json=spec["create"])
        assert made.status_code == 201, made.text
        node_id = made.json()["id"]
        saved = await surfaces.call("PATCH", f"{spec['api']}/{node_id}", json=spec["update"])
        assert saved.status_code == 200 and saved.json()["name"] == spec["update"]["name"], saved.text
    else:
        made = await surfaces.form(spec["ui"], _form(spec["create"]))
        assert made.status_code == 303, made.text
        location = made.headers["location"]
        assert location.startswith(f"{spec['ui']}/")
        node_id = int(location.rsplit("/", 1)[1])
        saved = await surfaces.form(location, _form(spec["update"]))
        assert saved.status_code == 303 and saved.headers["location"] == f"{location}?flash=saved"
        # Refused: a name taken by the other kind, shown again with what was typed.
        clash = await surfaces.form(spec["ui"], _form({**spec["create"], "name": "Base" if kind == "config_item" else "pg-base"}))
        assert clash.status_code == 409 and 'role="alert"' in clash.text
    target = f"{kind}:{node_id}"
    assert await _entries(surfaces, target) == [(f"{kind}.create", spec["created"]), (f"{kind}.update", spec["updated"])]
    model = Service if kind == "service" else ConfigItem
    async with surfaces.api.services.db.read() as session:
        row = await session.get(model, node_id)
    assert row is not None and row.name == spec["update"]["name"] and not row.provisioned
    if surface == "api":
        assert (await surfaces.call("DELETE", f"{spec['api']}/{node_id}")).status_code == 204
        assert (await _entries(surfaces, target))[-1] == (f"{kind}.delete", {"name": spec["update"]["name"]})
        gone = await surfaces.call("GET", f"{spec['api']}/{node_id}")
        label = "service" if kind == "service" else "configuration item"
        assert gone.status_code == 404 and label in gone.json()["error"]["message"]
