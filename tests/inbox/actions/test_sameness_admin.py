"""Administration through every surface that offers it: the same audit entry, the same
stored result, the same refusal (agents, teams, rules, channels, canned responses)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from inbox.store.models import Agent, AuditEntry, CannedResponse, Channel, Rule, Team, TeamMember
from tests.fixtures.inbox import add_agent
from tests.fixtures.surfaces import Surfaces, surfaces

PASSWORD = "a long password 9"

# What each surface answers for each kind of refusal: HTTP status, or the CLI's exit status.
REFUSED = {
    "api": {"conflict": 409, "invalid": 422, "forbidden": 403, "not_found": 404},
    "ui": {"conflict": 409, "invalid": 422, "forbidden": 403, "not_found": 404},
    "cli": {"conflict": 1, "invalid": 2},
}


async def entries_for(s: Surfaces, target: str) -> list[AuditEntry]:
    async with s.api.services.db.read() as session:
        return list((await session.scalars(select(AuditEntry).where(AuditEntry.target == target).order_by(AuditEntry.id))).all())


async def agent_named(s: Surfaces, email: str) -> Agent:
    async with s.api.services.db.read() as session:
        agent = await session.scalar(select(Agent).where(Agent.email == email))
    assert agent is not None
    return agent


async def refused(s: Surfaces, surface: str, kind: str, response: Any) -> None:
    """The refusal's status on `surface` is the one of its kind."""
    if surface == "cli":
        assert response.status == REFUSED["cli"][kind], response
    else:
        assert response.status_code == REFUSED[surface][kind], response.text
        if surface == "api":
            assert response.json()["error"]["code"] != "", response.text


# ---- agents ------------------------------------------------------------------


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
async def test_agent_create_is_one_action_on_every_surface(surfaces: Surfaces, surface: str) -> None:
    boss = await agent_named(surfaces, "boss@example.com")
    if surface == "api":
        body = {"email": "New@Example.com", "name": " New Person ", "role": "agent", "password": PASSWORD}
        response = await surfaces.call("POST", "/api/v1/agents", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["email"] == "new@example.com"
    elif surface == "ui":
        response = await surfaces.form("/admin/agents", {"email": " New@Example.com", "name": " New Person ", "role": "agent"})
        assert response.status_code == 200 and "/login/once/" in response.text
    else:
        result = await surfaces.cli(
            "agents", "add", " New@Example.com", "--name", " New Person ", "--role", "agent", "--password-stdin", stdin=PASSWORD + "\n"
        )
        assert result.status == 0, result.stderr
        assert result.stdout.strip() == "added agent new@example.com"
    agent = await agent_named(surfaces, "new@example.com")
    assert (agent.name, agent.role, agent.active) == ("New Person", "agent", True)
    assert (agent.password_hash is None) == (surface == "ui")  # an invited agent chooses their own
    entries = await entries_for(surfaces, f"agent:{agent.id}")
    assert [e.action for e in entries] == (["agent.create", "agent.invite"] if surface == "ui" else ["agent.create"])
    created = entries[0]
    assert created.details == {"email": "new@example.com", "role": "agent"}
    assert created.agent_id == (None if surface == "cli" else boss.id)
    assert all("password" not in str(e.details) for e in entries)


@pytest.mark.parametrize("surface", ["api", "ui", "cli"])
@pytest.mark.parametrize("case", ["duplicate", "bad_input"])
async def test_agent_create_refusals_are_the_same(surfaces: Surfaces, surface: str, case: str) -> None:
    await add_agent(surfaces.api.services, "ops@example.com")
    await surfaces.csrf()  # sign in first: its own writes are not part of the comparison
    before = await surfaces.audit_actions()
    email, role = ("OPS@example.com", "agent") if case == "duplicate" else ("x@example.com", "agent")
    short = "short" if case == "bad_input" else PASSWORD
    if surface == "api":
        response: Any = await surfaces.call("POST", "/api/v1/agents", json={"email": email, "name": "X", "role": role, "password": short})
    elif surface == "ui":
        # The invitation form has no password; its bad input is an empty name.
        response = await surfaces.form("/admin/agents", {"email": email, "name": "X" if case == "duplicate" else " ", "role": role})
    else:
        response = await surfaces.cli("agents", "add", email, "--name", "X", "--password-stdin", stdin=short + "\n")
    await refused(surfaces, surface, "conflict" if case == "duplicate" else "invalid", response)
    message = {"api": lambda r: r.json()["error"]["message"], "ui": lambda r: r.text, "cli": lambda r: r.stderr}[surface](response)
    if case == "duplicate":
        assert "an agent with email ops@example.com exists" in message
    assert await surfaces.audit_actions() == before
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(Agent.id).where(Agent.email == "x@example.com")) is None


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_agent_update_is_one_action(surfaces: Surfaces, surface: str) -> None:
    ops, _ = await add_agent(surfaces.api.services, "ops@example.com")
    if surface == "api":
        response = await surfaces.call("PATCH", f"/api/v1/agents/{ops.id}", json={"role": "admin", "active": False})
        assert response.status_code == 200 and response.json()["active"] is False
    else:
        response = await surfaces.form(f"/admin/agents/{ops.id}", {"role": "admin", "active": "0"})
        assert response.status_code == 303
    stored = await agent_named(surfaces, "ops@example.com")
    assert (stored.role, stored.active, stored.session_version) == ("admin", False, ops.session_version + 1)  # signed out everywhere
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("agent.update", f"agent:{ops.id}", {"role": "admin", "active": False})


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_an_admin_cannot_demote_themself_on_any_surface(surfaces: Surfaces, surface: str) -> None:
    boss = await agent_named(surfaces, "boss@example.com")
    await surfaces.csrf()
    before = await surfaces.audit_actions()
    if surface == "api":
        response = await surfaces.call("PATCH", f"/api/v1/agents/{boss.id}", json={"role": "agent"})
        assert response.json()["error"] == {"code": "not_yourself", "message": "you cannot demote or deactivate yourself"}
    else:
        response = await surfaces.form(f"/admin/agents/{boss.id}", {"role": "agent", "active": "1"})
        assert "You cannot demote or deactivate yourself." in response.text
    await refused(surfaces, surface, "forbidden", response)
    assert (await agent_named(surfaces, "boss@example.com")).role == "admin"
    assert await surfaces.audit_actions() == before


# ---- teams -------------------------------------------------------------------


async def team_state(s: Surfaces, name: str) -> tuple[str, list[str]]:
    async with s.api.services.db.read() as session:
        team = await session.scalar(select(Team).where(Team.name == name))
        assert team is not None
        members = list(
            await session.scalars(
                select(Agent.email).join(TeamMember, TeamMember.agent_id == Agent.id).where(TeamMember.team_id == team.id)
            )
        )
    return team.assignment, sorted(members)


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_team_create_and_update_are_one_action_each(surfaces: Surfaces, surface: str) -> None:
    await add_agent(surfaces.api.services, "ops@example.com")
    if surface == "api":
        created = await surfaces.call(
            "POST", "/api/v1/teams", json={"name": "vip", "assignment": "least_open", "members": ["Ops@example.com"]}
        )
        assert created.status_code == 201, created.text
    else:
        created = await surfaces.form("/admin/teams", {"name": " vip ", "assignment": "least_open", "members": "Ops@example.com"})
        assert created.status_code == 303
    assert await team_state(surfaces, "vip") == ("least_open", ["ops@example.com"])
    entry = await surfaces.last_audit()
    assert entry.action == "team.create" and entry.target.startswith("team:")
    assert entry.details == {"name": "vip", "assignment": "least_open", "members": ["ops@example.com"]}
    target = entry.target

    if surface == "api":
        changed = await surfaces.call("PATCH", f"/api/v1/{target.replace('team:', 'teams/')}", json={"assignment": "manual", "members": []})
        assert changed.status_code == 200, changed.text
    else:
        changed = await surfaces.form("/admin/teams", {"name": "vip", "assignment": "manual", "members": ""})
        assert changed.status_code == 303
    assert await team_state(surfaces, "vip") == ("manual", [])
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("team.update", target, {"assignment": "manual", "members": []})


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_a_team_with_an_unknown_member_is_refused_the_same_way(surfaces: Surfaces, surface: str) -> None:
    await surfaces.csrf()
    before = await surfaces.audit_actions()
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/teams", json={"name": "vip", "members": ["ghost@example.com"]})
        assert response.json()["error"]["message"] == "members: no agent with email ghost@example.com"
    else:
        response = await surfaces.form("/admin/teams", {"name": "vip", "assignment": "round_robin", "members": "ghost@example.com"})
        assert "members: no agent with email ghost@example.com" in response.text
    await refused(surfaces, surface, "invalid", response)
    assert await surfaces.audit_actions() == before
    async with surfaces.api.services.db.read() as session:
        assert await session.scalar(select(Team.id).where(Team.name == "vip")) is None


# ---- rules -------------------------------------------------------------------

RULE_IF = {"text_matches": "(?i)invoice"}
RULE_THEN = {"tag": ["billing"]}


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_rule_create_update_delete_are_one_action_each(surfaces: Surfaces, surface: str) -> None:
    import json

    if surface == "api":
        created = await surfaces.call("POST", "/api/v1/rules", json={"name": "invoices", "if": RULE_IF, "then": RULE_THEN})
        assert created.status_code == 201, created.text
    else:
        created = await surfaces.form(
            "/admin/rules", {"name": "invoices", "conditions": json.dumps(RULE_IF), "actions": json.dumps(RULE_THEN)}
        )
        assert created.status_code == 303
    async with surfaces.api.services.db.read() as session:
        rule = await session.scalar(select(Rule).where(Rule.name == "invoices"))
    assert rule is not None and (rule.conditions, rule.actions, rule.enabled, rule.position) == (RULE_IF, RULE_THEN, True, 1)
    whole = {"name": "invoices", "on": "message", "if": RULE_IF, "then": RULE_THEN, "enabled": True, "position": 1}
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("rule.create", f"rule:{rule.id}", whole)

    if surface == "api":
        assert (await surfaces.call("PATCH", f"/api/v1/rules/{rule.id}", json={"enabled": False})).status_code == 200
    else:
        assert (await surfaces.form(f"/admin/rules/{rule.id}/toggle")).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == (
        "rule.update",
        f"rule:{rule.id}",
        {**whole, "enabled": False, "changed": ["enabled"]},
    )

    if surface == "api":
        assert (await surfaces.call("DELETE", f"/api/v1/rules/{rule.id}")).status_code == 204
    else:
        assert (await surfaces.form(f"/admin/rules/{rule.id}/toggle", {"delete": "1"})).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("rule.delete", f"rule:{rule.id}", {"name": "invoices"})
    async with surfaces.api.services.db.read() as session:
        assert await session.get(Rule, rule.id) is None


@pytest.mark.parametrize("surface", ["api", "ui"])
@pytest.mark.parametrize("case", ["duplicate", "bad_input", "missing"])
async def test_rule_refusals_are_the_same(surfaces: Surfaces, surface: str, case: str) -> None:
    import json

    assert (await surfaces.call("POST", "/api/v1/rules", json={"name": "invoices", "if": RULE_IF, "then": RULE_THEN})).status_code == 201
    await surfaces.csrf()
    before = await surfaces.audit_actions()
    conditions = {"text_matchez": "x"} if case == "bad_input" else RULE_IF
    name = "invoices" if case == "duplicate" else "other"
    if case == "missing":
        response = await (
            surfaces.call("DELETE", "/api/v1/rules/999999")
            if surface == "api"
            else surfaces.form("/admin/rules/999999/toggle", {"delete": "1"})
        )
    elif surface == "api":
        response = await surfaces.call("POST", "/api/v1/rules", json={"name": name, "if": conditions, "then": RULE_THEN})
    else:
        response = await surfaces.form(
            "/admin/rules", {"name": name, "conditions": json.dumps(conditions), "actions": json.dumps(RULE_THEN)}
        )
    await refused(surfaces, surface, {"duplicate": "conflict", "bad_input": "invalid", "missing": "not_found"}[case], response)
    if case == "bad_input":
        assert "text_matchez" in response.text
    assert await surfaces.audit_actions() == before
    async with surfaces.api.services.db.read() as session:
        assert list(await session.scalars(select(Rule.name))) == ["invoices"]


# ---- channels ----------------------------------------------------------------


def spool_settings(tmp_path: Path) -> dict[str, str]:
    return {"inbox_dir": str(tmp_path / "in"), "outbox_dir": str(tmp_path / "out")}


@pytest.mark.parametrize("surface", ["api", "ui"])
async def test_channel_create_disable_delete_are_one_action_each(surfaces: Surfaces, surface: str, tmp_path: Path) -> None:
    import json

    settings = spool_settings(tmp_path)
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/channels", json={"name": "drop", "type": "spool", "settings": settings})
        assert response.status_code == 201, response.text
    else:
        response = await surfaces.form("/admin/channels", {"name": "drop", "type": "spool", "settings": json.dumps(settings)})
        assert response.status_code == 303
    async with surfaces.api.services.db.read() as session:
        row = await session.scalar(select(Channel).where(Channel.name == "drop"))
    assert row is not None and (row.type, row.enabled, row.provisioned, row.settings) == ("spool", True, False, settings)
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == (
        "channel.create",
        f"channel:{row.id}",
        {"name": "drop", "type": "spool", "keys": ["inbox_dir", "outbox_dir"]},
    )

    if surface == "api":
        assert (await surfaces.call("PATCH", f"/api/v1/channels/{row.id}", json={"enabled": False})).status_code == 200
    else:
        assert (await surfaces.form(f"/admin/channels/{row.id}/toggle")).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("channel.update", f"channel:{row.id}", {"keys": [], "enabled": False})

    if surface == "api":
        assert (await surfaces.call("DELETE", f"/api/v1/channels/{row.id}")).status_code == 204
    else:
        assert (await surfaces.form(f"/admin/channels/{row.id}/delete")).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("channel.delete", f"channel:{row.id}", {"name": "drop"})
    async with surfaces.api.services.db.read() as session:
        assert await session.get(Channel, row.id) is None


@pytest.mark.parametrize("surface", ["api", "ui"])
@pytest.mark.parametrize("case", ["duplicate", "bad_input", "unknown_type"])
async def test_channel_refusals_are_the_same(surfaces: Surfaces, surface: str, case: str, tmp_path: Path) -> None:
    import json

    settings = spool_settings(tmp_path)
    assert (
        await surfaces.call("POST", "/api/v1/channels", json={"name": "drop", "type": "spool", "settings": settings})
    ).status_code == 201
    await surfaces.csrf()
    before = await surfaces.audit_actions()
    body = {
        "duplicate": {"name": "drop", "type": "spool", "settings": settings},
        "bad_input": {"name": "drop2", "type": "spool", "settings": {"inbox_dir": str(tmp_path / "in2")}},
        "unknown_type": {"name": "drop2", "type": "carrier-pigeon", "settings": {}},
    }[case]
    if surface == "api":
        response = await surfaces.call("POST", "/api/v1/channels", json=body)
        text = response.json()["error"]["message"]
    else:
        response = await surfaces.form("/admin/channels", {**body, "settings": json.dumps(body["settings"])})  # type: ignore[dict-item]
        text = response.text
    await refused(surfaces, surface, "conflict" if case == "duplicate" else "invalid", response)
    assert {"duplicate": "exists already", "bad_input": "outbox_dir", "unknown_type": "unknown channel type"}[case] in text
    assert await surfaces.audit_actions() == before
    async with surfaces.api.services.db.read() as session:
        assert list(await session.scalars(select(Channel.name))) == ["drop"]


async def test_the_add_channel_form_lists_each_type_once(surfaces: Surfaces) -> None:
    import re

    import channels

    await surfaces.csrf()
    page = await surfaces.client.get("/admin/channels")
    select_html = page.text.split('id="ch-type"')[1].split("</select>")[0]
    offered = re.findall(r"<option[^>]*>([^<]+)</option>", select_html)
    assert offered == sorted(channels.ADAPTERS)


# ---- canned responses (the UI is their only surface) ----------------------------


async def test_canned_save_replace_and_delete_are_audited_actions(surfaces: Surfaces) -> None:
    assert (await surfaces.form("/admin/canned", {"name": " thanks ", "text": "Thank you!"})).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("canned.save", "canned:thanks", {"created": True})
    assert (await surfaces.form("/admin/canned", {"name": "thanks", "text": "Many thanks!"})).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target, entry.details) == ("canned.save", "canned:thanks", {"created": False})
    async with surfaces.api.services.db.read() as session:
        assert list(await session.scalars(select(CannedResponse.text))) == ["Many thanks!"]
    before = await surfaces.audit_actions()
    empty = await surfaces.form("/admin/canned", {"name": "empty", "text": "  "})
    assert empty.status_code == 422 and "text: must not be empty" in empty.text
    assert await surfaces.audit_actions() == before
    assert (await surfaces.form("/admin/canned", {"name": "thanks", "remove": "1"})).status_code == 303
    entry = await surfaces.last_audit()
    assert (entry.action, entry.target) == ("canned.delete", "canned:thanks")
    missing = await surfaces.form("/admin/canned", {"name": "thanks", "remove": "1"})
    assert missing.status_code == 404
    async with surfaces.api.services.db.read() as session:
        assert list(await session.scalars(select(CannedResponse.id))) == []
