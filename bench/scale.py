"""A million messages: seed a realistic desk through the real ingest pipeline, then time the
HTTP API of a running daemon on it with 10 concurrent agents.

    .venv/bin/python bench/scale.py --messages 1000000 [--database sqlite|postgresql|both]
        [--json FILE] [--keep DIR] [--reuse DIR] [--seed 7] [--only search,inbox,...]

Seeding (docs/performance.md, "A million messages"):
- every message goes through `Ingestor.ingest` (the pipeline the channels use: dedup,
  contacts, threading, attachments, routing, events), in batches of `--batch`;
- ingest stamps rows with the time it runs, so after each batch one executemany by primary
  key back-dates the batch's messages (and turns the agents' turns into outbound replies:
  a reply through `send_reply` and the outbox would take hours at this volume);
- then set-based SQL: conversations get their times, status (100,000 of 150,000 open at
  full size), team, assignee, priority and tags; tickets and incidents are inserted with
  the ticket counter moved past them; audit entries for the agents' work. Teams, the 30
  agents, the saved view and the tokens are made by the real actions.

Timing: `frontdesk serve` on the seeded database, 10 agents (non-admin, in teams, each
with a token) run each query class concurrently; p50/p95/p99 per class, the database
size, the daemon's peak RSS under load, the seeding rate. `--json FILE` writes the
figures per database (the keys scripts compare), `--keep DIR` leaves the SQLite desk,
its config and `desk.json` in DIR, `--reuse DIR` times a kept desk again without seeding
(migrating it first, so new indexes apply), `--only` times some parts (of `PARTS`) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import hashlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    # Run as a script: the project root instead of bench/ (whose email.py would shadow the stdlib package).
    sys.path[0] = str(ROOT)

JSON_KEYS = (
    "messages",
    "seed_msg_per_s",
    "search_p95_ms",
    "inbox_p95_ms",
    "conversation_p95_ms",
    "contact_p95_ms",
    "dashboard_365d_ms",
    "export_rss_growth_mb",
    "rss_mb",
    "reply_cpu_ms",
    "bare_insert_cpu_ms",
)
TARGETS = {"search": 300.0, "inbox": 100.0, "conversation": 150.0, "contact": 150.0, "dashboard": 1000.0}
AGENTS = 30
CONCURRENCY = 10
TEAMS = ("Billing", "Shipping", "Technical", "Soporte", "VIP")
YEARS = 3
END = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
START = END - dt.timedelta(days=365 * YEARS)

# -- pure parts (tests/bench/test_scale.py) ---------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of `values`; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {"p50": percentile(samples, 50), "p95": percentile(samples, 95), "p99": percentile(samples, 99), "n": len(samples)}


# Words the searches look for: the rare one is planted in a handful of messages, the phrase
# and the prefix in a few percent, the accented word in Spanish ones (searched typed without accents).
RARE_WORD = "quokka"
COMMON_WORD = "order"
PHRASE = "tracking number"
PREFIX = "refun"
ACCENTED = "facturación"
UNACCENTED = "facturacion"

EN_OPEN = ("Hello", "Hi there", "Good morning", "Hey team", "Dear support", "Hi", "Good afternoon")
EN_SUBJECTS = ("my order", "the invoice", "my account", "the delivery", "a refund", "the app", "my subscription", "the password reset")
EN_VERBS = ("has not arrived", "is wrong", "was charged twice", "keeps crashing", "cannot be found", "looks damaged", "is late again")
EN_ASKS = (
    "Could you check what happened?",
    "Can you help me with this?",
    "Please let me know what to do.",
    "I would like a refund.",
    "When will it be fixed?",
    "Is there any update?",
    "Thanks in advance for your help.",
)
EN_DETAILS = (
    "I ordered it {days} days ago and paid with my card.",
    "The website says it was shipped but nothing came.",
    "I already tried logging out and in again.",
    "My neighbour got the same problem last week.",
    "The tracking number you sent does not work.",
    "I was refunded only part of the amount.",
    "This is the third time I write about it.",
    "I attached a screenshot of the error.",
)
ES_OPEN = ("Hola", "Buenos días", "Buenas tardes", "Estimado equipo", "Qué tal", "Hola de nuevo")
ES_SUBJECTS = ("mi pedido", "la facturación", "mi cuenta", "el envío", "el reembolso", "la aplicación", "mi suscripción", "la contraseña")
ES_VERBS = ("no ha llegado", "está mal", "me cobraron dos veces", "no funciona", "llegó dañado", "sigue sin resolverse", "tardó demasiado")
ES_ASKS = (
    "¿Podrían revisarlo, por favor?",
    "¿Me pueden ayudar con esto?",
    "Quisiera una devolución.",
    "¿Cuándo estará solucionado?",
    "¿Hay alguna novedad?",
    "Gracias de antemano por su atención.",
    "Necesito una respuesta rápida.",
)
ES_DETAILS = (
    "Hice el pedido hace {days} días y pagué con tarjeta.",
    "La página dice que se envió pero no recibí nada.",
    "Ya intenté cerrar sesión y volver a entrar.",
    "Revisé la facturación y el importe no coincide.",
    "El número de seguimiento no aparece en la web.",
    "Es la tercera vez que escribo por este problema.",
    "Adjunto una captura de pantalla del error.",
    "Mi dirección está en Málaga, en la calle Ñandú.",
)
EN_REPLIES = (
    "Thanks for reaching out, I am looking into your order now.",
    "Sorry for the trouble: I have asked the warehouse to check the delivery.",
    "I have issued the refund; it should reach your card within five days.",
    "Could you send me the tracking number so I can follow it up?",
    "The fix is deployed, please try again and tell me if it works.",
)
ES_REPLIES = (
    "Gracias por escribirnos, ya estoy revisando su pedido.",
    "Disculpe las molestias: pedí al almacén que revise el envío.",
    "Ya tramité el reembolso; llegará a su tarjeta en cinco días.",
    "¿Me envía el número de seguimiento para revisarlo?",
    "Corregimos el error de facturación, ¿puede comprobarlo?",
)
FIRST_NAMES = ("Ana", "José", "María", "Lucía", "John", "Emma", "Olivia", "Noah", "Andrés", "Sofía", "Liam", "Chloé", "Iñaki", "Zoë")
LAST_NAMES = ("García", "Smith", "Müller", "Núñez", "Brown", "López", "Martínez", "O'Neil", "Peña", "Jones", "Fernández", "Wilson")


class TextMaker:
    """Varied English and Spanish messages from the word lists above, deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def customer(self, spanish: bool) -> tuple[str, str]:
        """(subject, text) of a customer's message."""
        r = self.rng
        if spanish:
            topic = r.choice(ES_SUBJECTS)
            parts = [f"{r.choice(ES_OPEN)},", f"{topic} {r.choice(ES_VERBS)}.", r.choice(ES_DETAILS).format(days=r.randint(2, 30))]
            if r.random() < 0.35:
                parts.append(f"Es sobre la {ACCENTED} de {r.choice(('octubre', 'marzo', 'junio', 'diciembre'))}.")
            parts.append(r.choice(ES_ASKS))
            parts.append(f"Saludos, {r.choice(FIRST_NAMES)}")
            subject = topic.capitalize()
        else:
            topic = r.choice(EN_SUBJECTS)
            parts = [f"{r.choice(EN_OPEN)},", f"{topic} {r.choice(EN_VERBS)}.", r.choice(EN_DETAILS).format(days=r.randint(2, 30))]
            if r.random() < 0.45:
                parts.append(f"It is about {COMMON_WORD} #{r.randint(10000, 99999)}.")
            if r.random() < 0.04:
                parts.append(f"I still have no {PHRASE} for it.")
            if r.random() < 0.05:
                parts.append(f"Is it {r.choice(('refundable', 'refunded', 'a refund'))} now?")
            parts.append(r.choice(EN_ASKS))
            parts.append(f"Best, {r.choice(FIRST_NAMES)}")
            subject = topic.capitalize()
        return subject, " ".join(parts)

    def reply(self, spanish: bool) -> str:
        return self.rng.choice(ES_REPLIES if spanish else EN_REPLIES)


@dataclass
class Plan:
    """The desk's shape: per conversation its contact, language and message times."""

    messages: int
    conversations: int
    contacts: int
    conv_contact: list[int] = field(default_factory=list)
    conv_spanish: list[bool] = field(default_factory=list)
    conv_sizes: list[int] = field(default_factory=list)
    conv_start: list[float] = field(default_factory=list)  # seconds after START
    big_conversations: list[int] = field(default_factory=list)  # 2,000 messages each (at full size)
    busy_contacts: list[int] = field(default_factory=list)  # 300 conversations each (at full size)
    rare_messages: set[tuple[int, int]] = field(default_factory=set)  # (conversation, position)


def make_plan(messages: int, seed: int) -> Plan:
    """1,000,000 messages in 150,000 conversations from 40,000 contacts, scaled down evenly."""
    rng = random.Random(seed)
    scale = messages / 1_000_000
    n_conv = max(20, round(150_000 * scale))
    n_contacts = max(10, round(40_000 * scale))
    plan = Plan(messages, n_conv, n_contacts)
    span = (END - START).total_seconds()
    big_size = max(20, round(2000 * min(1.0, scale * 10)))
    plan.big_conversations = [0, 1, 2]
    busy_n = max(5, round(300 * min(1.0, scale * 10)))
    plan.busy_contacts = [0, 1, 2]
    sizes = [0] * n_conv
    for c in plan.big_conversations:
        sizes[c] = big_size
    rest = messages - sum(sizes)
    others = [c for c in range(n_conv) if sizes[c] == 0]
    for c in others:
        sizes[c] = 1
    rest -= len(others)
    # The remaining messages fall on conversations with a long tail: most are short, some long.
    weights = [rng.paretovariate(1.6) for _ in others]
    cumulative: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)
    for _ in range(max(0, rest)):
        pick = bisect.bisect_left(cumulative, rng.random() * total)
        c = others[min(pick, len(others) - 1)]
        if sizes[c] < 400:
            sizes[c] += 1
        else:
            sizes[others[rng.randrange(len(others))]] += 1
    plan.conv_sizes = sizes
    contacts = []
    busy_slots = {b: busy_n for b in plan.busy_contacts}
    for c in range(n_conv):
        owner = next((b for b, left in busy_slots.items() if left > 0 and c >= len(plan.big_conversations)), None)
        if owner is not None and rng.random() < 0.5:
            busy_slots[owner] -= 1
            contacts.append(owner)
        else:
            contacts.append(rng.randrange(len(plan.busy_contacts), n_contacts))
    plan.conv_contact = contacts
    plan.conv_spanish = [rng.random() < 0.4 for _ in range(n_conv)]
    plan.conv_start = [rng.random() * span * 0.999 for _ in range(n_conv)]
    for c in plan.big_conversations:
        plan.conv_start[c] = span * 0.2
    rare = max(3, round(20 * scale))
    while len(plan.rare_messages) < rare:
        c = rng.randrange(len(plan.big_conversations), n_conv)
        plan.rare_messages.add((c, rng.randrange(sizes[c])))
    return plan


def timeline(plan: Plan, seed: int) -> Iterator[tuple[float, int, int]]:
    """(seconds after START, conversation, position) for every message, oldest first: a
    conversation's messages follow each other by minutes to days (the big ones over months)."""
    rng = random.Random(seed + 1)
    span = (END - START).total_seconds()
    times: list[float] = []
    conv: list[int] = []
    pos: list[int] = []
    for c, size in enumerate(plan.conv_sizes):
        t = plan.conv_start[c]
        big = c in plan.big_conversations
        for i in range(size):
            times.append(min(t, span - 1))
            conv.append(c)
            pos.append(i)
            t += rng.expovariate(1 / (3600 * (6 if big else 10)))
    order = sorted(range(len(times)), key=times.__getitem__)
    for i in order:
        yield times[i], conv[i], pos[i]


def contact_email(contact: int) -> str:
    return f"customer{contact}@example.com"


def contact_name(contact: int) -> str:
    return f"{FIRST_NAMES[contact % len(FIRST_NAMES)]} {LAST_NAMES[(contact // 7) % len(LAST_NAMES)]}"


def agent_email(i: int) -> str:
    return f"agent{i:02d}@desk.example"


# -- seeding ------------------------------------------------------------------------------------


@dataclass
class Desk:
    """What the harness needs to know about a seeded desk (desk.json)."""

    database: str
    url: str
    messages: int
    seed_msg_per_s: float
    seed_total_s: float
    big_conversation: int = 0
    busy_contact: int = 0
    busy_contact_email: str = ""
    ticket_number: int = 0
    email: str = ""
    saved_view_owner: str = ""
    first_day: str = ""
    last_day: str = ""
    audit_actor: str = ""


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%H:%M:%S")


def load_services(daemon: Any) -> Any:
    """The node's services (store, ingestor, actions' context) from the daemon's config, as the daemon builds them."""
    from inbox import config as config_module
    from inbox.runtime.services import Services

    daemon.write_config()
    saved = dict(os.environ)
    os.environ.update(daemon._env())
    try:
        config = config_module.load(str(daemon.config_path))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Services.build(config)


async def seed(daemon: Any, database: str, messages: int, batch: int, seed_value: int) -> Desk:
    from sqlalchemy import bindparam, insert, text, update

    from channels.base import InboundAttachment, InboundMessage, Sender
    from inbox.actions import agents as agent_actions
    from inbox.actions import teams as team_actions
    from inbox.actions import views as view_actions
    from inbox.actions.runner import CLI, Actor
    from inbox.auth import Principal
    from inbox.pipeline.ingest import ChannelRef
    from inbox.store import migrate
    from inbox.store.models import AuditEntry, Channel, Conversation, Counter, Message, Ticket

    await migrate.upgrade(daemon.db_url)
    services = load_services(daemon)
    db, ctx, ingestor = services.db, services.ctx, services.ingestor
    plan = make_plan(messages, seed_value)
    words = TextMaker(seed_value)
    async with db.transaction() as session:
        row = Channel(name="mail", type="spool", settings={})
        session.add(row)
        await session.flush()
        channel = ChannelRef(row.id, "mail", "spool")
    files = [hashlib.sha256(f"file{i}".encode()).digest() * 64 for i in range(200)]  # 2 KiB each, shared like logos and forms
    conv_id: dict[int, int] = {}
    last_at: dict[int, dt.datetime] = {}
    first_at: dict[int, dt.datetime] = {}
    first_reply: dict[int, dt.datetime] = {}
    messages_t: Any = Message.__table__
    back_date_in = update(messages_t).where(messages_t.c.id == bindparam("mid")).values(created_at=bindparam("at"), sent_at=bindparam("at"))
    back_date_out = (
        update(messages_t)
        .where(messages_t.c.id == bindparam("mid"))
        .values(
            created_at=bindparam("at"),
            sent_at=bindparam("at"),
            direction="out",
            author_type="agent",
            agent_id=bindparam("agent"),
            contact_id=None,
            delivery="sent",
        )
    )
    rng = random.Random(seed_value + 2)
    # The agents first (replies carry their ids), by the real action; no password (hashing 30 is slow and says nothing).
    agent_ids: list[int] = []
    for i in range(AGENTS):
        made = await agent_actions.create_agent(ctx, CLI, agent_email(i), f"Agent {contact_name(i + 5)}", "agent")
        agent_ids.append(made.agent.id)
    await agent_actions.create_agent(ctx, CLI, "root@desk.example", "Root", "admin")
    ingest_seconds = 0.0
    started = time.perf_counter()
    pending: list[tuple[InboundMessage, float, int, int]] = []
    done = 0
    step = max(1, messages // 20)
    analyzed_at = batch  # on PostgreSQL, the message count at the last ANALYZE (see below)

    async def flush() -> None:
        nonlocal ingest_seconds
        t0 = time.perf_counter()
        results = await ingestor.ingest(channel, [p[0] for p in pending])
        ingest_seconds += time.perf_counter() - t0
        inbound, outbound = [], []
        for (_, offset, c, position), result in zip(pending, results, strict=True):
            assert result.message_id is not None and result.conversation_id is not None, result
            conv_id[c] = result.conversation_id
            at = START + dt.timedelta(seconds=offset)
            first_at.setdefault(c, at)
            last_at[c] = at
            if position % 2 == 1:
                first_reply.setdefault(c, at)
                outbound.append({"mid": result.message_id, "at": at, "agent": agent_ids[(c * 7) % AGENTS]})
            else:
                inbound.append({"mid": result.message_id, "at": at})

        def back_date(conn: Any) -> None:
            if inbound:
                conn.execute(back_date_in, inbound)
            if outbound:
                conn.execute(back_date_out, outbound)

        await db.run(back_date)
        pending.clear()

    for offset, c, position in timeline(plan, seed_value):
        spanish = plan.conv_spanish[c]
        contact = plan.conv_contact[c]
        subject = None
        if position % 2 == 1:
            body = words.reply(spanish)
        else:
            subject, body = words.customer(spanish)
        if (c, position) in plan.rare_messages:
            body += f" PS: my {RARE_WORD} plush toy was in the parcel."
        attachments: tuple[InboundAttachment, ...] = ()
        if rng.random() < 0.05:
            k = rng.randrange(len(files))
            attachments = (InboundAttachment(f"captura-{k}.png" if spanish else f"screenshot-{k}.png", "image/png", files[k]),)
        message = InboundMessage(
            external_id=f"m{c}-{position}",
            sender=Sender(address=contact_email(contact), name=contact_name(contact), email=contact_email(contact)),
            text=body,
            subject=subject if position == 0 else None,
            thread_key=f"c{c}",
            attachments=attachments,
        )
        pending.append((message, offset, c, position))
        if len(pending) >= batch:
            await flush()
        done += 1
        if database == "postgresql" and done == analyzed_at * 2:
            # Fresh statistics each time the desk doubles. With autovacuum off (as on some
            # test machines) the tables kept the statistics of their empty start, and each
            # batch's dedup lookup took seconds: 350 msg/s at 200,000 messages, 2,000 after
            # an ANALYZE by hand.
            await db.run(lambda conn: conn.execute(text("ANALYZE")))
            analyzed_at = done
        if done % step == 0:
            rate = done / ingest_seconds if ingest_seconds else 0
            print(f"  [{_now_iso()}] {database}: {done:>9,} messages seeded, {rate:,.0f} msg/s through ingest", file=sys.stderr, flush=True)
    if pending:
        await flush()
    seed_rate = messages / ingest_seconds
    print(f"  [{_now_iso()}] {database}: ingest done ({seed_rate:,.0f} msg/s); now the set-based part", file=sys.stderr, flush=True)

    # Teams by the real action (members by e-mail), then each conversation's state in one executemany.
    team_ids: list[int] = []
    for t, name in enumerate(TEAMS):
        members = [agent_email(i) for i in range(AGENTS) if i % len(TEAMS) == t or (i + 1) % len(TEAMS) == t]
        team_ids.append((await team_actions.create_team(ctx, CLI, name, members=members)).id)
    n_conv = plan.conversations
    by_recent = sorted(range(n_conv), key=lambda c: last_at[c], reverse=True)
    rank = {c: r for r, c in enumerate(by_recent)}
    open_target = round(n_conv * 2 / 3)
    tags_pool = ("billing", "shipping", "bug", "vip", "refund", "urgente", "feedback", "login")
    conv_rows = []
    statuses: dict[int, str] = {}
    for c in range(n_conv):
        # Mostly the recent ones are open (100,000 of 150,000 at full size); a few old ones linger.
        is_open = rank[c] < open_target - round(n_conv * 0.02) or rng.random() < 0.04
        status = "open" if is_open else rng.choice(("resolved", "resolved", "resolved", "resolved", "pending", "snoozed"))
        statuses[c] = status
        team = (c * 3) % (len(TEAMS) + 1)
        conv_rows.append(
            {
                "cid": conv_id[c],
                "status": status,
                "team": team_ids[team - 1] if team else None,
                "assignee": None if rng.random() < 0.3 else agent_ids[(c * 7) % AGENTS],
                "priority": rng.choice((None, None, "P2", "P3", "P3", "P1", "P4")),
                "tags": sorted(rng.sample(tags_pool, rng.choice((0, 0, 1, 1, 2, 3)))),
                "created": first_at[c],
                "last": last_at[c],
                "first_response": first_reply.get(c),
                "resolved": last_at[c] if status == "resolved" else None,
                "snoozed": END + dt.timedelta(days=3) if status == "snoozed" else None,
            }
        )
    conversations_t: Any = Conversation.__table__
    set_conversation = (
        update(conversations_t)
        .where(conversations_t.c.id == bindparam("cid"))
        .values(
            status=bindparam("status"),
            team_id=bindparam("team"),
            assignee_id=bindparam("assignee"),
            priority=bindparam("priority"),
            tags=bindparam("tags"),
            created_at=bindparam("created"),
            last_message_at=bindparam("last"),
            updated_at=bindparam("last"),
            first_response_at=bindparam("first_response"),
            resolved_at=bindparam("resolved"),
            snoozed_until=bindparam("snoozed"),
        )
    )
    # Tickets for 40 % of the conversations (5 % of them incidents), numbered from 1; the counter moves past them.
    ticket_rows = []
    number = 0
    for c in range(n_conv):
        if rng.random() < 0.4:
            number += 1
            incident = rng.random() < 0.05
            status = "resolved" if statuses[c] == "resolved" else rng.choice(("new", "open", "open", "pending"))
            ticket_rows.append(
                {
                    "number": number,
                    "conversation_id": conv_id[c],
                    "kind": "incident" if incident else "request",
                    "title": f"Ticket {number}",
                    "status": status,
                    "priority": rng.choice(("P2", "P3", "P3", "P4")),
                    "impact": "medium" if incident else None,
                    "urgency": "high" if incident else None,
                    "pauses": [],
                    "sla_flags": [],
                    "first_response_at": first_reply.get(c),
                    "resolved_at": last_at[c] if status == "resolved" else None,
                    "created_at": first_at[c],
                    "updated_at": last_at[c],
                }
            )
    # The audit log: the agents' status changes, one entry for every other conversation.
    audit_rows = sorted(
        (
            {
                "agent_id": agent_ids[(c * 7) % AGENTS],
                "action": "conversation.update",
                "target": f"conversation:{conv_id[c]}",
                "details": {"status": statuses[c]},
                "created_at": last_at[c],
            }
            for c in range(0, n_conv, 2)
        ),
        key=lambda r: r["created_at"],
    )

    def settle(conn: Any) -> None:
        for chunk in _chunked(conv_rows, 5000):
            conn.execute(set_conversation, chunk)
        for chunk in _chunked(ticket_rows, 5000):
            conn.execute(insert(Ticket.__table__), chunk)
        conn.execute(text("DELETE FROM counter WHERE name = 'ticket'"))
        conn.execute(insert(Counter.__table__), [{"name": "ticket", "value": number}])
        for chunk in _chunked(audit_rows, 5000):
            conn.execute(insert(AuditEntry.__table__), chunk)

    await db.run(settle)
    owner = agent_email(0)
    async with db.read() as session:
        owner_id = (await session.execute(text("SELECT id FROM agent WHERE email = :e"), {"e": owner})).scalar_one()
        busy_id = (
            await session.execute(text("SELECT id FROM contact WHERE email = :e"), {"e": contact_email(plan.busy_contacts[0])})
        ).scalar_one()
    await view_actions.create_view(
        ctx,
        Actor.of(Principal(int(owner_id), owner, owner, "agent", None)),
        "Open P3 billing",
        {"status": "open", "priority": "P3", "tag": "billing"},
        shared=True,
    )
    await db.run(lambda conn: conn.execute(text("ANALYZE")))
    await db.dispose()
    if database == "postgresql":
        await vacuum(daemon.db_url)
    total = time.perf_counter() - started
    return Desk(
        database=database,
        url=daemon.db_url,
        messages=messages,
        seed_msg_per_s=round(seed_rate, 1),
        seed_total_s=round(total, 1),
        big_conversation=conv_id[plan.big_conversations[0]],
        busy_contact=int(busy_id),
        busy_contact_email=contact_email(plan.busy_contacts[0]),
        ticket_number=ticket_rows[len(ticket_rows) // 2]["number"] if ticket_rows else 0,
        email=contact_email(plan.conv_contact[n_conv // 2]),
        saved_view_owner=owner,
        first_day=START.date().isoformat(),
        last_day=END.date().isoformat(),
        audit_actor=agent_email(3),
    )


async def vacuum(url: str) -> None:
    """VACUUM (ANALYZE) on PostgreSQL (outside a transaction): back-dating rewrote every message
    row once, and a desk timed while autovacuum works through a million dead rows is timed
    against the vacuum."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()


def _chunked(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


# -- the harness ------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children, in KiB (0 once it is gone)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


class RssWatch:
    """Samples a process's RSS every 50 ms in a thread; `peak` since the last `reset`."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self._stop.wait(0.05)

    def reset(self) -> int:
        self.peak = rss_kib(self.pid)
        return self.peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Timed:
    samples: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    by_label: dict[str, list[float]] = field(default_factory=dict)
    cpu_ms_per_request: float | None = None  # the daemon's CPU (user + system) per request

    def add(self, ms: float, status: int, label: str = "") -> None:
        self.samples.append(ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.by_label.setdefault(label, []).append(ms)


async def _timed(client: Any, timed: Timed, method: str, path: str, label: str = "", **kwargs: Any) -> Any:
    t0 = time.perf_counter()
    response = await client.request(method, path, **kwargs)
    body = response.content
    timed.add((time.perf_counter() - t0) * 1000, response.status_code, label)
    return response, body


def label_of(path: str, params: dict[str, Any]) -> str:
    shown = {k: ("…" if k == "cursor" else v) for k, v in params.items()}
    return path.rsplit("/api/v1/", 1)[-1] + (" " + " ".join(f"{k}={v}" for k, v in shown.items()) if shown else "")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ms (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


DAEMON_PID = 0  # set by `measure`: run_class then also counts the daemon's CPU per request


async def run_class(clients: list[Any], requests: list[tuple[str, dict[str, Any]]], rounds: int) -> Timed:
    """Each client (an agent) runs every request `rounds` times, all clients at once."""
    timed = Timed()
    cpu_before = cpu_ms(DAEMON_PID) if DAEMON_PID else 0.0

    async def agent(i: int, client: Any) -> None:
        order = requests[i % len(requests) :] + requests[: i % len(requests)]
        for _ in range(rounds):
            for path, params in order:
                await _timed(client, timed, "GET", path, label_of(path, params), params=params)

    await asyncio.gather(*(agent(i, c) for i, c in enumerate(clients)))
    if DAEMON_PID and timed.samples:
        timed.cpu_ms_per_request = (cpu_ms(DAEMON_PID) - cpu_before) / len(timed.samples)
    return timed


async def cursor_after(client: Any, path: str, params: dict[str, Any], pages: int) -> str | None:
    """The cursor of page `pages + 1` (walked once, not timed)."""
    cursor = None
    for _ in range(pages):
        response = await client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        response.raise_for_status()
        cursor = response.json().get("next_cursor")
        if cursor is None:
            return None
    return cursor


def make_tokens(daemon: Any, emails: list[str]) -> list[str]:
    """API tokens for these agents, by the real action (in a thread: its own event loop)."""
    made: list[str] = []

    async def go() -> None:
        from inbox.actions import tokens
        from inbox.actions.runner import CLI

        services = load_services(daemon)
        try:
            for email in emails:
                made.append(await tokens.create_token(services.ctx, CLI, email, f"bench {uuid.uuid4().hex[:6]}"))
        finally:
            await services.db.dispose()

    worker = threading.Thread(target=lambda: asyncio.run(go()))
    worker.start()
    worker.join()
    if len(made) != len(emails):
        raise RuntimeError("could not make the bench's tokens")
    return made


async def database_size(desk: Desk) -> int:
    if desk.database == "sqlite":
        path = Path(desk.url.split("///", 1)[1])
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    import asyncpg

    name = desk.url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(desk.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        return int(await conn.fetchval("SELECT pg_database_size($1)", name))
    finally:
        await conn.close()


PARTS = ("search", "inbox", "conversation", "contact", "audit", "dashboard", "export", "reply", "erase")


async def measure(
    daemon: Any, desk: Desk, rounds: int, concurrency: int = CONCURRENCY, only: frozenset[str] = frozenset(PARTS)
) -> dict[str, Any]:
    """Time the parts in `only` (all of `PARTS` by default) on a running daemon."""
    import httpx

    await asyncio.to_thread(daemon.start)
    assert daemon.process is not None
    pid = daemon.process.pid
    global DAEMON_PID
    DAEMON_PID = pid
    watch = RssWatch(pid)
    emails = [agent_email(i) for i in range(concurrency)]
    tokens = await asyncio.to_thread(make_tokens, daemon, [*emails, "root@desk.example"])
    admin_token = tokens[-1]
    limits = httpx.Limits(max_connections=4)
    clients = [
        httpx.AsyncClient(base_url=daemon.url, headers={"Authorization": f"Bearer {t}"}, timeout=300, limits=limits)
        for t in tokens[:concurrency]
    ]
    admin = httpx.AsyncClient(base_url=daemon.url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=600)
    classes: dict[str, Timed] = {}
    alone: dict[str, Timed] = {}  # the same requests by one agent: the daemon's service time
    extra: dict[str, Any] = {}
    conv_path = "/api/v1/conversations"
    try:
        # Warm the daemon's caches (statements, pool) and the database's pages, untimed, once.
        for c in clients:
            await c.get(conv_path, params={"status": "open"})
        if "search" in only:
            # Search: each query's first page, and its fifth (the cursor walked to once).
            queries = {
                "rare word": RARE_WORD,
                "common word": COMMON_WORD,
                "phrase": PHRASE,
                "prefix": PREFIX,
                "unaccented": UNACCENTED,
                "ticket number": str(desk.ticket_number),
                "e-mail": desk.email,
            }
            search_requests = []
            for q in queries.values():
                search_requests.append((conv_path, {"q": q}))
                fifth = await cursor_after(admin, conv_path, {"q": q}, 4)
                if fifth:
                    search_requests.append((conv_path, {"q": q, "cursor": fifth}))
            hits = {}
            for label, q in queries.items():
                found = (await admin.get(conv_path, params={"q": q})).json()["items"]
                hits[label] = len(found)
            extra["search_first_page_hits"] = hits
            classes["search"] = await run_class(clients, search_requests, rounds)
            alone["search"] = await run_class(clients[:1], search_requests, 1)
        if "inbox" in only:
            # The inbox: built-in views and a saved view with three filters, first page and a deep one (page 21).
            view_id = next(v["id"] for v in (await clients[0].get("/api/v1/views")).json()["items"] if v["name"] == "Open P3 billing")
            views = {
                "all open": {"status": "open"},
                "mine": {"status": "open", "assignee": "me"},
                "unassigned": {"status": "open", "assignee": "none"},
                "team": {"status": "open", "team": TEAMS[0]},
                "saved view": {"view": view_id},
            }
            inbox_requests = []
            deep = {}
            for label, params in views.items():
                inbox_requests.append((conv_path, params))
                cursor = await cursor_after(clients[0], conv_path, params, 20)
                deep[label] = cursor is not None
                if cursor:
                    inbox_requests.append((conv_path, {**params, "cursor": cursor}))
            extra["inbox_deep_pages"] = deep
            classes["inbox"] = await run_class(clients, inbox_requests, rounds * 2)
            alone["inbox"] = await run_class(clients[:1], inbox_requests, 2)
        if "conversation" in only:
            # A conversation with 2,000 messages: the conversation, its first page of messages and its last.
            big = desk.big_conversation
            msgs = f"{conv_path}/{big}/messages"
            last_page = await cursor_after(admin, msgs, {"limit": 100}, 19)
            conv_requests = [(f"{conv_path}/{big}", {}), (msgs, {"limit": 100})]
            if last_page:
                conv_requests.append((msgs, {"limit": 100, "cursor": last_page}))
            classes["conversation"] = await run_class([admin] * concurrency, conv_requests, rounds * 2)
            alone["conversation"] = await run_class([admin], conv_requests, 3)
        if "contact" in only:
            contact_path = f"/api/v1/contacts/{desk.busy_contact}"
            extra["busy_contact_conversations"] = len((await admin.get(contact_path)).json().get("conversations", []))
            classes["contact"] = await run_class([admin] * concurrency, [(contact_path, {})], rounds * 3)
            alone["contact"] = await run_class([admin], [(contact_path, {})], 5)
        if "audit" in only:
            # The audit log filtered by actor: first page and a deeper one.
            audit_params = {"actor": desk.audit_actor}
            audit_requests = [("/api/v1/audit", audit_params)]
            deeper = await cursor_after(admin, "/api/v1/audit", audit_params, 10)
            if deeper:
                audit_requests.append(("/api/v1/audit", {**audit_params, "cursor": deeper}))
            classes["audit"] = await run_class([admin] * concurrency, audit_requests, rounds * 2)
            alone["audit"] = await run_class([admin], audit_requests, 3)
        if "dashboard" in only:
            # The dashboard (helper "reports"'s API): 30 and 365 days; a 404 means not on this branch.
            last = dt.date.fromisoformat(desk.last_day)
            dashboards: dict[str, float | None] = {}
            for days in (30, 365):
                params = {"from": (last - dt.timedelta(days=days)).isoformat(), "to": last.isoformat()}
                probe = await admin.get("/api/v1/reports", params=params)
                if probe.status_code == 404:
                    dashboards[f"{days}d"] = None
                    continue
                timed = Timed()
                for _ in range(max(3, rounds)):
                    await _timed(admin, timed, "GET", "/api/v1/reports", f"reports {days}d", params=params)
                classes[f"dashboard {days}d"] = timed
                dashboards[f"{days}d"] = percentile(timed.samples, 50)
            extra["dashboard_ms"] = dashboards
        if "export" in only:
            # The CSV export: peak RSS over a stream of ~10 % of the conversations, then of ~2/3 (100,000 at full size).
            extra["export"] = await export_growth(admin, watch, desk)
        if "reply" in only:
            # CPU per reply (helper "replycpu"'s functions, when present).
            extra["reply_cpu_ms"], extra["bare_insert_cpu_ms"] = await reply_cpu(daemon, admin_token, pid)
        if "erase" in only:
            # GDPR erase of a contact with many conversations (helper "reports"'s API).
            extra["erase_ms"] = await erase(admin, desk)
        extra["rss_kib"] = watch.peak
    finally:
        for c in [*clients, admin]:
            await c.aclose()
        watch.stop()
        await asyncio.to_thread(daemon.stop)
    return {"classes": classes, "alone": alone, **extra}


async def export_growth(admin: Any, watch: RssWatch, desk: Desk) -> dict[str, Any]:
    first, last = dt.date.fromisoformat(desk.first_day), dt.date.fromisoformat(desk.last_day)
    span = (last - first).days
    out: dict[str, Any] = {}
    for label, fraction in (("small", 0.1), ("large", 2 / 3)):
        params = {"from": (last - dt.timedelta(days=round(span * fraction))).isoformat(), "to": last.isoformat()}
        before = watch.reset()
        t0 = time.perf_counter()
        rows = 0
        async with admin.stream("GET", "/api/v1/reports/conversations.csv", params=params) as response:
            if response.status_code == 404:
                print("  CSV export: not available (404)", file=sys.stderr)
                return {"available": False}
            async for chunk in response.aiter_bytes():
                rows += chunk.count(b"\n")
        out[label] = {
            "rows": max(0, rows - 1),
            "seconds": round(time.perf_counter() - t0, 2),
            "rss_before_kib": before,
            "peak_kib": watch.peak,
        }
    out["available"] = True
    out["growth_mb"] = round((out["large"]["peak_kib"] - out["small"]["peak_kib"]) / 1024, 1)
    return out


async def reply_cpu(daemon: Any, token: str, pid: int) -> tuple[float | None, float | None]:
    try:
        from bench.reply_cpu import measure_bare_insert_cpu, measure_reply_cpu  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("  reply CPU: not available (bench/reply_cpu.py missing)", file=sys.stderr)
        return None, None
    import httpx

    async with httpx.AsyncClient(base_url=daemon.url, headers={"Authorization": f"Bearer {token}"}) as client:
        items = (await client.get("/api/v1/conversations", params={"status": "open", "limit": 50})).json()["items"]
    ids = [c["id"] for c in items]
    reply = await asyncio.to_thread(measure_reply_cpu, daemon.url, token, pid, ids)
    bare = await asyncio.to_thread(measure_bare_insert_cpu, daemon.db_url)
    return round(reply, 2), round(bare, 2)


async def erase(admin: Any, desk: Desk) -> float | None:
    email = contact_email(1)  # the second contact with many conversations (the first is the contact page's)
    found = (await admin.get("/api/v1/contacts", params={"q": email})).json()["items"]
    if not found:
        return None
    t0 = time.perf_counter()
    response = await admin.post(f"/api/v1/contacts/{found[0]['id']}/erase")
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code in (404, 405):
        print("  GDPR erase: not available (404)", file=sys.stderr)
        return None
    if response.status_code >= 400:
        print(f"  GDPR erase: HTTP {response.status_code} {response.text[:200]}", file=sys.stderr)
        return None
    return round(ms, 1)


# -- the run --------------------------------------------------------------------------------------


def result_json(desk: Desk, measured: dict[str, Any], size: int) -> dict[str, Any]:
    classes: dict[str, Timed] = measured["classes"]

    def p95(name: str) -> float | None:
        return round(percentile(classes[name].samples, 95), 1) if name in classes else None

    dashboard = classes.get("dashboard 365d")
    export = measured.get("export") or {}
    return {
        "messages": desk.messages,
        "seed_msg_per_s": desk.seed_msg_per_s,
        "search_p95_ms": p95("search"),
        "inbox_p95_ms": p95("inbox"),
        "conversation_p95_ms": p95("conversation"),
        "contact_p95_ms": p95("contact"),
        "dashboard_365d_ms": round(percentile(dashboard.samples, 95), 1) if dashboard else None,
        "export_rss_growth_mb": export.get("growth_mb"),
        "rss_mb": round(measured["rss_kib"] / 1024, 1),
        "reply_cpu_ms": measured.get("reply_cpu_ms"),
        "bare_insert_cpu_ms": measured.get("bare_insert_cpu_ms"),
    }


def print_table(desk: Desk, measured: dict[str, Any], size: int) -> None:
    print(
        f"\n== {desk.database}: {desk.messages:,} messages; database {size / 2**20:,.0f} MiB; "
        f"seeding {desk.seed_msg_per_s:,.0f} msg/s through ingest ({desk.seed_total_s:,.0f} s in all)"
    )
    print(
        f"{'class':16} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'target':>8} {'':7} {'alone p95':>9} {'CPU ms/req':>10}  statuses"
    )
    for name, timed in measured["classes"].items():
        s = summary(timed.samples)
        key = "dashboard" if name.startswith("dashboard") else name
        target = TARGETS.get(key)
        verdict = "" if target is None else ("met" if s["p95"] <= target else "MISSED")
        solo = measured["alone"].get(name)
        solo_p95 = f"{percentile(solo.samples, 95):9.1f}" if solo else f"{'':9}"
        cpu = f"{timed.cpu_ms_per_request:10.1f}" if timed.cpu_ms_per_request is not None else f"{'':10}"
        print(
            f"{name:16} {s['n']:>5} {s['p50']:>8.1f} {s['p95']:>8.1f} {s['p99']:>8.1f} {target or '':>8} {verdict:7} {solo_p95} {cpu}  {timed.statuses}"
        )
    print("per request (p50 / p95 ms):")
    for name, timed in measured["classes"].items():
        for label, samples in timed.by_label.items():
            print(f"  {name:14} {label[:70]:70} {percentile(samples, 50):8.1f} {percentile(samples, 95):8.1f}")
    export = measured.get("export") or {}
    print(f"daemon RSS under load: {measured['rss_kib'] / 1024:,.0f} MiB (target <= 300)")
    if export.get("available"):
        print(
            f"CSV export: {export['small']['rows']:,} rows peak {export['small']['peak_kib'] / 1024:,.0f} MiB, "
            f"{export['large']['rows']:,} rows peak {export['large']['peak_kib'] / 1024:,.0f} MiB: growth {export['growth_mb']} MiB"
        )
    else:
        print("CSV export: not available")
    print(f"dashboard: {measured.get('dashboard_ms')}; GDPR erase: {measured.get('erase_ms') or 'not available'} ms")
    print(f"reply CPU: {measured.get('reply_cpu_ms')} ms/reply; bare insert CPU: {measured.get('bare_insert_cpu_ms')} ms")
    print(f"search first-page hits: {measured.get('search_first_page_hits')}; inbox deep pages: {measured.get('inbox_deep_pages')}")


async def one_database(database: str, args: argparse.Namespace) -> dict[str, Any]:
    from tests.fixtures.daemon import Daemon
    from tests.fixtures.databases import PG_ADMIN_URL, pg_url

    reuse = Path(args.reuse) / database if args.reuse else None
    workdir = Path(args.keep) / database if args.keep else Path(tempfile.mkdtemp(prefix=f"frontdesk-scale-{database}-"))
    if reuse is not None:
        workdir = reuse
    workdir.mkdir(parents=True, exist_ok=True)
    if reuse is not None:
        desk = Desk(**json.loads((reuse / "desk.json").read_text()))
        from inbox.store import migrate

        await migrate.upgrade(desk.url)  # new indexes (migrations) apply to a kept desk
        daemon = Daemon(workdir=workdir, db_url=desk.url)
    else:
        if database == "sqlite":
            for stale in workdir.glob("frontdesk.db*"):
                stale.unlink()  # a new desk, not more of a kept one
            url = f"sqlite+aiosqlite:///{workdir}/frontdesk.db"
        else:
            import asyncpg

            name = f"fd_scale_{args.messages}_{uuid.uuid4().hex[:6]}"
            conn = await asyncpg.connect(PG_ADMIN_URL)
            await conn.execute(f'CREATE DATABASE "{name}"')
            # As docs/deployment.md advises for a desk whose data is cached or on SSD: with the
            # default 4, the planner scans every conversation for a search's few thousand ids.
            await conn.execute(f'ALTER DATABASE "{name}" SET random_page_cost = 1.1')
            await conn.close()
            url = pg_url(name)
        daemon = Daemon(workdir=workdir, db_url=url)
        print(f"[{_now_iso()}] {database}: seeding {args.messages:,} messages", file=sys.stderr, flush=True)
        desk = await seed(daemon, database, args.messages, args.batch, args.seed)
        (workdir / "desk.json").write_text(json.dumps(asdict(desk), indent=2))
    daemon.write_config()
    print(f"[{_now_iso()}] {database}: timing the API", file=sys.stderr, flush=True)
    measured = await measure(daemon, desk, args.rounds, args.concurrency, args.only)
    size = await database_size(desk)
    print_table(desk, measured, size)
    result = result_json(desk, measured, size)
    result["database_mb"] = round(size / 2**20, 1)
    if args.keep is None and args.reuse is None:
        shutil.rmtree(workdir, ignore_errors=True)
        if database == "postgresql":
            import asyncpg

            conn = await asyncpg.connect(PG_ADMIN_URL)
            await conn.execute(f'DROP DATABASE IF EXISTS "{desk.url.rsplit("/", 1)[1]}" WITH (FORCE)')
            await conn.close()
    return result


def _parts(value: str) -> frozenset[str]:
    parts = frozenset(p.strip() for p in value.split(",") if p.strip())
    if unknown := parts - set(PARTS):
        raise argparse.ArgumentTypeError(f"unknown parts: {', '.join(sorted(unknown))}")
    return parts


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--json", help="write the figures per database to this file")
    parser.add_argument("--keep", help="leave the desk (SQLite file, config, desk.json) in DIR/DATABASE")
    parser.add_argument("--reuse", help="time the desk kept in DIR/DATABASE again, without seeding")
    parser.add_argument("--batch", type=int, default=500, help="messages per ingest batch")
    parser.add_argument("--rounds", type=int, default=3, help="times each agent runs each request of a class")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY, help="agents at once (10 in the issue)")
    parser.add_argument(
        "--only", type=_parts, default=frozenset(PARTS), help=f"time only these parts, comma-separated (of {','.join(PARTS)})"
    )
    args = parser.parse_args()
    results = {}
    for database in ["sqlite", "postgresql"] if args.database == "both" else [args.database]:
        results[database] = await one_database(database, args)
        if args.json:
            await asyncio.to_thread(Path(args.json).write_text, json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
