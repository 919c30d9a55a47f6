"""Shared fixtures: real databases (SQLite and PostgreSQL) and in-process services."""

from __future__ import annotations

import pytest

from tests.fixtures.databases import db_url, pg_db_url, pg_template, sqlite_template  # noqa: F401
from tests.fixtures.inbox import api, services  # noqa: F401

# Tests of the surfaces run on SQLite (the embedded default) only: the pages, the browser
# tests, the fuzzers and the sameness of a change made through the API, the UI and the CLI.
# What they reach of the store is the actions' and queries' work, whose tests (and the
# store's, the pipeline's, the API's and the SIGKILL fault tests) run on both databases.
# The machines have two cores: a second database for every page test is most of a run.
SURFACE_TESTS = ("tests/inbox/web/ui/", "tests/ui/", "tests/hostile/", "tests/inbox/actions/test_sameness")


def _surface(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("end_to_end")) or item.nodeid.startswith(SURFACE_TESTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`end_to_end` tests (a channel's protocol through the real daemon) and the surface
    tests above run on SQLite only."""
    dropped = [item for item in items if "[postgresql" in item.nodeid and _surface(item)]
    if dropped:
        gone = set(dropped)
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in gone]
