"""Alembic migrations, run by `frontdesk migrate` and checked by /readyz."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from inbox.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "migrations"


# Alembic is imported where it is used: importing it loads every dialect's DDL (a few
# hundred milliseconds), which commands that only read or write rows never need.


def alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def upgrade(url: str) -> None:
    # Alembic's command API is synchronous and runs its own event loop in env.py.
    from alembic import command

    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def current_revision(db: Database) -> str | None:
    try:
        async with db.read() as session:
            return await session.scalar(text("SELECT version_num FROM alembic_version"))
    except Exception:
        return None
