"""The customer portal: sign-in links, the signed link in every e-mail, isolation between
customers, merged identities, replies as inbound messages, new requests with request
types (fields, team, priority, validation, rules) and approval."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from channels.base import InboundAttachment
from channels.email_compose import EmailTemplates
from inbox.actions.contacts import merge_contacts
from inbox.actions.replies import send_reply
from inbox.actions.runner import CLI
from inbox.config import PortalConfig
from inbox.pipeline.outbox import Claim, OutboxWorker
from inbox.queries import portal as portal_queries
from inbox.runtime.provision import provision_request_types
from inbox.runtime.services import Services
from inbox.store.models import (
    AuditEntry,
    Conversation,
    DirectMail,
    Message,
    OutboxItem,
    PortalLink,
    Rule,
    Team,
    Ticket,
    TicketRequest,
)
from routing.request_types import RequestTypeSpec
from tests.fixtures.inbox import Api, add_agent, add_channel, inbound, make_config

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

ACCESS = {
    "name": "Access request",
    "description": "Ask for access to a system.",
    "team": "it",
    "priority": "P2",
    "fields": [
        {"name": "system", "label": "System", "kind": "choice", "choices": ["vpn", "crm"], "required": True},
        {"name": "needed_by", "label": "Needed by", "kind": "date"},
        {"name": "why", "label": "Why", "kind": "long_text", "required": True},
        {"name": "form", "label": "Signed form", "kind": "attachment"},
    ],
}
LAPTOP = {"name": "New laptop", "fields": [{"name": "model", "label": "Model", "kind": "text"}], "approver": "boss2@example.com"}


@pytest.fixture
async def portal(api: Api) -> AsyncIterator[Api]:
    svc = api.services
    svc.config.portal = PortalConfig(email_channel="mail")
    svc.config.request_types = [RequestTypeSpec.model_validate(ACCESS), RequestTypeSpec.model_validate(LAPTOP)]
    await add_channel(svc, "mail", "email")
    async with svc.db.transaction() as session:
        session.add(Team(name="it"))
    await provision_request_types(svc.db, svc.config)
    yield api


async def mail(svc: Services, external_id: str, sender: str, text: str = "Hello", **kw: object) -> tuple[int, int]:
    async with svc.db.read() as session:
        from inbox.store.models import Channel

        row = (await session.scalars(select(Channel).where(Channel.name == "mail"))).one()
    from inbox.pipeline.ingest import ChannelRef

    [r] = await svc.ingestor.ingest(
        ChannelRef(row.id, row.name, row.type), [inbound(external_id, sender, text, subject=f"About {external_id}", **kw)]
    )
    assert r.conversation_id is not None and r.message_id is not None
    contact = await svc.db.query(lambda s: s.scalar(select(Conversation.contact_id).where(Conversation.id == r.conversation_id)))
    return r.conversation_id, int(contact)


async def client_for(api: Api, contact_id: int | None = None) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver")
    if contact_id is not None:
        url = api.services.portal_url(contact_id).removeprefix(api.services.config.server.public_url)
        answer = await client.get(url)
        assert answer.status_code == 303 and "fd_portal" in answer.cookies
        assert "httponly" in answer.headers["set-cookie"].lower() and "samesite=lax" in answer.headers["set-cookie"].lower()
    return client


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


async def sign_in_request(client: httpx.AsyncClient, email: str) -> httpx.Response:
    page = await client.get("/portal")
    return await client.post("/portal/sign-in", data={"email": email, "csrf": csrf_of(page)})


async def test_sign_in_link_is_single_use_expires_and_says_nothing_of_unknown_addresses(portal: Api) -> None:
    svc = portal.services
    _, ana = await mail(svc, "<a1@x>", "ana@example.com")
    client = await client_for(portal)
    known = await sign_in_request(client, "Ana@Example.com")
    unknown = await sign_in_request(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("ana@example.com", "X") == unknown.text.replace("nobody@example.com", "X")
    mails = await svc.db.query(lambda s: list(s.scalars(select(DirectMail))))
    assert [m.address for m in mails] == ["ana@example.com"]
    item = await svc.db.query(lambda s: s.scalar(select(OutboxItem).where(OutboxItem.mail_id == mails[0].id)))
    assert item is not None and item.message_id is None and item.status == "pending"
    # The outbox builds it as a standalone e-mail (no "Re:", no conversation).
    worker = OutboxWorker(svc.db, svc.bus, lambda _: None, svc.config.outbox)
    outbound = await worker._outbound(Claim(item.id, None, item.channel_id, item.idempotency_key, 1, item.mail_id))
    assert outbound.standalone and outbound.recipient.address == "ana@example.com"
    token = re.search(r"/portal/in/(\S+)", mails[0].text)
    assert token is not None
    link = f"/portal/in/{token.group(1)}"
    shown = await client.get(link)  # a GET (a mail scanner) does not use it up
    assert shown.status_code == 200
    used = await client.post(link, data={"csrf": csrf_of(shown)})
    assert used.status_code == 303 and used.headers["location"] == "/portal"
    assert "About &lt;a1@x&gt;" in (await client.get("/portal")).text
    again = await client.post(link, data={"csrf": csrf_of(shown)})
    assert again.status_code == 404
    tampered = await client.post(link[:-2] + "xx", data={"csrf": csrf_of(shown)})
    assert tampered.status_code == 404
    no_csrf = await client.post(link, data={})
    assert no_csrf.status_code == 403
    # Expired.
    other = await client_for(portal)
    assert (await sign_in_request(other, "ana@example.com")).status_code == 200
    newest = await svc.db.query(lambda s: s.scalars(select(DirectMail).order_by(DirectMail.id.desc())).first())
    assert newest is not None
    async with svc.db.transaction() as session:
        await session.execute(update(PortalLink).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    token2 = re.search(r"/portal/in/(\S+)", newest.text)
    assert token2 is not None
    assert newest.id != mails[0].id
    expired = await other.get(f"/portal/in/{token2.group(1)}")
    assert (await other.post(f"/portal/in/{token2.group(1)}", data={"csrf": csrf_of(expired)})).status_code == 404
    await other.aclose()
    audits = await svc.db.query(lambda s: [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.target == f"contact:{ana}"))])
    assert audits.count("portal.link_send") == 2 and audits.count("portal.sign_in") == 1
    await client.aclose()


async def test_sign_in_requests_are_rate_limited_per_address_alike_for_unknown(portal: Api) -> None:
    await mail(portal.services, "<a1@x>", "ana@example.com")
    client = await client_for(portal)
    for email in ("ana@example.com", "ghost@example.com"):
        answers = [(await sign_in_request(client, email)).status_code for _ in range(6)]
        assert answers == [200] * 5 + [429]
    bad = await sign_in_request(client, "not-an-address")
    assert bad.status_code == 422
    await client.aclose()


async def test_every_email_carries_a_signed_link_that_opens_the_portal(portal: Api) -> None:
    svc = portal.services
    conversation, ana = await mail(svc, "<a1@x>", "ana@example.com")
    agent, _ = await add_agent(svc, "agent@example.com")
    await send_reply(svc.ctx, CLI, conversation, "We are on it")
    item = await svc.db.query(lambda s: s.scalars(select(OutboxItem).where(OutboxItem.message_id.is_not(None))).one())
    worker = OutboxWorker(svc.db, svc.bus, lambda _: None, svc.config.outbox, portal_url=svc.portal_url)
    outbound = await worker._outbound(Claim(item.id, item.message_id, item.channel_id, item.idempotency_key, 1))
    assert outbound.portal_url and "/portal/v/" in outbound.portal_url
    text, html = EmailTemplates().render(outbound)
    assert f"View your requests: {outbound.portal_url}" in text and f'href="{outbound.portal_url}"' in html
    client = httpx.AsyncClient(transport=portal.client._transport, base_url="http://testserver")
    opened = await client.get(outbound.portal_url.removeprefix(svc.config.server.public_url))
    assert opened.status_code == 303
    home = await client.get("/portal")
    assert f"/portal/requests/{conversation}" in home.text
    page = await client.get(f"/portal/requests/{conversation}")
    assert "We are on it" in page.text
    # A forged or expired view link opens nothing.
    forged = outbound.portal_url.replace(f"/v/{ana}.", f"/v/{ana + 1}.")
    fresh = httpx.AsyncClient(transport=portal.client._transport, base_url="http://testserver")
    assert (await fresh.get(forged.removeprefix(svc.config.server.public_url))).status_code == 404
    expired = svc.portal.view_token(ana, 1, now=0)
    assert (await fresh.get(f"/portal/v/{expired}")).status_code == 404
    assert "fd_portal" not in fresh.cookies
    await client.aclose()
    await fresh.aclose()


async def test_nothing_of_another_customer_is_reachable_by_any_id(portal: Api) -> None:
    svc = portal.services
    mine, ana = await mail(svc, "<a1@x>", "ana@example.com")
    theirs, bob = await mail(svc, "<b1@x>", "bob@example.com", attachments=(InboundAttachment("bob.png", "image/png", PNG),))
    ticket = await portal.client.post(f"/api/v1/conversations/{theirs}/ticket", json={}, headers=portal.auth(portal.admin_token))
    number = ticket.json()["number"]
    await send_reply(svc.ctx, CLI, mine, "SECRET internal note", private=True)
    await send_reply(svc.ctx, CLI, mine, "Public answer")
    attachment = await svc.db.query(lambda s: s.scalar(select(Message.id).where(Message.conversation_id == theirs)))
    from inbox.store.models import Attachment

    attachment_id = await svc.db.query(lambda s: s.scalar(select(Attachment.id).where(Attachment.message_id == attachment)))
    bob_client = await client_for(portal, bob)
    assert (await bob_client.get(f"/portal/attachments/{attachment_id}")).content == PNG  # the owner gets it
    assert (await bob_client.get(f"/portal/tickets/{number}")).headers["location"] == f"/portal/requests/{theirs}"
    client = await client_for(portal, ana)
    page = await client.get(f"/portal/requests/{mine}")
    assert "Public answer" in page.text and "SECRET" not in page.text
    for path in (
        f"/portal/requests/{theirs}",
        f"/portal/tickets/{number}",
        f"/portal/attachments/{attachment_id}",
        "/portal/requests/99999999999",
        "/portal/requests/99999999999999999999999",
        "/portal/requests/-1",
        "/portal/attachments/abc",
    ):
        assert (await client.get(path)).status_code == 404, path
    reply = await client.post(f"/portal/requests/{theirs}/reply", data={"text": "hijack", "csrf": csrf_of(page)})
    assert reply.status_code == 404
    home = (await client.get("/portal")).text
    assert f"/portal/requests/{theirs}" not in home and "About &lt;b1@x&gt;" not in home
    stored = await svc.db.query(lambda s: list(s.scalars(select(Message.text).where(Message.conversation_id == theirs))))
    assert "hijack" not in stored
    # Someone else's forms: a post without the session's CSRF token is refused.
    assert (await client.post(f"/portal/requests/{mine}/reply", data={"text": "x"})).status_code == 403
    await client.aclose()
    await bob_client.aclose()


async def test_merged_identities_are_seen_and_a_reply_lands_in_the_same_conversation_as_inbound(portal: Api) -> None:
    svc = portal.services
    first, ana = await mail(svc, "<a1@x>", "ana@example.com")
    chat = await add_channel(svc, "chat", "spool")
    [r] = await svc.ingestor.ingest(chat, [inbound("c1", "tg-77", "From chat", email=None)])
    other = await svc.db.query(lambda s: s.scalar(select(Conversation.contact_id).where(Conversation.id == r.conversation_id)))
    await merge_contacts(svc.ctx, CLI, ana, int(other))
    client = await client_for(portal, int(other))  # an old link of the merged contact still finds the person
    home = (await client.get("/portal")).text
    assert f"/portal/requests/{first}" in home and f"/portal/requests/{r.conversation_id}" in home
    page = await client.get(f"/portal/requests/{r.conversation_id}")
    sent = await client.post(f"/portal/requests/{r.conversation_id}/reply", data={"text": "More from the portal", "csrf": csrf_of(page)})
    assert sent.status_code == 303
    last = await svc.db.query(lambda s: s.scalars(select(Message).order_by(Message.id.desc())).first())
    assert last is not None and last.conversation_id == r.conversation_id and last.direction == "in" and last.author_type == "contact"
    assert last.channel_id == chat.id and last.meta == {"via": "portal"} and last.text == "More from the portal"
    empty = await client.post(f"/portal/requests/{first}/reply", data={"text": "  ", "csrf": csrf_of(page)})
    assert empty.status_code == 422
    await client.aclose()


async def test_new_request_with_a_type_makes_a_ticket_with_fields_team_priority_and_rules_see_them(portal: Api) -> None:
    svc = portal.services
    async with svc.db.transaction() as session:
        session.add(
            Rule(
                name="vpn",
                position=0,
                conditions={"request_type": "Access request", "field": {"system": "vpn"}},
                actions={"tag": ["vpn"]},
                enabled=True,
                provisioned=False,
            )
        )
    _, ana = await mail(svc, "<a1@x>", "ana@example.com")
    client = await client_for(portal, ana)
    kinds = await client.get("/portal/new")
    assert "Access request" in kinds.text and "New laptop" in kinds.text
    listed = (await portal.client.get("/api/v1/request-types", headers=portal.auth(portal.admin_token))).json()["items"]
    access = next(t for t in listed if t["name"] == "Access request")
    assert access["provisioned"] and [f["name"] for f in access["fields"]] == ["system", "needed_by", "why", "form"]
    form = await client.get(f"/portal/new/{access['id']}")
    token = csrf_of(form)
    bad = [
        ({"field.system": "fax", "field.why": "x"}, "field.system"),
        ({"field.system": "vpn"}, "field.why"),
        ({"field.system": "vpn", "field.why": "x", "field.needed_by": "2030-02-31"}, "field.needed_by"),
    ]
    for answers, field in bad:
        refused = await client.post(f"/portal/new/{access['id']}", data={**answers, "csrf": token})
        assert refused.status_code == 422 and f'id="e-{field.removeprefix("field.")}"' in refused.text, field
    assert await svc.db.query(lambda s: s.scalar(select(Ticket.id))) is None
    done = await client.post(
        f"/portal/new/{access['id']}",
        data={"field.system": "vpn", "field.why": "New starter", "field.needed_by": "2030-01-15", "csrf": token},
        files={"field.form": ("form.pdf", b"%PDF-1", "application/pdf")},
    )
    assert done.status_code == 303
    conversation_id = int(done.headers["location"].split("/")[3].split("?")[0])
    conversation = await svc.db.query(lambda s: s.get(Conversation, conversation_id))
    assert conversation is not None and conversation.contact_id == ana and "vpn" in conversation.tags
    team = await svc.db.query(lambda s: s.scalar(select(Team.id).where(Team.name == "it")))
    assert conversation.team_id == team
    ticket = await svc.db.query(lambda s: s.scalar(select(Ticket).where(Ticket.conversation_id == conversation_id)))
    assert ticket is not None and ticket.priority == "P2" and ticket.kind == "request"
    payload = (await portal.client.get(f"/api/v1/tickets/{ticket.id}", headers=portal.auth(portal.admin_token))).json()
    assert payload["request_type"] == "Access request"
    assert payload["fields"] == {"system": "vpn", "needed_by": "2030-01-15", "why": "New starter", "form": "form.pdf"}
    assert payload["approval"] is None
    page = await client.get(done.headers["location"])
    assert "Needed by" in page.text and "2030-01-15" in page.text and "form.pdf" in page.text
    # "Something else": a plain request, no ticket.
    other = await client.get("/portal/new/other")
    plain = await client.post("/portal/new/other", data={"subject": "Question", "text": "How?", "csrf": csrf_of(other)})
    assert plain.status_code == 303
    assert (await client.get("/portal/new/999999")).status_code == 404
    await client.aclose()


async def test_approval_waits_for_the_named_approver(portal: Api) -> None:
    svc = portal.services
    _, ana = await mail(svc, "<a1@x>", "ana@example.com")
    _, approver = await add_agent(svc, "boss2@example.com")
    _, someone = await add_agent(svc, "someone@example.com")
    client = await client_for(portal, ana)
    laptop = next(
        t
        for t in (await portal.client.get("/api/v1/request-types", headers=portal.auth(someone))).json()["items"]
        if t["name"] == "New laptop"
    )
    form = await client.get(f"/portal/new/{laptop['id']}")
    done = await client.post(f"/portal/new/{laptop['id']}", data={"field.model": "X1", "csrf": csrf_of(form)})
    assert done.status_code == 303
    assert "Waiting for approval" in (await client.get(done.headers["location"])).text
    ticket = await svc.db.query(lambda s: s.scalars(select(Ticket)).one())
    assert ticket.status == "pending"
    # The customer writes from the portal while it waits: the wait is the approver's, so it stays pending.
    page = await client.get(done.headers["location"])
    replied = await client.post(f"/portal/requests/{ticket.conversation_id}/reply", data={"text": "Any news?", "csrf": csrf_of(page)})
    assert replied.status_code == 303
    waiting = await svc.db.query(
        lambda s: s.execute(select(Ticket.status, Conversation.status).join(Conversation, Conversation.id == Ticket.conversation_id)).one()
    )
    assert tuple(waiting) == ("pending", "pending")
    url = f"/api/v1/tickets/{ticket.id}/approval"
    assert (await portal.client.post(url, json={"decision": "approve"}, headers=portal.auth(someone))).status_code == 403
    assert (await portal.client.post(url, json={"decision": "maybe"}, headers=portal.auth(approver))).status_code == 422
    yes = await portal.client.post(url, json={"decision": "approve", "comment": "ok"}, headers=portal.auth(approver))
    assert yes.status_code == 200 and yes.json()["approval"] == "approved"
    assert (await portal.client.post(url, json={"decision": "reject"}, headers=portal.auth(approver))).status_code == 422
    payload = (await portal.client.get(f"/api/v1/tickets/{ticket.id}", headers=portal.auth(approver))).json()
    assert payload["status"] == "open" and payload["approval"]["state"] == "approved" and payload["approval"]["comment"] == "ok"
    audit = await svc.db.query(lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.approval")).one())
    assert audit.target == f"ticket:{ticket.id}"
    stored = await svc.db.query(lambda s: s.get(TicketRequest, ticket.id))
    assert stored is not None and stored.fields == {"model": "X1"}
    await client.aclose()


async def test_request_types_api_admin_only_and_provisioned_read_only(portal: Api) -> None:
    admin = portal.auth(portal.admin_token)
    _, agent = await add_agent(portal.services, "a@example.com")
    body = {"name": "Refund", "fields": [{"name": "order", "label": "Order", "kind": "text", "required": True}], "priority": "P3"}
    assert (await portal.client.post("/api/v1/request-types", json=body, headers=portal.auth(agent))).status_code == 403
    created = await portal.client.post("/api/v1/request-types", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["provisioned"] is False
    type_id = created.json()["id"]
    assert (await portal.client.post("/api/v1/request-types", json=body, headers=admin)).status_code == 409
    bad = {"name": "X", "fields": [{"name": "c", "label": "C", "kind": "choice"}]}
    assert (await portal.client.post("/api/v1/request-types", json=bad, headers=admin)).status_code == 422
    patched = await portal.client.patch(f"/api/v1/request-types/{type_id}", json={"description": "Money back"}, headers=admin)
    assert patched.status_code == 200 and patched.json()["description"] == "Money back" and patched.json()["fields"][0]["name"] == "order"
    bad_patch = await portal.client.patch(f"/api/v1/request-types/{type_id}", json={"priority": "P9"}, headers=admin)
    assert bad_patch.status_code == 422
    provisioned = next(t for t in (await portal.client.get("/api/v1/request-types", headers=admin)).json()["items"] if t["provisioned"])
    assert (
        await portal.client.patch(f"/api/v1/request-types/{provisioned['id']}", json={"description": "x"}, headers=admin)
    ).status_code == 403
    assert (await portal.client.delete(f"/api/v1/request-types/{provisioned['id']}", headers=admin)).status_code == 403
    assert (await portal.client.delete(f"/api/v1/request-types/{type_id}", headers=admin)).status_code == 204
    assert (await portal.client.get(f"/api/v1/request-types/{type_id}", headers=admin)).status_code == 404


def test_config_checks_the_portal_channel_and_request_types() -> None:
    from inbox.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_config(
            "sqlite+aiosqlite:///x.db", portal={"email_channel": "nope"}, request_types=[{"name": "A", "team": "ghosts"}, {"name": "A"}]
        )
    text = str(caught.value)
    assert "portal.email_channel" in text and "request_types[0].team" in text and "'A' is used twice" in text


async def agent_client(api: Api, email: str, role: str = "agent") -> tuple[httpx.AsyncClient, str]:
    from tests.fixtures.signin import form_csrf, sign_in

    await add_agent(api.services, email, role=role, password="correct horse battery")
    client = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver")
    assert (await sign_in(client, email, "correct horse battery")).status_code == 303
    return client, form_csrf((await client.get("/admin/request_types" if role == "admin" else "/")).text)


async def test_agent_ui_shows_answers_approves_and_admin_edits_request_types(portal: Api) -> None:
    svc = portal.services
    _, ana = await mail(svc, "<a1@x>", "ana@example.com")
    customer = await client_for(portal, ana)
    laptop = next(t for t in await svc.db.query(portal_queries.request_types_in) if t.spec.name == "New laptop")
    form = await customer.get(f"/portal/new/{laptop.id}")
    await customer.post(f"/portal/new/{laptop.id}", data={"field.model": "X1 Carbon", "csrf": csrf_of(form)})
    ticket = await svc.db.query(lambda s: s.scalars(select(Ticket)).one())
    approver, token = await agent_client(portal, "boss2@example.com")
    page = await approver.get(f"/tickets/{ticket.id}")
    assert "X1 Carbon" in page.text and "Model" in page.text and "Waiting for approval" in page.text
    conversation_page = await approver.get(f"/conversations/{ticket.conversation_id}")
    assert "X1 Carbon" in conversation_page.text and "Approve" in conversation_page.text
    decided = await approver.post(f"/tickets/{ticket.id}/approval", data={"decision": "reject", "comment": "Budget", "csrf": csrf_of(page)})
    assert decided.status_code == 303
    after = await approver.get(f"/tickets/{ticket.id}")
    assert "Rejected" in after.text and "Budget" in after.text
    assert "Not approved" in (await customer.get(f"/portal/requests/{ticket.conversation_id}")).text
    admin, admin_csrf = await agent_client(portal, "root@example.com", role="admin")
    listing = await admin.get("/admin/request_types")
    assert "From the config file" in listing.text and "Access request" in listing.text
    bad = await admin.post("/admin/request_types", data={"name": "Refund", "fields": "order | Order | choice", "csrf": admin_csrf})
    assert bad.status_code == 422 and "a choice needs choices" in bad.text
    saved = await admin.post(
        "/admin/request_types",
        data={"name": "Refund", "fields": "order | Order number | text | required", "priority": "P4", "csrf": admin_csrf},
    )
    assert saved.status_code == 303
    stored = (await portal.client.get("/api/v1/request-types", headers=portal.auth(portal.admin_token))).json()["items"]
    refund = next(t for t in stored if t["name"] == "Refund")
    assert refund["fields"] == [{"name": "order", "label": "Order number", "kind": "text", "required": True, "choices": []}]
    edit = await admin.get(f"/admin/request_types?edit={refund['id']}")
    assert "order | Order number | text | required" in edit.text
    for client in (customer, approver, admin):
        await client.aclose()


async def test_help_center_leads_to_the_portal(portal: Api) -> None:
    page = await portal.client.get("/help/es")
    assert 'href="/portal/new?lang=es"' in page.text and 'href="/portal?lang=es"' in page.text
    spanish = await portal.client.get("/portal?lang=es")
    assert "Vea sus solicitudes" in spanish.text and spanish.headers["content-security-policy"].startswith("default-src 'none'")
    assert (await portal.client.get("/portal/new?lang=es")).headers["location"] == "/portal?lang=es"
