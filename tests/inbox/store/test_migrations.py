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


def _index_and_plan(tmp_path: Path, index: str, query: str) -> tuple[list[str], str]:
    """The columns of `index` in a SQLite database migrated to the head, and SQLite's plan of `query`."""
    path = tmp_path / "head.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as conn:
        columns = [row[2] for row in conn.execute(f"PRAGMA index_info('{index}')")]
        plan = " ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
    return columns, plan


def test_the_head_has_the_answer_index_on_sqlite(tmp_path: Path) -> None:
    """Migration 0023: the lists' waiting times read our last public reply and the customer's
    messages from `message (conversation_id, direction, deleted_at, private, automated,
    created_at)`, not from the message rows (issue 23)."""
    columns, plan = _index_and_plan(
        tmp_path,
        "ix_message_conversation_answer",
        "SELECT max(created_at) FROM message WHERE conversation_id = 1 AND direction = 'out'"
        " AND private = 0 AND automated = 0 AND deleted_at IS NULL",
    )
    assert columns == ["conversation_id", "direction", "deleted_at", "private", "automated", "created_at"]
    assert "COVERING INDEX ix_message_conversation_answer" in plan


def test_the_head_lists_a_priority_from_its_own_index_on_sqlite(tmp_path: Path) -> None:
    """Migration 0024: a list with a status and a priority, newest first, walks
    `conversation (status, priority, last_message_at, id)` in order, with no sort."""
    columns, plan = _index_and_plan(
        tmp_path,
        "ix_conversation_status_priority_last",
        "SELECT id FROM conversation WHERE status = 'open' AND priority = 'P3' ORDER BY last_message_at DESC, id DESC LIMIT 50",
    )
    assert columns == ["status", "priority", "last_message_at", "id"]
    assert "ix_conversation_status_priority_last" in plan and "TEMP B-TREE" not in plan


def test_the_head_lets_postgresql_estimate_a_tag_filter(pg_db_url: str) -> None:
    """Migration 0024: statistics on `tags::text`, so the planner knows how many rows a
    tag's quoted LIKE keeps (without them it guesses 0.5 %, expects a handful and sorts every
    candidate instead of walking the list's index and stopping at the page)."""
    import asyncio
    import json

    import asyncpg

    async def estimate() -> tuple[float, int]:
        conn = await asyncpg.connect(pg_db_url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await conn.execute(
                """INSERT INTO channel (name, type, settings, provisioned, enabled, status, created_at)
                   VALUES ('mail', 'spool', '{}', false, true, 'ok', now());
                   INSERT INTO contact (tags, created_at) VALUES ('[]', now());
                   INSERT INTO conversation (channel_id, contact_id, status, tags, meta, last_message_at, created_at, updated_at)
                   SELECT (SELECT id FROM channel), (SELECT id FROM contact), 'open',
                          CAST(CASE WHEN n % 2 = 0 THEN '["billing", "vip"]' ELSE '["shipping"]' END AS json), '{}', now(), now(), now()
                   FROM generate_series(1, 2000) AS n;
                   ANALYZE conversation"""
            )
            plan = await conn.fetchval("""EXPLAIN (FORMAT JSON) SELECT id FROM conversation WHERE CAST(tags AS TEXT) LIKE '%"billing"%'""")
            statistics = await conn.fetchval("SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'st_conversation_tags_text'")
        finally:
            await conn.close()
        return float(json.loads(plan)[0]["Plan"]["Plan Rows"]), int(statistics)

    rows, statistics = asyncio.run(estimate())
    assert statistics == 1
    assert 500 <= rows <= 1500  # 1,000 of the 2,000 rows; the default guess would be 10
