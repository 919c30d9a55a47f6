"""`frontdesk rules test` and `rules backtest` against a real database, changing nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.daemon import Daemon, daemon, wait_until
from tests.inbox.runtime.test_daemon import message_events, spool_channel

pytestmark = pytest.mark.end_to_end

RULES = """
[[teams]]
name = "billing"
members = []

[[rules]]
name = "invoices to billing"
if = { text_matches = "(?i)invoice|factura" }
then = { assign_team = "billing", tag = ["billing"] }

[[rules]]
name = "outages"
if = { subject_matches = "(?i)down" }
then = { convert = "incident", impact = "high", urgency = "high" }
"""

EML = b"""From: Ana <ana@example.com>
To: support@example.com
Subject: Site down
Message-ID: <x1@example.com>
Content-Type: text/plain; charset=utf-8

Nothing loads and my factura is due.
"""


def test_rules_test_shows_what_would_fire_on_an_eml_and_a_json_sample(daemon: Daemon, tmp_path: Path) -> None:
    daemon.extra = RULES
    daemon.prepare()
    daemon.start()  # provisions the rules from the file
    daemon.stop()
    (tmp_path / "mail.eml").write_bytes(EML)
    out = daemon.cli("rules", "test", "--message", str(tmp_path / "mail.eml")).stdout
    assert "FIRES invoices to billing" in out and "FIRES outages" in out
    assert "converted the conversation to an incident (impact high, urgency high)" in out
    (tmp_path / "sample.json").write_text(json.dumps({"text": "hello", "subject": "question"}))
    out = daemon.cli("rules", "test", "--message", str(tmp_path / "sample.json")).stdout
    assert "no rule fires" in out
    bad = daemon.cli("rules", "test", "--message", str(tmp_path / "missing.eml"), check=False)
    assert bad.returncode == 2


def test_backtest_reports_where_current_rules_differ(daemon: Daemon, tmp_path: Path) -> None:
    daemon.channels = [spool_channel(tmp_path)]
    token = daemon.admin_token()
    daemon.start()
    inbox_dir = tmp_path / "in"
    inbox_dir.mkdir(exist_ok=True)
    (inbox_dir / "a.json").write_text(json.dumps({"id": "a", "from": "ana@example.com", "text": "invoice 7 is wrong"}))
    wait_until(lambda: len(message_events(daemon, token)) == 1, what="the message")
    daemon.stop()
    daemon.extra = RULES
    daemon.write_config()
    daemon.start()  # now with rules: the old message was routed without them
    daemon.stop()
    out = daemon.cli("rules", "backtest", "--days", "1").stdout
    assert "then -; now ['invoices to billing']" in out
    assert "1 inbound message(s) in the last 1 day(s); 1 conversation(s) would be routed differently" in out
