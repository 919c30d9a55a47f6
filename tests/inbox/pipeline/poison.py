"""A database that refuses some messages, as a store refuses a value it cannot hold.

`refuse_marked_messages` adds a real constraint to the test's database: a message whose
text contains MARK violates it (a CHECK constraint on PostgreSQL, a trigger on SQLite,
which cannot add a CHECK to an existing table). Every other message is stored as usual.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from inbox.runtime.services import Services

MARK = "REFUSED-BY-CONSTRAINT"


async def refuse_marked_messages(services: Services) -> None:
    def work(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"ALTER TABLE message ADD CONSTRAINT test_refused CHECK (position('{MARK}' in text) = 0)"))
        else:
            conn.execute(
                text(
                    f"CREATE TRIGGER test_refused BEFORE INSERT ON message WHEN instr(NEW.text, '{MARK}') > 0 "
                    "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: test_refused'); END"
                )
            )

    await services.db.run(work)
