"""The agent's desk, finished (without a browser): a nameless visitor is "Visitante N" on every
Spanish page and "Visitor N" with `visitor_number` in the API; "Snooze until" a date and time in
the agent's zone, a past or unreadable time refused on the page with the typed value kept, and
the API's `snoozed_until` checked the same way; each inbox row's "Resolve"; the header's "More"."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select

from inbox.actions.conversations import wake_snoozed
from inbox.queries.macros import variables_of
from inbox.store.models import Conversation, utcnow
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import sign_in

SPANISH = {"Accept-Language": "es-ES,es;q=0.9"}


async def a_visitor(api: Api) -> tuple[int, int]:
    """A widget visitor who gave no name (the channel names them by key): (conversation, contact)."""
    channel = await add_channel(api.services, "chat", "widget")
    [result] = await api.services.ingestor.ingest(channel, [inbound("w1", sender="v:20Z_0JfT9xk", text="Hola, ¿me ayudan?")])
    async with api.services.db.read() as session:
        contact_id = await session.scalar(select(Conversation.contact_id).where(Conversation.id == result.conversation_id))
    assert contact_id is not None
    return result.conversation_id, contact_id


async def test_a_nameless_visitor_is_visitante_on_every_spanish_page_and_visitor_in_the_api(api: Api) -> None:
    cid, contact_id = await a_visitor(api)
    await sign_in(api, "ana@example.com", role="admin")
    spanish_name, english_name = f"Visitante {contact_id}", f"Visitor {contact_id}"
    for path in ("/", f"/conversations/{cid}", f"/conversations/{cid}/timeline", "/contacts", f"/contacts/{contact_id}"):
        page = await api.client.get(path, headers=SPANISH)
        assert page.status_code == 200, path
        assert spanish_name in page.text, path
        for bad in (english_name, "v:20Z"):
            assert bad not in page.text, (path, page.text[max(0, page.text.find(bad) - 300) : page.text.find(bad) + 100])
    english = await api.client.get(f"/conversations/{cid}", headers={"Accept-Language": "en"})
    assert english_name in english.text and "Visitante" not in english.text
    # The API does not translate: the English form and the number alone, whoever asks.
    shown = (await api.client.get(f"/api/v1/conversations/{cid}", headers={**api.auth(api.admin_token), **SPANISH})).json()
    assert shown["contact"]["display_name"] == english_name and shown["contact"]["visitor_number"] == contact_id
    # Canned responses and macros greet nobody by the visitor's key.
    filled = await api.services.db.query(lambda s: variables_of(s.connection(), cid, None))
    assert filled["contact.name"] == filled["contact.first_name"] == ""
    messages = (await api.client.get(f"/api/v1/conversations/{cid}/messages", headers=api.auth(api.admin_token))).json()["items"]
    assert messages[0]["author"] == {"type": "contact", "id": contact_id, "name": english_name, "visitor_number": contact_id}


async def test_snooze_until_a_local_time_and_a_past_time_refused_on_the_page(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", subject="Printer")])
    cid = result.conversation_id
    csrf = await sign_in(api, "ana@example.com")
    wanted = (utcnow() + dt.timedelta(days=3)).astimezone(ZoneInfo("America/Mexico_City")).replace(second=0, microsecond=0)
    typed = wanted.strftime("%Y-%m-%dT%H:%M")
    form = {"csrf": csrf, "status": "open", "snooze_until": typed, "tz": "America/Mexico_City"}
    done = await api.client.post(f"/conversations/{cid}/update", data=form)
    assert done.status_code == 303
    async with api.services.db.read() as session:
        row = await session.get_one(Conversation, cid)
    assert row.status == "snoozed" and row.snoozed_until == wanted.astimezone(dt.UTC)
    page = await api.client.get(f"/conversations/{cid}")
    assert "Snoozed until" in page.text and f'datetime="{wanted.astimezone(dt.UTC).isoformat()}"' in page.text

    # A past time: the page again (422), the error under the field, the typed value kept, nothing changed.
    past = (dt.datetime.now(ZoneInfo("America/Mexico_City")) - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    refused = await api.client.post(
        f"/conversations/{cid}/update",
        data={"csrf": csrf, "status": "snoozed", "resnooze": "1", "snooze_until": past, "tz": "America/Mexico_City"},
        headers=SPANISH,
    )
    assert refused.status_code == 422
    assert "Elige un momento futuro." in refused.text
    assert re.search(rf'name="snooze_until" type="datetime-local" value="{past}"[^>]*aria-invalid="true"', refused.text)
    unreadable = await api.client.post(
        f"/conversations/{cid}/update", data={"csrf": csrf, "status": "snoozed", "resnooze": "1", "snooze_until": "soon"}
    )
    assert unreadable.status_code == 422 and "That is not a date and time." in unreadable.text and 'value="soon"' in unreadable.text
    async with api.services.db.read() as session:
        row = await session.get_one(Conversation, cid)
    assert row.status == "snoozed" and row.snoozed_until == wanted.astimezone(dt.UTC)
    # An unknown zone (or none: the page's script did not run) reads the time as UTC.
    later = (utcnow() + dt.timedelta(days=1)).replace(second=0, microsecond=0, tzinfo=None)
    await api.client.post(
        f"/conversations/{cid}/update",
        data={"csrf": csrf, "status": "snoozed", "resnooze": "1", "snooze_until": later.strftime("%Y-%m-%dT%H:%M"), "tz": "../etc/passwd"},
    )
    async with api.services.db.read() as session:
        row = await session.get_one(Conversation, cid)
    assert row.snoozed_until == later.replace(tzinfo=dt.UTC)
    # At its time the snooze watch opens it again, and the timeline says so.
    assert await wake_snoozed(api.services.ctx, later.replace(tzinfo=dt.UTC) + dt.timedelta(minutes=1)) == [cid]
    timeline = await api.client.get(f"/conversations/{cid}/timeline", headers=SPANISH)
    assert "Fin de la posposición" in timeline.text


async def test_the_api_snoozes_until_an_iso_instant_with_its_offset_and_refuses_a_past_or_naive_one(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1")])
    url, auth = f"/api/v1/conversations/{result.conversation_id}", api.auth(api.admin_token)
    until = (utcnow() + dt.timedelta(days=2)).astimezone(dt.timezone(dt.timedelta(hours=-6))).replace(microsecond=0)
    done = await api.client.patch(url, headers=auth, json={"status": "snoozed", "snoozed_until": until.isoformat()})
    assert done.status_code == 200 and done.json()["snoozed_until"] == until.astimezone(dt.UTC).isoformat()
    past = await api.client.patch(url, headers=auth, json={"status": "snoozed", "snoozed_until": "2020-01-01T00:00:00+00:00"})
    assert past.status_code == 422 and past.json()["error"]["code"] == "snooze_until_past"
    naive = await api.client.patch(url, headers=auth, json={"status": "snoozed", "snoozed_until": until.replace(tzinfo=None).isoformat()})
    assert naive.status_code == 422 and naive.json()["error"]["code"] == "snooze_until_bad"
    assert (await api.client.get(url, headers=auth)).json()["snoozed_until"] == until.astimezone(dt.UTC).isoformat()


async def test_each_inbox_row_has_a_named_resolve_button_that_works_without_script(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", subject="Refund for order 5521")])
    csrf = await sign_in(api, "ana@example.com")
    inbox = await api.client.get("/")
    assert 'aria-label="Resolve Refund for order 5521"' in inbox.text
    assert f'action="/conversations/{result.conversation_id}/resolve"' in inbox.text
    spanish = await api.client.get("/", headers=SPANISH)
    assert 'aria-label="Resolver Refund for order 5521"' in spanish.text
    done = await api.client.post(f"/conversations/{result.conversation_id}/resolve", data={"csrf": csrf, "next": "/?view=all"})
    assert done.status_code == 303 and done.headers["location"] == "/?view=all"
    async with api.services.db.read() as session:
        assert (await session.get_one(Conversation, result.conversation_id)).status == "resolved"
    answered = await api.client.get("/", params={"status": "resolved"})
    assert 'aria-label="Resolve Refund for order 5521"' not in answered.text  # nothing to resolve there


async def test_the_header_keeps_the_daily_sections_and_puts_the_rest_under_more(api: Api) -> None:
    await sign_in(api, "ana@example.com", role="admin")
    page = await api.client.get("/macros", headers=SPANISH)
    header = page.text[page.text.index('<header class="top">') : page.text.index("</header>")]
    nav, menu = header.split("<details", 1)
    for label in ("Bandeja de entrada", "Tickets", "Incidentes", "Contactos", "Base de conocimiento", "Panel"):
        assert f">{label}</a>" in nav
    assert "<summary" in menu and "Más" in menu
    for href in ("/problems", "/changes", "/services", "/organizations", "/macros", "/admin/channels"):
        assert f'href="{href}"' in menu
    assert 'href="/macros" aria-current="page"' in menu and 'class="current"' in menu
