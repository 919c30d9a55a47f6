"""Attachments: served only to who may see them; scriptable types never inline."""

from __future__ import annotations

from channels.base import InboundAttachment
from inbox.store.models import Conversation, Team
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


async def test_images_inline_but_svg_and_html_always_download(api: Api) -> None:
    channel = await add_channel(api.services)
    files = (
        InboundAttachment("photo.png", "image/png", PNG),
        InboundAttachment("evil.svg", "image/svg+xml", SVG),
        InboundAttachment("page.html", "text/html", b"<script>alert(3)</script>"),
        InboundAttachment('na"me;\r\n.txt', "text/plain", b"x"),
    )
    [r] = await api.services.ingestor.ingest(channel, [inbound("m1", attachments=files)])
    headers = api.auth(api.admin_token)
    [message] = (await api.client.get(f"/api/v1/conversations/{r.conversation_id}/messages", headers=headers)).json()["items"]
    by_name = {a["filename"]: a["url"] for a in message["attachments"]}
    png = await api.client.get(by_name["photo.png"], headers=headers)
    assert png.status_code == 200 and png.content == PNG and png.headers["content-type"] == "image/png"
    assert png.headers["content-disposition"].startswith("inline;")
    for name in ("evil.svg", "page.html"):
        response = await api.client.get(by_name[name], headers=headers)
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert response.headers["x-content-type-options"] == "nosniff" and "sandbox" in response.headers["content-security-policy"]
    odd = await api.client.get(by_name['na"me;\r\n.txt'], headers=headers)
    assert "\r" not in odd.headers["content-disposition"] and '"na_me___.txt"' in odd.headers["content-disposition"]


async def test_attachment_of_another_teams_conversation_is_404(api: Api) -> None:
    channel = await add_channel(api.services)
    [r] = await api.services.ingestor.ingest(channel, [inbound("m1", attachments=(InboundAttachment("a.png", "image/png", PNG),))])
    async with api.services.db.transaction() as session:
        team = Team(name="vip")
        session.add(team)
        await session.flush()
        (await session.get(Conversation, r.conversation_id)).team_id = team.id
    _, outsider = await add_agent(api.services, "out@example.com")
    [message] = (await api.client.get(f"/api/v1/conversations/{r.conversation_id}/messages", headers=api.auth(api.admin_token))).json()[
        "items"
    ]
    url = message["attachments"][0]["url"]
    assert (await api.client.get(url, headers=api.auth(outsider))).status_code == 404
    assert (await api.client.get(url)).status_code == 401
    assert (await api.client.get("/attachments/999999", headers=api.auth(api.admin_token))).status_code == 404
