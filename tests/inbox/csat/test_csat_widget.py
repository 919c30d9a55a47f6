"""Satisfaction surveys in the chat widget, through the real daemon: the `csat` frame
arrives live when the agent resolves, the stars go back over the socket, once."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.daemon import Daemon, daemon  # noqa: F401
from tests.widget.test_gateway import Visitor, widget_channel


@pytest.fixture
def node(daemon: Daemon) -> Daemon:  # noqa: F811
    daemon.channels = [widget_channel(csat=True, csat_delay=0)]
    daemon.token = daemon.admin_token()  # type: ignore[attr-defined]
    daemon.start()
    return daemon


async def test_widget_stars_rate_the_resolved_conversation_once(node: Daemon) -> None:
    visitor = Visitor(node)
    welcome = await visitor.connect(language="es")
    await visitor.send({"type": "message", "client_id": "c1", "text": "¿Tienen envío a Canarias?"})
    ack = await visitor.expect("ack")
    api = httpx.AsyncClient(base_url=node.url, headers={"Authorization": f"Bearer {node.token}"}, timeout=30)  # type: ignore[attr-defined]
    [conversation] = (await api.get("/api/v1/conversations")).json()["items"]
    assert ack["id"] and (await api.patch(f"/api/v1/conversations/{conversation['id']}", json={"status": "resolved"})).status_code == 200
    offer = await visitor.expect("csat")
    assert offer["question"].startswith("¿Qué tal") and len(offer["labels"]) == 5 and offer["token"]
    await visitor.send({"type": "csat", "token": offer["token"], "rating": 0})
    bad = await visitor.expect("error")
    assert bad["code"] == "bad_rating"
    await visitor.send({"type": "csat", "token": offer["token"], "rating": 5, "comment": "¡Genial!"})
    assert (await visitor.expect("csat_done"))["outcome"] == "rated"
    await visitor.send({"type": "csat", "token": offer["token"], "rating": 1})
    assert (await visitor.expect("csat_done"))["outcome"] == "already_rated"
    await visitor.close()
    # Back later: a rated survey is not offered again (the next frame after welcome is no csat).
    again = Visitor(node)
    await again.connect(token=welcome["token"])
    await again.send({"type": "ping"})
    assert (await again.expect("pong"))["type"] == "pong"
    await again.close()
    ratings = (await api.get("/api/v1/csat")).json()
    await api.aclose()
    assert [(i["rating"], i["rated_via"], i["comment"], i["conversation_id"]) for i in ratings["items"]] == [
        (5, "widget", "¡Genial!", conversation["id"])
    ]
    assert ratings["score"]["csat_percent"] == 100.0
