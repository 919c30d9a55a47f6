"""The dashboard's reports (a date range, figures per team and agent, each linking to its CSV)
and the contact page's "Erase personal data" (admins, confirmed)."""

from __future__ import annotations

import html

from sqlalchemy import select

from inbox.store.models import AuditEntry, Contact, Conversation, Team
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.ui.test_ui_pages import csrf_of, sign_in


async def test_the_dashboard_shows_a_range_per_team_and_agent_with_csv_links_in_english_and_spanish(api: Api) -> None:
    svc = api.services
    channel = await add_channel(svc, "mail", "email")
    [result] = await svc.ingestor.ingest(channel, [inbound("a1", subject="Billing")])
    await svc.db.run(lambda conn: conn.execute(Team.__table__.insert().values(id=1, name="Billing")))
    await svc.db.run(lambda conn: conn.execute(Conversation.__table__.update().values(team_id=1)))
    await sign_in(api, "boss2@example.com", role="admin")
    page = await api.client.get("/dashboard")
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert 'name="from" type="date"' in text and "Quick ranges" in text and "By team" in text and "By agent" in text
    assert 'aria-current="true">30 days' in text  # the default range is the 30-day preset
    assert "/api/v1/reports/conversations.csv?from=" in text and "team=Billing" in text and "Customer satisfaction" in text
    csv_link = next(part.split('"', 1)[0] for part in text.split('href="') if part.startswith("/api/v1/reports/conversations.csv"))
    # The CSV is the API's, read with the browser's session.
    exported = await api.client.get(csv_link)
    assert exported.status_code == 200 and "Billing" in exported.text and exported.text.startswith("id,subject,channel")

    year = await api.client.get("/dashboard", params={"from": "2026-01-01", "to": "2026-12-31"})
    assert year.status_code == 200 and "Conversations per week" in year.text
    bad = await api.client.get("/dashboard", params={"from": "2026-02-02", "to": "2026-01-01"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text and "three years" in bad.text

    spanish = await api.client.get("/dashboard", headers={"Accept-Language": "es"})
    assert "Por equipo" in spanish.text and "Periodo" in spanish.text and "Exportar CSV" in spanish.text
    assert result.conversation_id is not None


async def test_an_admin_erases_a_contact_from_its_page_and_an_agent_sees_no_button(api: Api) -> None:
    channel = await add_channel(api.services, "mail", "email")
    [result] = await api.services.ingestor.ingest(channel, [inbound("a1", sender="ana@example.com", name="Ana", text="my IBAN")])
    async with api.services.db.read() as session:
        contact_id = (await session.get(Conversation, result.conversation_id)).contact_id  # type: ignore[union-attr]
    agent_csrf = await sign_in(api, "agent@example.com")
    as_agent = await api.client.get(f"/contacts/{contact_id}")
    assert as_agent.status_code == 200 and "Erase personal data" not in as_agent.text
    refused = await api.client.post(f"/contacts/{contact_id}/erase", data={"csrf": agent_csrf})
    assert refused.status_code == 403

    await sign_in(api, "boss2@example.com", role="admin")
    page = await api.client.get(f"/contacts/{contact_id}")
    assert f'action="/contacts/{contact_id}/erase" data-confirm="' in page.text
    csrf = csrf_of(page.text)
    assert (await api.client.post(f"/contacts/{contact_id}/erase", data={"csrf": "wrong"})).status_code in (400, 403)
    done = await api.client.post(f"/contacts/{contact_id}/erase", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == f"/contacts/{contact_id}?flash=erased"
    shown = await api.client.get(done.headers["location"])
    assert "Personal data erased." in shown.text and "Erased contact" in shown.text
    async with api.services.db.read() as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None and contact.email is None
        assert await session.scalar(select(AuditEntry.action).where(AuditEntry.action == "contact.erase")) == "contact.erase"
    assert (await api.client.post("/contacts/999999/erase", data={"csrf": csrf})).status_code == 404
