"""Reports: the dashboard's figures of a date range (`GET /api/v1/reports`), the conversations
behind a figure as streamed CSV, and GDPR erasure through the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc
from typing import Any

from sqlalchemy import event, func, insert, select

from inbox.queries import reports
from inbox.runtime.services import Services
from inbox.store.models import AuditEntry, Contact, Conversation, CsatSurvey, Message, Team, TeamMember, Ticket, utcnow
from tests.fixtures.inbox import Api, add_agent, add_channel

NOW = utcnow().replace(microsecond=0)
TODAY = NOW.date()
DAY = dt.timedelta(days=1)


async def rows(svc: Services, table: Any, values: list[dict[str, Any]]) -> None:
    await svc.db.run(lambda conn: conn.execute(insert(table), values))


async def contact(svc: Services, name: str = "Ana", email: str | None = "ana@example.com") -> int:
    return int(await svc.db.run(lambda conn: conn.execute(insert(Contact).values(name=name, email=email, tags=[])).inserted_primary_key[0]))


def conversation(cid: int, channel: int, contact_id: int, created: dt.datetime, **kw: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "channel_id": channel,
        "contact_id": contact_id,
        "subject": f"About {cid}",
        "status": "resolved" if kw.get("resolved_at") else "open",
        "tags": ["vip"],
        "meta": {},
        "last_message_at": created,
        "created_at": created,
        "updated_at": created,
        **dict.fromkeys(("team_id", "assignee_id", "first_response_at", "resolved_at", "merged_into_id")),
        **kw,
    }


async def fixture_set(api: Api) -> dict[str, Any]:
    """Two channels, two teams, two agents; six conversations over three days, tickets with
    a met, a breached and a pending target, and two ratings."""
    svc = api.services
    mail = await add_channel(svc, "mail", "email")
    chat = await add_channel(svc, "chat", "widget")
    ana, ana_token = await add_agent(svc, "ana@desk.example")
    bo, _ = await add_agent(svc, "bo@desk.example")
    await rows(svc, Team, [{"id": 1, "name": "Billing"}, {"id": 2, "name": "Tech"}])
    await rows(svc, TeamMember, [{"team_id": 1, "agent_id": ana.id}])
    who = await contact(svc)
    d0 = NOW - 2 * DAY
    h = dt.timedelta(hours=1)
    convs = [
        conversation(1, mail.id, who, d0, team_id=1, assignee_id=ana.id, first_response_at=d0 + h, resolved_at=d0 + 10 * h),
        conversation(2, mail.id, who, d0 + h, team_id=1, assignee_id=ana.id, first_response_at=d0 + 4 * h),
        conversation(
            3, chat.id, who, d0 + DAY, team_id=2, assignee_id=bo.id, first_response_at=d0 + DAY + 2 * h, resolved_at=d0 + DAY + 3 * h
        ),
        conversation(4, chat.id, who, d0 + DAY, team_id=2, assignee_id=bo.id),
        conversation(5, mail.id, who, NOW - h),
        # Outside the range, and merged away: neither counts.
        conversation(6, mail.id, who, NOW - 40 * DAY, team_id=1),
        conversation(7, mail.id, who, NOW - h, team_id=1, merged_into_id=1, resolved_at=NOW),
    ]
    await rows(svc, Conversation, convs)

    def ticket(n: int, cid: int, **kw: Any) -> dict[str, Any]:
        return {
            "number": n,
            "conversation_id": cid,
            "kind": "request",
            "title": "t",
            "status": "open",
            "pauses": [],
            "sla_flags": [],
            "first_response_due": None,
            "resolution_due": None,
            "resolved_at": None,
            **kw,
        }

    await rows(
        svc,
        Ticket,
        [
            ticket(1, 1, first_response_due=d0 + 2 * h, resolution_due=d0 + DAY, resolved_at=d0 + 10 * h),  # met both
            ticket(2, 2, first_response_due=d0 + 2 * h),  # answered late: breached
            ticket(3, 4, first_response_due=d0 + DAY + h),  # never answered, due passed: breached
            ticket(4, 5, first_response_due=NOW + h),  # due ahead: pending, neither
        ],
    )
    await rows(
        svc,
        CsatSurvey,
        [
            {
                "conversation_id": 1,
                "channel_id": mail.id,
                "rating": 5,
                "rated_at": NOW,
                "expires_at": NOW,
                "team_id": 1,
                "agent_id": ana.id,
            },
            {"conversation_id": 3, "channel_id": chat.id, "rating": 2, "rated_at": NOW, "expires_at": NOW, "team_id": 2, "agent_id": bo.id},
        ],
    )
    return {"ana": ana, "ana_token": ana_token, "bo": bo, "contact": who}


async def test_report_figures_in_total_per_team_per_agent_and_per_day(api: Api) -> None:
    await fixture_set(api)
    r = await api.client.get("/api/v1/reports", params={"from": (TODAY - 6 * DAY).isoformat()}, headers=api.auth(api.admin_token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == ((TODAY - 6 * DAY).isoformat(), TODAY.isoformat())
    t = body["totals"]
    assert t["conversations"] == 5 and t["by_channel"] == {"chat": 2, "mail": 3}
    assert t["first_response_seconds"] == {"median": 2 * 3600, "p90": 3 * 3600, "count": 3}  # 1 h, 3 h, 2 h
    assert t["resolution_seconds"]["median"] == round((10 + 3) / 2 * 3600) and t["resolved"] == 2
    assert t["sla"] == {"met": 1, "breached": 2, "percent": 33.3}
    assert t["csat"] == {"count": 2, "satisfied": 1, "csat_percent": 50.0, "average": 3.5}
    teams = {g["team"]: g for g in body["teams"]}
    assert [g["team"] for g in body["teams"]] == ["Billing", "Tech", None]
    assert teams["Billing"]["conversations"] == 2 and teams["Billing"]["sla"]["percent"] == 50.0
    assert teams["Tech"]["by_channel"] == {"chat": 2} and teams["Tech"]["csat"]["average"] == 2.0
    agents = {g["agent"]: g for g in body["agents"]}
    assert agents["ana@desk.example"]["name"] == "Ana" and agents["ana@desk.example"]["first_response_seconds"]["median"] == round(2 * 3600)
    assert agents[None]["conversations"] == 1
    assert len(body["daily"]) == 7 and sum(d["conversations"] for d in body["daily"]) == 5
    assert sum(d["sla_breached"] for d in body["daily"]) == 2

    only = (await api.client.get("/api/v1/reports", params={"team": "Tech"}, headers=api.auth(api.admin_token))).json()
    assert only["totals"]["conversations"] == 2 and [g["team"] for g in only["teams"]] == ["Tech"]
    nobody = (await api.client.get("/api/v1/reports", params={"agent": "who@nowhere"}, headers=api.auth(api.admin_token))).json()
    assert nobody["totals"]["conversations"] == 0 and nobody["totals"]["first_response_seconds"]["median"] is None


async def test_an_agent_reads_the_figures_of_what_they_may_see(api: Api) -> None:
    people = await fixture_set(api)
    body = (await api.client.get("/api/v1/reports", headers=api.auth(people["ana_token"]))).json()
    # Ana is in Billing: Billing's and the unteamed conversation, not Tech's.
    assert body["totals"]["conversations"] == 3 and {g["team"] for g in body["teams"]} == {"Billing", None}


async def test_a_bad_reversed_or_too_long_range_is_refused(api: Api) -> None:
    auth = api.auth(api.admin_token)
    for params in (
        {"from": "2026-13-01"},
        {"from": "2026-02-02", "to": "2026-02-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"to": "9999-12-31"},
    ):
        r = await api.client.get("/api/v1/reports", params=params, headers=auth)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["code"] in ("from", "to", "range")
        r = await api.client.get("/api/v1/reports/conversations.csv", params=params, headers=auth)
        assert r.status_code == 422
    assert (await api.client.get("/api/v1/reports/conversations.csv", params={"figure": "nope"}, headers=auth)).status_code == 422
    assert (await api.client.get("/api/v1/reports")).status_code == 401


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_the_csv_holds_the_conversations_behind_each_figure(api: Api) -> None:
    await fixture_set(api)
    auth = api.auth(api.admin_token)
    report = (await api.client.get("/api/v1/reports", headers=auth)).json()["totals"]
    expected = {"all": report["conversations"], "resolved": report["resolved"], "breached": report["sla"]["breached"]}
    expected["first_response"] = report["first_response_seconds"]["count"]
    for figure, count in expected.items():
        r = await api.client.get("/api/v1/reports/conversations.csv", params={"figure": figure}, headers=auth)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"].startswith(f'attachment; filename="conversations-{figure}-')
        assert len(read_csv(r.text)) == count, figure
    breached = read_csv((await api.client.get("/api/v1/reports/conversations.csv", params={"figure": "breached"}, headers=auth)).text)
    assert [row["id"] for row in breached] == ["2", "4"]
    every = read_csv((await api.client.get("/api/v1/reports/conversations.csv", headers=auth)).text)
    assert list(every[0]) == list(reports.CSV_COLUMNS)
    first = every[0]
    assert (first["id"], first["subject"], first["channel"], first["team"], first["assignee"], first["contact"]) == (
        "1",
        "About 1",
        "mail",
        "Billing",
        "ana@desk.example",
        "ana@example.com",
    )
    assert (first["first_response_seconds"], first["sla"], first["tags"], first["status"]) == ("3600", "met", "vip", "resolved")
    assert [row["sla"] for row in every] == ["met", "breached", "", "breached", "pending"]
    tech = read_csv(
        (await api.client.get("/api/v1/reports/conversations.csv", params={"team": "Tech", "channel": "chat"}, headers=auth)).text
    )
    assert [row["id"] for row in tech] == ["3", "4"]


async def test_the_csv_is_read_in_chunks_and_memory_does_not_grow_with_the_rows(api: Api) -> None:
    svc = api.services
    mail = await add_channel(svc, "mail", "email")
    who = await contact(svc)
    start = NOW - 20 * DAY
    for base in range(0, 20_000, 5_000):
        batch = [conversation(base + i + 1, mail.id, who, start + dt.timedelta(seconds=50 * (base + i))) for i in range(5_000)]
        await rows(svc, Conversation, batch)
    filters = reports.ReportFilter(TODAY - 29 * DAY, TODAY)

    def peak(limit: int) -> int:
        def consume(session: Any) -> int:
            tracemalloc.start()
            try:
                n = 0
                for row in reports.conversations(session, None, filters, "all", NOW, chunk=500):
                    reports.csv_cells(row)
                    n += 1
                    if n == limit:
                        break
                assert n == limit
                return tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()

        return consume  # type: ignore[return-value]

    small = await svc.db.query(peak(5_000))  # type: ignore[arg-type]
    large = await svc.db.query(peak(20_000))  # type: ignore[arg-type]
    assert large < small * 1.5, (small, large)  # four times the rows, not four times the memory

    # Through HTTP, every row once, in order, across chunk boundaries.
    r = await api.client.get("/api/v1/reports/conversations.csv", headers=api.auth(api.admin_token))
    ids = [int(row["id"]) for row in read_csv(r.text)]
    assert ids == list(range(1, 20_001))


async def test_erase_through_the_api_is_admins_only_audited_and_answers_the_counts(api: Api) -> None:
    svc = api.services
    mail = await add_channel(svc, "mail", "email")
    _, agent_token = await add_agent(svc, "agent@desk.example")
    who = await contact(svc)
    await rows(svc, Conversation, [conversation(i, mail.id, who, NOW - dt.timedelta(minutes=i)) for i in range(1, 301)])
    await rows(
        svc,
        Message,
        [
            {
                "conversation_id": i,
                "channel_id": mail.id,
                "external_id": f"m{i}-{k}",
                "direction": "in",
                "author_type": "contact",
                "contact_id": who,
            }
            | {"text": "my secret", "meta": {}}
            for i in range(1, 301)
            for k in range(3)
        ],
    )
    assert (await api.client.post(f"/api/v1/contacts/{who}/erase", headers=api.auth(agent_token))).status_code == 403
    assert (await api.client.post("/api/v1/contacts/999999/erase", headers=api.auth(api.admin_token))).status_code == 404

    statements: list[str] = []
    engine = svc.db._sync_writer or svc.db.write_engine.sync_engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        r = await api.client.post(f"/api/v1/contacts/{who}/erase", headers=api.auth(api.admin_token))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert r.status_code == 200, r.text
    assert r.json() == {"conversations": 300, "messages": 900, "identities": 0, "blobs": 0}
    assert len(statements) < 25, statements  # set-based: not a statement per conversation or message

    async with svc.db.read() as session:
        texts = set((await session.scalars(select(Message.text))).all())
        assert texts == {"[erased]"}
        assert await session.scalar(select(func.count()).where(Conversation.subject.is_not(None))) == 0
        assert (await session.get(Contact, who)).name == "Erased contact"  # type: ignore[union-attr]
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "contact.erase"))).all()
        assert [a.target for a in audit] == [f"contact:{who}"]


def test_the_range_defaults_to_the_last_30_days() -> None:
    assert reports.parse_range(None, None, TODAY) == (TODAY - 29 * DAY, TODAY)
    assert reports.parse_range("2026-01-01", "2026-01-01", TODAY) == (dt.date(2026, 1, 1), dt.date(2026, 1, 1))
