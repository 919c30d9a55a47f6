"""The channel-webhook front door (`inbox.web.api.hooks.ChannelHooks`), with adapters that misbehave."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from channels.base import WebhookRequest, WebhookResponse
from inbox.web.api.hooks import ChannelHooks


class Adapter:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[WebhookRequest] = []

    async def handle_webhook(self, request: WebhookRequest) -> WebhookResponse:
        self.seen.append(request)
        if self.fail:
            raise RuntimeError("database went away")
        return WebhookResponse(status=202, body=b"taken", content_type="text/plain", headers={"X-Note": "kept"})


async def behind(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"the app behind"})


def client(adapter: Adapter) -> httpx.AsyncClient:
    running = SimpleNamespace(ref=SimpleNamespace(type="custom"), adapter=adapter)
    services = SimpleNamespace(
        channels=SimpleNamespace(by_name=lambda name: running if name == "desk" else None),
        config=SimpleNamespace(server=SimpleNamespace(max_request_bytes=1024)),
    )
    app = ChannelHooks(behind, services=services)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_the_adapter_gets_the_request_and_its_answer_goes_back() -> None:
    adapter = Adapter()
    async with client(adapter) as http:
        response = await http.post("/hooks/custom/desk?a=1&b=", content=b"payload", headers={"X-Signature": "s"})
    assert (response.status_code, response.text, response.headers["x-note"]) == (202, "taken", "kept")
    assert response.headers["content-type"] == "text/plain" and response.headers["content-length"] == "5"
    [request] = adapter.seen
    assert (request.body, request.query, request.headers["x-signature"]) == (b"payload", {"a": "1", "b": ""}, "s")


async def test_a_failing_adapter_answers_500_in_json_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="inbox.web.api.hooks"):
        async with client(Adapter(fail=True)) as http:
            response = await http.post("/hooks/custom/desk", content=b"{}")
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "the channel could not take this request; send it again"
    assert "custom channel desk: webhook request failed" in caplog.text and "database went away" in caplog.text


async def test_wrong_method_names_the_allowed_one_and_other_paths_pass_through() -> None:
    async with client(Adapter()) as http:
        wrong = await http.get("/hooks/custom/desk")
        other = await http.get("/api/v1/conversations")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST" and wrong.json()["error"]["code"]
    assert (other.status_code, other.text) == (299, "the app behind")
