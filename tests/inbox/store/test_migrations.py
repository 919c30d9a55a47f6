"""The migrated schema keeps what later revisions could silently drop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.fixtures.databases import _migrate


def test_every_revision_keeps_the_full_text_triggers_on_sqlite(tmp_path: Path) -> None:
    """A batch ALTER on SQLite copies the table and loses its triggers: search would then
    find nothing new. Each revision since must leave them in place."""
    path = tmp_path / "head.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as conn:
        triggers = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'message'")}
    assert {"message_fts_insert", "message_fts_delete", "message_fts_update"} <= triggers
