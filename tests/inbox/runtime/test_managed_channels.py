"""Channels added through the API: validated, secrets sealed at rest, started and stopped
by the running daemon without a restart, audited; config-file channels stay read-only."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from inbox.store.db import Database
from inbox.store.models import AuditEntry, Channel
from inbox.store.secrets import MASK, SecretBox, SecretError
from tests.fixtures.daemon import Daemon, daemon, wait_until

pytestmark = pytest.mark.end_to_end


def test_secret_box_round_trip_and_tamper() -> None:
    box = SecretBox("a-server-secret-key-of-length")
    sealed = box.seal("123456:bot-token")
    assert sealed.startswith("sealed:v1:") and "bot-token" not in sealed
    assert box.open(sealed) == "123456:bot-token"
    assert box.seal("x") != box.seal("x")  # a fresh nonce each time
    with pytest.raises(SecretError):
        SecretBox("another-server-secret-key").open(sealed)
    with pytest.raises(SecretError):
        box.open(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"))
    stored = box.seal_settings({"token": "t", "webhook_secret": "s", "mode": "polling"})
    assert stored["mode"] == "polling" and box.open_settings(stored) == {"token": "t", "webhook_secret": "s", "mode": "polling"}


def test_secrets_in_nested_tables_are_sealed_masked_and_kept() -> None:
    """An email channel keeps its passwords in `imap` and `smtp` tables."""
    from inbox.store.secrets import masked, merge_settings

    box = SecretBox("a-server-secret-key-of-length")
    settings = {
        "from": "s@example.com",
        "imap": {"host": "imap.example.com", "password": "pw1"},
        "smtp": {"host": "smtp.example.com", "password": "pw2"},
    }
    stored = box.seal_settings(settings)
    assert "pw1" not in json.dumps(stored) and "pw2" not in json.dumps(stored)
    assert stored["imap"]["host"] == "imap.example.com" and box.open_settings(stored) == settings
    assert masked(stored)["imap"] == {"host": "imap.example.com", "password": MASK}
    # Sending the masked form back changes the host but keeps the password.
    merged = merge_settings(stored, {"imap": {"host": "mail.example.com", "password": MASK}})
    assert box.open_settings(merged)["imap"] == {"host": "mail.example.com", "password": "pw1"}
    assert box.open_settings(merged)["smtp"]["password"] == "pw2"


@pytest.fixture
def node(daemon: Daemon, tmp_path: Path) -> Daemon:
    daemon.channels = [{"name": "from-file", "type": "spool", "inbox_dir": str(tmp_path / "f-in"), "outbox_dir": str(tmp_path / "f-out")}]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    return daemon


def admin(node: Daemon) -> httpx.Client:
    return httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {node.token}"}, timeout=30)  # type: ignore[attr-defined]


async def stored_settings(node: Daemon, name: str) -> dict[str, object]:
    db = Database(node.db_url)
    try:
        async with db.read() as session:
            row = (await session.scalars(select(Channel).where(Channel.name == name))).one()
            return dict(row.settings)
    finally:
        await db.dispose()


async def test_a_channel_added_through_the_api_runs_at_once_and_stops_when_disabled(node: Daemon, tmp_path: Path) -> None:
    inbox_dir, outbox_dir = tmp_path / "ui-in", tmp_path / "ui-out"
    with admin(node) as client:
        created = client.post(
            "/api/v1/channels",
            json={"name": "drop", "type": "spool", "settings": {"inbox_dir": str(inbox_dir), "outbox_dir": str(outbox_dir)}},
        )
        assert created.status_code == 201, created.text
        channel = created.json()
        assert channel["provisioned"] is False and channel["settings"]["inbox_dir"] == str(inbox_dir)

        wait_until(lambda: inbox_dir.exists(), 30, what="the new channel's receiver")
        (inbox_dir / "m1.json").write_text(json.dumps({"id": "m1", "from": "ana@example.com", "text": "via a UI channel"}))
        [conversation] = wait_until(lambda: client.get("/api/v1/conversations").json()["items"], 30, what="the message")
        assert conversation["channel"] == "drop"

        # Disabled: the receiver stops on the running node; deleting is refused (it has history).
        assert client.patch(f"/api/v1/channels/{channel['id']}", json={"enabled": False}).json()["enabled"] is False
        wait_until(
            lambda: next(c for c in client.get("/api/v1/channels").json()["items"] if c["name"] == "drop")["status"] == "stopped",
            30,
            what="stopped",
        )
        (inbox_dir / "m2.json").write_text(json.dumps({"id": "m2", "from": "ana@example.com", "text": "while disabled"}))
        assert client.delete(f"/api/v1/channels/{channel['id']}").status_code == 409
        assert (inbox_dir / "m2.json").exists()  # not consumed
        assert client.patch(f"/api/v1/channels/{channel['id']}", json={"enabled": True}).status_code == 200
        wait_until(lambda: not (inbox_dir / "m2.json").exists(), 30, what="the message read after re-enabling")

        actions = [e["action"] for e in client.get("/api/v1/audit").json()["items"]]
        assert {"channel.create", "channel.update"} <= set(actions)


async def test_secrets_are_sealed_at_rest_and_masked_on_the_way_out(node: Daemon) -> None:
    with admin(node) as client:
        body = {"name": "bot", "type": "telegram", "enabled": False, "settings": {"token": "123456:SECRET-token_value", "mode": "polling"}}
        created = client.post("/api/v1/channels", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["settings"]["token"] == MASK
        settings = await stored_settings(node, "bot")
        assert str(settings["token"]).startswith("sealed:v1:") and "SECRET" not in json.dumps(settings)

        # Leaving the secret masked keeps it; other keys change.
        changed = client.patch(f"/api/v1/channels/{created.json()['id']}", json={"settings": {"token": MASK, "mode": "polling"}})
        assert changed.status_code == 200, changed.text
        assert (await stored_settings(node, "bot"))["token"] == settings["token"]
        listed = next(c for c in client.get("/api/v1/channels").json()["items"] if c["name"] == "bot")
        assert "SECRET" not in json.dumps(listed)
        audit_dump = json.dumps(client.get("/api/v1/audit").json())
        assert "SECRET" not in audit_dump


def test_bad_settings_duplicates_and_config_channels_get_clear_errors(node: Daemon, tmp_path: Path) -> None:
    with admin(node) as client:
        bad = client.post("/api/v1/channels", json={"name": "bot2", "type": "telegram", "settings": {"token": "not a token"}})
        assert bad.status_code == 422 and "token" in bad.json()["error"]["message"]
        unknown = client.post("/api/v1/channels", json={"name": "x", "type": "carrier-pigeon"})
        assert unknown.status_code == 422 and "unknown channel type" in unknown.json()["error"]["message"]
        duplicate = client.post(
            "/api/v1/channels",
            json={"name": "from-file", "type": "spool", "settings": {"inbox_dir": str(tmp_path / "a"), "outbox_dir": str(tmp_path / "b")}},
        )
        assert duplicate.status_code == 409
        provisioned = next(c for c in client.get("/api/v1/channels").json()["items"] if c["name"] == "from-file")
        assert provisioned["provisioned"] is True and provisioned["settings"]["inbox_dir"] == str(tmp_path / "f-in")
        refused = client.patch(f"/api/v1/channels/{provisioned['id']}", json={"enabled": False})
        assert refused.status_code == 409 and "config file" in refused.json()["error"]["message"]
        test = client.post(f"/api/v1/channels/{provisioned['id']}/test")
        assert test.status_code == 200 and test.json()["ok"] is True

    node.cli(
        "agents", "add", "agent@example.com", "--name", "Agent", "--role", "agent", "--password-stdin", input="correct horse battery\n"
    )
    token = node.cli("tokens", "create", "--agent", "agent@example.com").stdout.strip()
    with httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {token}"}) as agent:
        assert agent.post("/api/v1/channels", json={"name": "mine", "type": "spool", "settings": {}}).status_code == 403
        assert agent.get("/api/v1/channels").status_code == 403


async def test_audit_entries_name_the_channel_without_secrets(node: Daemon) -> None:
    with admin(node) as client:
        client.post("/api/v1/channels", json={"name": "bot3", "type": "telegram", "enabled": False, "settings": {"token": "1:abc"}})
    db = Database(node.db_url)
    try:
        async with db.read() as session:
            entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "channel.create"))).all()
    finally:
        await db.dispose()
    assert entries and entries[-1].details["name"] == "bot3" and "1:abc" not in json.dumps(entries[-1].details)
