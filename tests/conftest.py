"""Shared fixtures: real databases (SQLite and PostgreSQL) and in-process services."""

from __future__ import annotations

import pytest

from tests.fixtures.databases import db_url, pg_db_url, pg_template, sqlite_template  # noqa: F401
from tests.fixtures.inbox import api, services  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`end_to_end` tests drive the real daemon through a channel's own protocol; what they
    check of the store, the in-process store tests check on both databases. They run on
    SQLite, the embedded default, only (the fault tests, which kill the daemon, stay on both):
    the machines have two cores, and a daemon per test per database is most of a run."""
    dropped = [item for item in items if item.get_closest_marker("end_to_end") and "[postgresql" in item.nodeid]
    if dropped:
        gone = set(dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in gone]
