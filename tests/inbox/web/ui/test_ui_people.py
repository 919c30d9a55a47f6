"""The contacts and organizations pages: list and search, the contact's edit form, the
organizations' forms (admins change, agents read), and every refused form keeps what was typed."""

from __future__ import annotations

import html

from sqlalchemy import select

from inbox.store.models import Contact, Conversation, Organization
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import csrf_of, sign_in


async def a_contact(api: Api, sender: str = "ana@acme.example", name: str = "Ana Pérez") -> int:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", sender=sender, name=name, subject="Billing")])
    async with api.services.db.read() as session:
        conversation = await session.get(Conversation, result.conversation_id)
        assert conversation is not None
        return conversation.contact_id


async def test_contacts_page_searches_and_the_contact_form_saves_or_keeps_input(api: Api) -> None:
    contact_id = await a_contact(api)
    csrf = await sign_in(api, "agent@example.com")
    listed = await api.client.get("/contacts")
    assert listed.status_code == 200 and "Ana Pérez" in listed.text and 'role="search"' in listed.text
    assert 'href="/contacts" aria-current="page"' in listed.text
    assert "Ana Pérez" in (await api.client.get("/contacts", params={"q": "acme.example"})).text
    nothing = await api.client.get("/contacts", params={"q": "nobody-here"})
    assert "Ana Pérez" not in nothing.text and "No contact matches that search." in nothing.text
    assert (await api.client.get("/contacts", params={"cursor": "junk"})).status_code == 200
    page = await api.client.get(f"/contacts/{contact_id}")
    assert page.status_code == 200 and 'id="c-phone" name="phone" type="tel"' in page.text and "Billing" in page.text
    bad = {
        "csrf": csrf,
        "name": "Ana María",
        "email": "not an address",
        "phone": "+34 600",
        "organization": "",
        "notes": "Calls <on> Mondays",
    }
    refused = await api.client.post(f"/contacts/{contact_id}", data=bad)
    assert refused.status_code == 422
    text = refused.text
    assert 'value="Ana María"' in text and 'value="not an address"' in text and 'value="+34 600"' in text
    assert html.escape("Calls <on> Mondays", quote=False) in text and 'aria-invalid="true" aria-describedby="err-email"' in text
    assert 'id="err-email" role="alert">That is not an email address.' in text
    good = {**bad, "email": "Ana.M@Acme.example"}
    saved = await api.client.post(f"/contacts/{contact_id}", data=good)
    assert saved.status_code == 303 and saved.headers["location"] == f"/contacts/{contact_id}?flash=saved"
    async with api.services.db.read() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        assert (contact.name, contact.email, contact.phone, contact.notes) == (
            "Ana María",
            "ana.m@acme.example",
            "+34 600",
            "Calls <on> Mondays",
        )
    unknown = await api.client.post(f"/contacts/{contact_id}", data={**good, "organization": "999999"})
    assert unknown.status_code == 422 and "That organization does not exist." in unknown.text and 'value="Ana María"' in unknown.text
    assert (await api.client.post("/contacts/999999", data=good)).status_code == 404
    spanish = await api.client.get(f"/contacts/{contact_id}", headers={"Accept-Language": "es"})
    assert "Teléfono" in spanish.text and "Contactos" in spanish.text


async def test_organizations_admin_creates_edits_and_deletes_agents_read(api: Api) -> None:
    contact_id = await a_contact(api)
    csrf = await sign_in(api, "admin@example.com", role="admin")
    created = await api.client.post("/organizations", data={"csrf": csrf, "name": "Acme", "domains": "acme.example\nACME.org", "notes": ""})
    assert created.status_code == 303
    async with api.services.db.read() as session:
        org = await session.scalar(select(Organization))
        assert org is not None and org.domains == ["acme.example", "acme.org"]
        assert (await session.get(Contact, contact_id)).organization_id == org.id  # type: ignore[union-attr]
    page = await api.client.get(f"/organizations/{org.id}")
    assert page.status_code == 200 and "Ana Pérez" in page.text and 'name="domains"' in page.text
    clash = await api.client.post(
        "/organizations", data={"csrf": csrf, "name": "Rival Inc", "domains": "rival.example, acme.org", "notes": "n"}
    )
    assert clash.status_code == 409
    assert 'value="Rival Inc"' in clash.text and "rival.example, acme.org</textarea>" in clash.text
    assert 'id="err-domains" role="alert">Another organization already has that domain.' in clash.text
    bad = await api.client.post(f"/organizations/{org.id}", data={"csrf": csrf, "name": "Acme", "domains": "not a domain", "notes": "kept"})
    assert bad.status_code == 422 and "not a domain</textarea>" in bad.text and "kept</textarea>" in bad.text
    unconfirmed = await api.client.post(f"/organizations/{org.id}/delete", data={"csrf": csrf})
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    # An agent reads, and may not change.
    agent_csrf = await sign_in(api, "agent@example.com")
    listed = await api.client.get("/organizations")
    assert listed.status_code == 200 and "Acme" in listed.text and 'method="post" action="/organizations"' not in listed.text
    assert 'name="domains"' not in (await api.client.get(f"/organizations/{org.id}")).text
    refused = await api.client.post(f"/organizations/{org.id}", data={"csrf": agent_csrf, "name": "Mine", "domains": ""})
    assert refused.status_code in (403, 404)
    es = await api.client.get("/organizations", headers={"Accept-Language": "es"})
    assert es.status_code == 200 and "Dominios de correo" in es.text and "Buscar organizaciones" in es.text
    await sign_in(api, "admin2@example.com", role="admin")
    admin_csrf = csrf_of((await api.client.get("/organizations")).text)
    deleted = await api.client.post(f"/organizations/{org.id}/delete", data={"csrf": admin_csrf, "confirm": "1"})
    assert deleted.status_code == 303
    assert "Organization deleted." in (await api.client.get(deleted.headers["location"])).text
    assert (await api.client.get(f"/organizations/{org.id}")).status_code == 404


async def test_the_add_channel_form_has_fields_per_type_and_keeps_them_on_an_error(api: Api, tmp_path: object) -> None:
    csrf = await sign_in(api, "admin@example.com", role="admin")
    page = (await api.client.get("/admin/channels")).text
    assert 'data-channel-type="email"' in page and 'name="s.email.imap.host"' in page
    assert 'id="s-email-imap-password" name="s.email.imap.password" type="password"' in page
    assert 'name="s.email.use_idle" type="checkbox" value="1" checked' in page
    assert 'name="s.telegram.poll_timeout" type="number" step="1"' in page
    assert '<select id="s-telegram-mode" name="s.telegram.mode"' in page
    typed = {"csrf": csrf, "name": "drop", "type": "spool", "s.spool.inbox_dir": "/srv/in", "s.spool.poll_interval": "soon"}
    refused = await api.client.post("/admin/channels", data=typed)
    assert refused.status_code == 422, refused.text
    assert 'name="s.spool.inbox_dir" type="text" value="/srv/in"' in refused.text and 'value="drop"' in refused.text
    assert 'name="s.spool.outbox_dir" type="text" value="" aria-invalid="true"' in refused.text
    assert 'name="s.spool.poll_interval" type="number" step="any" inputmode="decimal" value="soon" aria-invalid="true"' in refused.text
    good = {**typed, "s.spool.outbox_dir": "/srv/out", "s.spool.poll_interval": "0.5", "s.spool.batch_size": "7"}
    assert (await api.client.post("/admin/channels", data=good)).status_code == 303
    from inbox.store.models import Channel

    async with api.services.db.read() as session:
        row = await session.scalar(select(Channel).where(Channel.name == "drop"))
        assert row is not None and row.type == "spool"
        assert row.settings["inbox_dir"] == "/srv/in" and row.settings["outbox_dir"] == "/srv/out"
        assert row.settings["poll_interval"] == 0.5 and row.settings["batch_size"] == 7


async def test_a_refused_channel_edit_keeps_the_typed_settings(api: Api) -> None:
    channel = await add_channel(api.services, "drop", "spool")
    csrf = await sign_in(api, "admin@example.com", role="admin")
    typed = '{"inbox_dir": "/srv/in", "outbox_dir": "/srv/out", "poll_interval": "often"}'
    refused = await api.client.post(f"/admin/channels/{channel.id}", data={"csrf": csrf, "settings": typed, "enabled": "1"})
    assert refused.status_code == 422
    assert typed.replace('"', "&#34;") + "</textarea>" in refused.text
