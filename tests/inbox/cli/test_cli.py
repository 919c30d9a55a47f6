"""The `frontdesk` CLI against a real database: agents, tokens, channels, quarantine."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.fixtures.daemon import Daemon, daemon, wait_until
from tests.inbox.runtime.test_daemon import spool_channel

pytestmark = pytest.mark.end_to_end


def test_agents_add_and_tokens_create_give_a_working_token(daemon: Daemon) -> None:
    daemon.prepare()
    added = daemon.cli(
        "agents", "add", "ops@example.com", "--name", "Ops", "--role", "admin", "--password-stdin", input="correct horse battery\n"
    )
    assert added.stdout.strip() == "added admin ops@example.com"
    token = daemon.cli("tokens", "create", "--agent", "ops@example.com").stdout.strip()
    assert token.startswith("fd_")
    duplicate = daemon.cli(
        "agents", "add", "ops@example.com", "--name", "Again", "--password-stdin", input="another password\n", check=False
    )
    assert duplicate.returncode == 1 and "exists" in duplicate.stderr
    short = daemon.cli("agents", "add", "x@example.com", "--name", "X", "--password-stdin", input="short\n", check=False)
    assert short.returncode == 2
    daemon.start()
    response = httpx.get(f"{daemon.url}/api/v1/agents", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "ops@example.com" in {a["email"] for a in response.json()["items"]}


def test_quarantine_list_and_retry(daemon: Daemon, tmp_path: Path) -> None:
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    inbox_dir = tmp_path / "in"
    inbox_dir.mkdir()
    (inbox_dir / "broken.json").write_text('{"id": "b-1", "from": "ana@example.com"')  # truncated JSON
    daemon.start()
    wait_until(lambda: not (inbox_dir / "broken.json").exists(), what="the broken file to be taken")
    listed = daemon.cli("quarantine", "list", "--json").stdout.strip().splitlines()
    [item] = [json.loads(line) for line in listed]
    assert item["channel"] == "drop" and "not JSON" in item["error"] and item["id"]
    retry = daemon.cli("quarantine", "retry", str(item["id"]), check=False)
    assert retry.returncode == 1 and "still cannot parse" in retry.stderr
    assert json.loads(daemon.cli("quarantine", "list", "--json").stdout)["id"] == item["id"]
    channels = daemon.cli("channels", "list").stdout
    assert "drop\tspool\tenabled\trunning" in channels
    test = daemon.cli("channels", "test", "drop")
    assert "ok   inbox_dir" in test.stdout
    response = httpx.get(f"{daemon.url}/api/v1/quarantine", headers={"Authorization": f"Bearer {token}"})
    assert [q["id"] for q in response.json()["items"]] == [item["id"]]


def test_migrate_makes_an_empty_database_ready_to_serve(tmp_path: Path) -> None:
    node = Daemon(workdir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", prepared=False)
    node.write_config()
    refused = node.cli("quarantine", "list", check=False)
    assert refused.returncode != 0 and "no such table" in refused.stderr + refused.stdout  # no schema yet
    node.cli("migrate")
    node.cli("migrate")  # a second run is a no-op
    try:
        node.start()
        assert httpx.get(f"{node.url}/readyz").status_code == 200
    finally:
        node.stop()
