"""Satisfaction surveys: one per conversation, asked through the outbox on the customer's
channel, rated once by a signed token that expires; the ratings and their score."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, update

from channels.base import OutboundMessage
from channels.email_compose import EmailTemplates
from inbox.actions.conversations import ConversationChanges, update_conversation
from inbox.actions.runner import CLI
from inbox.pipeline.ingest import ChannelRef
from inbox.pipeline.outbox import OutboxWorker
from inbox.runtime.services import Services
from inbox.store.models import AuditEntry, Conversation, CsatSurvey, Event, OutboxItem, Team
from tests.fixtures.inbox import Api, add_agent, inbound
from tests.fixtures.recording_channel import RecordingChannel
from tests.fixtures.signin import sign_in

LINK = re.compile(r"(http://127\.0\.0\.1:8000/csat/[^?\s]+)\?rating=(\d)")


async def channel(svc: Services, name: str, type_: str, csat: bool = True, delay: int = 0) -> ChannelRef:
    """A channel row; its survey goes out `delay` seconds after the resolve (0 here: at once)."""
    from inbox.store.models import Channel

    async with svc.db.transaction() as session:
        row = Channel(name=name, type=type_, settings={"csat": True, "csat_delay": delay} if csat else {})
        session.add(row)
        await session.flush()
        return ChannelRef(row.id, name, type_)


async def conversation(svc: Services, ref: ChannelRef, external_id: str, sender: str = "ana@example.com", **kw: object) -> int:
    [r] = await svc.ingestor.ingest(ref, [inbound(external_id, sender, "Help", subject=f"About {external_id}", **kw)])
    assert r.conversation_id is not None
    return r.conversation_id


async def resolve(svc: Services, conversation_id: int, status: str = "resolved") -> None:
    await update_conversation(svc.ctx, CLI, conversation_id, ConversationChanges(status=status))


async def sent(svc: Services, channel_name: str = "mail") -> list[OutboundMessage]:
    recorder = RecordingChannel(channel_name)
    worker = OutboxWorker(svc.db, svc.bus, lambda _: recorder, svc.config.outbox, portal_url=svc.portal_url, csat_url=svc.csat_url)
    while await worker.drain_once():
        for task in list(worker._inflight):
            await task
    return recorder.sent


@pytest.fixture
async def mail(api: Api) -> AsyncIterator[ChannelRef]:
    yield await channel(api.services, "mail", "email")


async def test_one_survey_per_conversation_through_the_outbox_and_a_channel_without_csat_asks_nothing(api: Api, mail: ChannelRef) -> None:
    svc = api.services
    quiet = await channel(svc, "quiet", "email", csat=False)
    cid = await conversation(svc, mail, "<c1@x>", language="es")
    other = await conversation(svc, quiet, "<q1@x>", "bea@example.com")
    await resolve(svc, cid)
    await resolve(svc, cid, "open")
    await resolve(svc, cid)
    await resolve(svc, other)
    surveys = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).all())
    assert [s.conversation_id for s in surveys] == [cid]
    assert surveys[0].expires_at - surveys[0].requested_at == dt.timedelta(days=7)
    items = await svc.db.query(lambda s: s.scalars(select(OutboxItem).where(OutboxItem.survey_id.is_not(None))).all())
    assert [(i.survey_id, i.channel_id) for i in items] == [(surveys[0].id, mail.id)]
    types = await svc.db.query(lambda s: s.scalars(select(Event.type).where(Event.type.like("csat.%"))).all())
    assert types == []  # `csat.requested` is written when the question goes out
    # A ticket resolved, and a bulk change, ask too (the same hook); each conversation once.
    from inbox.actions.bulk import BulkChange, bulk_change
    from inbox.actions.tickets import TicketChanges, open_ticket, update_ticket

    ticketed = await conversation(svc, mail, "<t1@x>", "cai@example.com")
    ticket_id = await open_ticket(svc.ctx, CLI, ticketed)
    await update_ticket(svc.ctx, CLI, ticket_id, TicketChanges(status="resolved"))
    bulked = await conversation(svc, mail, "<b1@x>", "dan@example.com")
    await bulk_change(svc.ctx, CLI, BulkChange(ids=(bulked, cid), changes=ConversationChanges(status="resolved")))
    asked = await svc.db.query(lambda s: s.scalars(select(CsatSurvey.conversation_id).order_by(CsatSurvey.id)).all())
    assert asked == [cid, ticketed, bulked]
    outbounds = [o for o in await sent(svc) if o.csat is not None]  # the others: the ticket's notices
    assert sorted(o.recipient.address for o in outbounds) == ["ana@example.com", "cai@example.com", "dan@example.com"]
    outbound = next(o for o in outbounds if o.recipient.address == "ana@example.com")
    assert outbound.csat is not None
    links = LINK.findall(outbound.text)
    assert [n for _, n in links] == ["1", "2", "3", "4", "5"] and {u for u, _ in links} == {outbound.csat.url}
    assert "¿Qué tal le atendimos?" in outbound.text and outbound.references == ("<c1@x>",)
    text, html = EmailTemplates().render(outbound)
    assert f"{outbound.csat.url}?rating=5" in text and outbound.portal_url and outbound.portal_url in text


async def test_the_rating_page_records_on_the_post_once_and_refuses_expired_or_tampered_tokens(api: Api, mail: ChannelRef) -> None:
    svc = api.services
    cid = await conversation(svc, mail, "<c2@x>")
    await resolve(svc, cid)
    [outbound] = await sent(svc)
    assert outbound.csat is not None
    path = outbound.csat.url.removeprefix(svc.config.server.public_url)
    # A GET (a mail scanner fetching every link) records nothing: the rating is preselected.
    for n in range(1, 6):
        page = await api.client.get(f"{path}?rating={n}")
        assert page.status_code == 200 and f'value="{n}" checked' in page.text
    assert await svc.db.query(lambda s: s.scalar(select(CsatSurvey.rated_at))) is None
    es = await api.client.get(f"{path}?rating=4&lang=es")
    assert "¿Qué tal le atendimos?" in es.text and "Enviar valoración" in es.text
    assert (await api.client.post(path, data={"rating": "9"})).status_code == 422
    done = await api.client.post(path, data={"rating": "4", "comment": "Quick and kind"})
    assert done.status_code == 200 and "4 of 5" in done.text
    again = await api.client.post(path, data={"rating": "1"})
    assert again.status_code == 409
    assert "already answered" in (await api.client.get(f"{path}?rating=1")).text
    survey = await svc.db.query(lambda s: s.scalars(select(CsatSurvey)).one())
    assert (survey.rating, survey.comment, survey.rated_via) == (4, "Quick and kind", "web")
    audit = await svc.db.query(lambda s: s.scalars(select(AuditEntry.action).where(AuditEntry.action == "csat.rate")).all())
    assert audit == ["csat.rate"]
    rated = await svc.db.query(lambda s: s.scalars(select(Event.payload).where(Event.type == "csat.rated")).all())
    assert [(p["conversation_id"], p["rating"]) for p in rated] == [(cid, 4)]
    # Tampered: another survey id under the same MAC, a changed MAC, an expiry moved; expired.
    token = outbound.csat.token
    sid, exp, mac = token.split(".")
    for bad in (
        f"{int(sid) + 1}.{exp}.{mac}",
        f"{sid}.{exp}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        f"{sid}.{int(exp) + 1}.{mac}",
        "x" * 300,
    ):
        assert (await api.client.get(f"/csat/{bad}")).status_code == 404
        assert (await api.client.post(f"/csat/{bad}", data={"rating": "5"})).status_code == 404
    cid2 = await conversation(svc, mail, "<c3@x>", "bea@example.com")
    await resolve(svc, cid2)
    second = await svc.db.query(lambda s: s.scalars(select(CsatSurvey).where(CsatSurvey.conversation_id == cid2)).one())
    old = svc.csat.token(second.id, int(time.time()) - 1)
    assert (await api.client.post(f"/csat/{old}", data={"rating": "5"})).status_code == 404
    # A valid token of a survey whose row expired (clock moved) is refused too.
    await svc.db.run(
        lambda c: c.execute(update(CsatSurvey).where(CsatSurvey.id == second.id).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)))
    )
    live = svc.csat.token(second.id, int(time.time()) + 3600)
    assert (await api.client.post(f"/csat/{live}", data={"rating": "5"})).status_code == 410
    assert await svc.db.query(lambda s: s.scalar(select(func.count()).select_from(CsatSurvey).where(CsatSurvey.rated_at.is_not(None)))) == 1


async def test_csat_api_filters_and_score_and_the_agent_pages_show_ratings(api: Api, mail: ChannelRef) -> None:
    svc = api.services
    async with svc.db.transaction() as session:
        session.add_all([Team(name="billing"), Team(name="tech")])
    lead, lead_token = await add_agent(svc, "lead@example.com")
    ratings = [("billing", "lead@example.com", 5), ("billing", "lead@example.com", 4), ("billing", "", 2), ("tech", "", 1), ("tech", "", 5)]
    for n, (team, agent, _) in enumerate(ratings):
        cid = await conversation(svc, mail, f"<r{n}@x>", f"c{n}@example.com")
        await update_conversation(svc.ctx, CLI, cid, ConversationChanges(team=team, assignee=agent or None, status="resolved"))
    surveys = await svc.db.query(lambda s: s.scalars(select(CsatSurvey).order_by(CsatSurvey.id)).all())
    assert [s.team_id is not None for s in surveys] == [True] * 5
    from inbox.actions.csat import rate

    for survey, (_, _, stars) in zip(surveys, ratings, strict=True):
        await rate(svc.ctx, survey.id, stars, "fine" if stars > 3 else None, via="web")
    admin = api.auth(api.admin_token)
    everything = (await api.client.get("/api/v1/csat", headers=admin)).json()
    assert everything["score"] == {"count": 5, "satisfied": 3, "csat_percent": 60.0, "average": 3.4}
    assert [i["rating"] for i in everything["items"]] == [5, 1, 2, 4, 5]  # newest first
    billing = (await api.client.get("/api/v1/csat?team=billing", headers=admin)).json()
    assert billing["score"]["count"] == 3 and billing["score"]["csat_percent"] == 66.7
    mine = (await api.client.get("/api/v1/csat", params={"agent": "lead@example.com"}, headers=admin)).json()
    assert mine["score"] == {"count": 2, "satisfied": 2, "csat_percent": 100.0, "average": 4.5}
    assert {i["agent"] for i in mine["items"]} == {"lead@example.com"} and {i["team"] for i in mine["items"]} == {"billing"}
    nobody = (await api.client.get("/api/v1/csat?team=nope", headers=admin)).json()
    assert nobody["items"] == [] and nobody["score"]["csat_percent"] is None
    future = (await api.client.get("/api/v1/csat", params={"from": "2999-01-01"}, headers=admin)).json()
    assert future["score"]["count"] == 0
    past = (await api.client.get("/api/v1/csat", params={"to": "2000-01-01T00:00:00Z"}, headers=admin)).json()
    assert past["score"]["count"] == 0
    # Keyset pages: two at a time, no row twice, the score of everything on each page.
    seen: list[int] = []
    cursor = None
    while True:
        page = (await api.client.get("/api/v1/csat", params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=admin)).json()
        seen += [i["id"] for i in page["items"]]
        assert page["score"]["count"] == 5
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(s.id for s in surveys) and len(seen) == 5
    for bad in ({"from": "yesterday"}, {"limit": "0"}, {"cursor": "garbage!"}, {"team": "x" * 400}):
        assert (await api.client.get("/api/v1/csat", params=bad, headers=admin)).status_code in (400, 422)
    assert (await api.client.get("/api/v1/csat")).status_code == 401
    # An agent sees the ratings of the conversations they see (unteamed, their teams', their own).
    seen_by_lead = (await api.client.get("/api/v1/csat", headers=api.auth(lead_token))).json()
    assert seen_by_lead["score"]["count"] == 2
    # The rating on the conversation in the API; a conversation never asked has "csat": null.
    one = (await api.client.get(f"/api/v1/conversations/{surveys[0].conversation_id}", headers=admin)).json()["csat"]
    assert {k: one[k] for k in ("state", "rating", "comment", "channel", "via", "team", "agent")} == {
        "state": "rated",
        "rating": 5,
        "comment": "fine",
        "channel": "mail",
        "via": "web",
        "team": "billing",
        "agent": "lead@example.com",
    }
    assert one["rated_at"].startswith(str(dt.date.today().year))
    never = await conversation(svc, mail, "<never@x>", "nobody@example.com")
    assert (await api.client.get(f"/api/v1/conversations/{never}", headers=admin)).json()["csat"] is None
    # The agent UI: the conversation page shows the rating and comment, the dashboard the score.
    await add_agent(svc, "admin2@example.com", role="admin", password="correct horse battery")
    for lang in ("en", "es"):
        client = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver", headers={"accept-language": lang})
        assert (await sign_in(client, "admin2@example.com", "correct horse battery")).status_code == 303
        page = await client.get(f"/conversations/{surveys[0].conversation_id}")
        assert page.status_code == 200 and ("5 of 5" if lang == "en" else "5 de 5") in page.text and "fine" in page.text
        board = await client.get("/dashboard")
        assert board.status_code == 200
        assert ("Satisfaction by team" if lang == "en" else "Satisfacción por equipo") in board.text
        assert "60.0 %" in board.text and "66.7 %" in board.text and "Lead" in board.text
        await client.aclose()


async def test_a_config_file_channel_carries_its_csat_setting_into_the_store(services: Services) -> None:
    from channels.base import ChannelConfig
    from inbox.store.models import Channel

    def settings() -> object:
        return services.db.query(lambda s: s.scalar(select(Channel.settings).where(Channel.name == "drop")))

    await services.channels.provision([ChannelConfig(name="drop", type="spool", csat=True)])
    assert await settings() == {"csat": True, "csat_delay": 120}
    await services.channels.provision([ChannelConfig(name="drop", type="spool", csat=True, csat_delay=3600)])
    assert await settings() == {"csat": True, "csat_delay": 3600}
    await services.channels.provision([ChannelConfig(name="drop", type="spool")])
    assert await settings() == {"csat": False, "csat_delay": 120}


async def due_now(svc: Services) -> None:
    """The survey's delay has passed (the clock moved on)."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await svc.db.run(lambda c: c.execute(update(OutboxItem).where(OutboxItem.survey_id.is_not(None)).values(next_attempt_at=past)))


async def survey_state(svc: Services, cid: int) -> tuple[int | None, str | None]:
    def read(s: object) -> tuple[int | None, str | None]:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        row = s.execute(
            select(CsatSurvey.id, OutboxItem.status)
            .outerjoin(OutboxItem, OutboxItem.survey_id == CsatSurvey.id)
            .where(CsatSurvey.conversation_id == cid)
        ).first()
        return (row[0], row[1]) if row is not None else (None, None)

    return await svc.db.query(read)


async def test_a_resolve_undone_or_reopened_before_the_survey_goes_out_asks_nothing(api: Api) -> None:
    """The survey waits `csat_delay` after the resolve; the inbox's Undo, a status change or
    the customer writing again withdraws it meanwhile, and the next resolve asks afresh; one
    that has gone out stays. The worker, when the survey comes due, withdraws it too if the
    conversation is not resolved then (a reopen it was not told of)."""
    from inbox.actions.conversations import undo_resolve

    svc = api.services
    slow = await channel(svc, "slow", "email", delay=120)
    cid = await conversation(svc, slow, "<u1@x>")
    await resolve(svc, cid)
    first, status = await survey_state(svc, cid)
    assert first is not None and status == "pending"
    item = await svc.db.query(lambda s: s.scalars(select(OutboxItem).where(OutboxItem.survey_id == first)).one())
    assert dt.timedelta(seconds=115) < item.next_attempt_at - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=120)
    assert await sent(svc, "slow") == []  # not due yet
    admin = api.auth(api.admin_token)
    queued = (await api.client.get(f"/api/v1/conversations/{cid}", headers=admin)).json()["csat"]
    assert queued["state"] == "queued" and queued["asks_at"] and queued["rating"] is None and queued["channel"] == "slow"
    await add_agent(svc, "desk@example.com", role="admin", password="correct horse battery")
    for lang, words in (("en", "Survey queued; it goes out"), ("es", "Encuesta en espera; sale el")):
        client = httpx.AsyncClient(transport=api.client._transport, base_url="http://testserver", headers={"accept-language": lang})
        assert (await sign_in(client, "desk@example.com", "correct horse battery")).status_code == 303
        assert words in (await client.get(f"/conversations/{cid}")).text
        await client.aclose()
    # The 10-second Undo: the survey, not yet out, is withdrawn (row and outbox item).
    await undo_resolve(svc.ctx, CLI, cid, "open")
    assert await survey_state(svc, cid) == (None, None)
    assert (await api.client.get(f"/api/v1/conversations/{cid}", headers=admin)).json()["csat"] is None
    assert (
        await svc.db.query(lambda s: s.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.survey_id.is_not(None)))) == 0
    )
    # Resolved again: asked afresh, and once the delay has passed it goes out.
    await resolve(svc, cid)
    again, status = await survey_state(svc, cid)
    assert again is not None and status == "pending"
    await due_now(svc)
    [question] = await sent(svc, "slow")
    assert question.csat is not None and question.recipient.address == "ana@example.com"
    requested = await svc.db.query(lambda s: s.scalars(select(Event.payload).where(Event.type == "csat.requested")).all())
    assert requested == [{"conversation_id": cid, "survey_id": again, "channel": "slow"}]
    # Sent: an Undo now leaves it (the customer has the question; their answer still counts).
    await resolve(svc, cid, "open")
    await resolve(svc, cid)
    await undo_resolve(svc.ctx, CLI, cid, "open")
    assert await survey_state(svc, cid) == (again, "sent")
    asked = (await api.client.get(f"/api/v1/conversations/{cid}", headers=admin)).json()["csat"]
    assert asked["state"] == "asked" and asked["sent_at"] and asked["asks_at"] is None

    # The customer writes again before the survey goes out: withdrawn by the reopen.
    other = await conversation(svc, slow, "<u2@x>", "bea@example.com")
    await resolve(svc, other)
    assert (await survey_state(svc, other))[1] == "pending"
    await svc.ingestor.ingest(
        slow, [inbound("<u2b@x>", "bea@example.com", "One more thing", references=("<u2@x>",), subject="Re: About <u2@x>")]
    )
    assert await svc.db.query(lambda s: s.scalar(select(Conversation.status).where(Conversation.id == other))) == "open"
    assert await survey_state(svc, other) == (None, None)

    # Its ticket reopened before the survey goes out: withdrawn too.
    from inbox.actions.tickets import TicketChanges, open_ticket, update_ticket

    ticketed = await conversation(svc, slow, "<u4@x>", "dan@example.com")
    ticket_id = await open_ticket(svc.ctx, CLI, ticketed)
    await update_ticket(svc.ctx, CLI, ticket_id, TicketChanges(status="resolved"))
    assert (await survey_state(svc, ticketed))[1] == "pending"
    await update_ticket(svc.ctx, CLI, ticket_id, TicketChanges(status="open"))
    assert await survey_state(svc, ticketed) == (None, None)

    # Reopened by a way that did not withdraw it: the worker, at its time, withdraws it.
    third = await conversation(svc, slow, "<u3@x>", "cai@example.com")
    await resolve(svc, third)
    await svc.db.run(lambda c: c.execute(update(Conversation).where(Conversation.id == third).values(status="open", resolved_at=None)))
    await due_now(svc)
    assert [o for o in await sent(svc, "slow") if o.recipient.address == "cai@example.com"] == []
    assert await survey_state(svc, third) == (None, None)
