"""`[server] metrics_token`: /metrics behind a bearer token when set, open when not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from inbox import config as config_module
from inbox.config import ConfigError
from inbox.runtime.services import Services
from inbox.web.app import create_app
from tests.fixtures.inbox import SECRET, make_config

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
async def metrics_client(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    services = Services.build(make_config(db_url, server={"secret_key": SECRET, "metrics_token": TOKEN}))
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await services.db.dispose()


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer wrong-token-0123456789",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ñ".encode(),
    ],
)
async def test_metrics_with_a_token_set_need_it(metrics_client: httpx.AsyncClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await metrics_client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "frontdesk" not in response.text


async def test_metrics_with_the_token_are_served(metrics_client: httpx.AsyncClient) -> None:
    for scheme in ("Bearer", "bearer"):
        response = await metrics_client.get("/metrics", headers={"Authorization": f"{scheme} {TOKEN}"})
        assert response.status_code == 200 and "# TYPE" in response.text


async def test_metrics_without_a_token_stay_open(api: object) -> None:
    response = await api.client.get("/metrics")  # type: ignore[attr-defined]
    assert response.status_code == 200 and "# TYPE" in response.text


@pytest.mark.parametrize("token", ["short", "has a space in it 12345", "ñ" * 20, ""])
def test_a_malformed_metrics_token_is_a_config_error(token: str) -> None:
    raw = {"server": {"secret_key": SECRET, "metrics_token": token}, "channels": []}
    with pytest.raises(ConfigError) as error:
        config_module.parse(raw, "frontdesk.toml", {})
    assert any(p.startswith("server.metrics_token:") for p in error.value.problems), error.value.problems


def test_metrics_token_reads_from_the_environment() -> None:
    raw = {"server": {"secret_key": SECRET, "metrics_token": "env:METRICS_TOKEN"}, "channels": []}
    assert config_module.parse(raw, "frontdesk.toml", {"METRICS_TOKEN": TOKEN}).server.metrics_token == TOKEN
