"""The whole REST API fuzzed from its own OpenAPI schema: no input may cause a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from inbox.runtime.services import Services
from inbox.web.app import create_app
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.inbox import add_agent, add_channel, inbound, make_config

TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[object]:
    url = clone_sqlite(sqlite_template, tmp_path_factory.mktemp("fuzz"))
    services = Services.build(make_config(url))

    async def seed() -> str:
        channel = await add_channel(services)
        await services.ingestor.ingest(channel, [inbound(f"m{i}", sender=f"c{i}@example.com", subject="s") for i in range(3)])
        _, token = await add_agent(services, "fuzz@example.com", role="admin")
        return token

    TOKEN["value"] = asyncio.run(seed())
    asyncio.run(services.db.dispose())
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(Services.build(make_config(url))))


def test_no_input_causes_a_server_error(api_schema: schemathesis.BaseSchema) -> None:
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    checked = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
            assert response.status_code < 500, where
            if response.status_code >= 400:
                body = response.json()
                assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), where

        call()
        checked += 1
    assert checked >= 20  # every documented operation was exercised
