"""Shared fixtures: real databases (SQLite and PostgreSQL) and in-process services."""

from tests.fixtures.databases import db_url, pg_db_url, pg_template, sqlite_template  # noqa: F401
from tests.fixtures.inbox import api, services  # noqa: F401
