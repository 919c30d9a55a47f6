"""Change management pages without a browser: the list, the form, a change's page with its
lifecycle and approval buttons, the calendar's conflict and freeze markers, Spanish, and the
incident page's suspected changes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from inbox.store.models import AuditEntry, Ticket, TicketAffected, utcnow
from tests.fixtures.inbox import Api, add_channel, inbound
from tests.inbox.web.test_api_changes import graph
from tests.inbox.web.ui.test_ui_pages import csrf_of, sign_in


def local(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M")


async def test_change_pages_form_lifecycle_approval_calendar_and_spanish(api: Api) -> None:
    nodes = await graph(api)
    csrf = await sign_in(api, "ana@example.com")
    listed = await api.client.get("/changes")
    assert listed.status_code == 200 and 'href="/changes" aria-current="page">Changes<' in listed.text and "No changes yet." in listed.text
    form = await api.client.get("/changes/new")
    assert 'name="planned_start" type="datetime-local"' in form.text
    start = utcnow().replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    body = {
        "csrf": csrf,
        "title": "Rack firmware",
        "type": "normal",
        "items": "rack-1",
        "planned_start": local(start),
        "planned_end": local(start + dt.timedelta(hours=3)),
        "approvers": "ana@example.com",
        "backout_plan": "flash the old image",
    }
    created = await api.client.post("/changes", data=body)
    assert created.status_code == 303
    url = created.headers["location"]
    other = await api.client.post("/changes", data={**body, "title": "Checkout deploy", "items": "Checkout", "approvers": ""})
    assert (await api.client.post("/changes", data={**body, "csrf": "nope"})).status_code == 403
    refused = await api.client.post("/changes", data={**body, "items": "nope"})
    assert refused.status_code == 422 and "does not exist" in refused.text
    # The form again, as typed, with the refusal on it.
    assert 'role="alert"' in refused.text and 'name="items" type="text" value="nope"' in refused.text
    assert "flash the old image</textarea>" in refused.text and f'value="{local(start)}"' in refused.text
    bad_date = await api.client.post("/changes", data={**body, "planned_end": "someday"})
    assert bad_date.status_code == 422 and "planned end: not a date and time" in bad_date.text and 'value="someday"' in bad_date.text
    page = await api.client.get(url)
    assert "touches Checkout (high criticality): +3" in page.text and "Send to assessment" in page.text and "Edit change" in page.text
    for status in ("assessment", "approval"):
        moved = await api.client.post(f"{url}/status", data={"csrf": csrf, "status": status})
        assert moved.status_code == 303
    page = await api.client.get(url)
    assert ">Approve</button>" in page.text and ">Reject</button>" in page.text
    decided = await api.client.post(f"{url}/approvals", data={"csrf": csrf, "decision": "approve", "comment": "go"})
    assert decided.status_code == 303 and "flash=chg_decided" in decided.headers["location"]
    page = await api.client.get(decided.headers["location"])
    assert "Your decision was recorded." in page.text and "Scheduled" in page.text and "“go”" in page.text
    async with api.services.db.read() as session:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "change.approval"))).one()
    assert entry.details["via"] == "ui"
    illegal = await api.client.post(f"{url}/status", data={"csrf": csrf, "status": "closed"})
    assert illegal.status_code == 409 and "cannot move" in illegal.text
    await api.client.post(f"{url}/status", data={"csrf": csrf, "status": "implementing"})
    calendar = await api.client.get("/changes/calendar", params={"month": start.strftime("%Y-%m")})
    assert calendar.status_code == 200 and "Conflicts with" in calendar.text and "Rack firmware" in calendar.text
    assert (await api.client.get("/changes/calendar", params={"month": "garbage"})).status_code == 200
    assert other.status_code == 303
    # The incident on Checkout shows the rack change as suspected (Checkout depends on rack-1 through pg-main).
    channel = await add_channel(api.services, "web")
    [result] = await api.services.ingestor.ingest(channel, [inbound("m1", text="checkout down")])
    ticket = await api.client.post(
        f"/api/v1/conversations/{result.conversation_id}/ticket", json={"kind": "incident"}, headers=api.auth(api.admin_token)
    )
    async with api.services.db.transaction() as session:
        session.add(TicketAffected(ticket_id=ticket.json()["id"], node_type=nodes["Checkout"][0], node_id=nodes["Checkout"][1]))
        assert await session.get(Ticket, ticket.json()["id"]) is not None
    incident = await api.client.get(f"/tickets/{ticket.json()['id']}")
    assert "Suspected changes" in incident.text and "Rack firmware" in incident.text
    spanish = await api.client.get(url, headers={"Accept-Language": "es"})
    assert "Ciclo de vida" in spanish.text and "En implementación" in spanish.text and "Enviar a revisión" in spanish.text
    # Risk reasons in the page's language; the API keeps the codes and the English text.
    assert "afecta a Checkout (criticidad alta): +3" in spanish.text and "cambio normal: +1" in spanish.text
    assert "touches Checkout" not in spanish.text
    api_change = (await api.client.get(f"/api/v1{url}", headers=api.auth(api.admin_token))).json()
    assert api_change["risk_reasons"][0] == "touches Checkout (high criticality): +3"
    assert api_change["risk_factors"][0] == {
        "code": "touches",
        "points": 3,
        "params": {"name": "Checkout", "criticality": "high"},
        "text": "touches Checkout (high criticality): +3",
    }
    assert "/changes" in (await api.client.get("/")).text
    assert csrf_of(page.text)
    assert (await api.client.get("/changes/999999999")).status_code == 404
    assert (await api.client.get("/changes/99999999999999999999999")).status_code == 404
