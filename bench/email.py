"""Email channel: parse + sanitise + store rate, whole IMAP ingest against a raw baseline,
and IDLE-to-visible latency, all in one run against a private Dovecot and SQLite.

    .venv/bin/python bench/email.py [--messages 1000] [--samples 30]

1. parse+sanitise+store: the mails' raw bytes through `parse_email` and the inbox's
   ingest (nh3, dedup, contacts, threading, attachments, raw kept), batches of 50.
2. ingest 1000 mails: the email channel reading them from Dovecot until its cursor
   is committed, against a baseline in the same run that does the least anyone could:
   aioimaplib UID FETCH in batches of 50, stdlib parse, one aiosqlite executemany.
3. IDLE-to-visible: with the channel idle, a mail is APPENDed over a second IMAP
   connection; the time until its row is in the database. p50 and p95.

0. parse ratio: `parse_email` over the mails plus tests/channels/mail_corpus/, against
   a bare stdlib `message_from_bytes(raw, policy=policy.default)` walking every part
   with `get_content()`, interleaved in the same run (best of five rounds each).
   `--parse-only` runs just this one (no Dovecot needed).

Targets: parse ratio <= 1.3x; >= 150 msg/s for (1); (2) within 3x of the baseline;
p95 <= 2 s for (3).
The machine is shared and noisy: compare the ratios, not the absolute numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib's `email`: run from bench/, it must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.parser import BytesParser  # noqa: E402

import aioimaplib  # noqa: E402
import aiosqlite  # noqa: E402
from sqlalchemy import select  # noqa: E402

from channels.base import ChannelContext  # noqa: E402
from channels.email import Cursor, EmailChannel, EmailConfig  # noqa: E402
from channels.email_parse import ParseOptions, parse_email  # noqa: E402
from inbox.events import Bus  # noqa: E402
from inbox.pipeline.ingest import ChannelRef, Ingestor  # noqa: E402
from inbox.runtime.channels import ChannelSink  # noqa: E402
from inbox.store import migrate  # noqa: E402
from inbox.store.db import Database  # noqa: E402
from inbox.store.models import Channel, Message  # noqa: E402
from tests.fixtures.dovecot import PASSWORD, Dovecot, DovecotServer  # noqa: E402

DOMAIN = "bench.frontdesk.test"
BATCH = 50


def make_mail(i: int, prefix: str = "b") -> bytes:
    """A realistic mix: plain, HTML with hostile bits, Latin-1, a small attachment."""
    msg = EmailMessage()
    msg["From"] = f"Customer {i % 300} <customer{i % 300}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Order {i} has not arrived — pedido {i}"
    msg["Message-ID"] = f"<{prefix}{i}@example.com>"
    msg["Date"] = "Mon, 30 Nov 2026 09:00:00 +0100"
    body = f"Hello,\n\nmy order #{i * 7} has not arrived yet. Could you check?\n\nThanks\n-- \nCustomer {i % 300}\n"
    if i % 3 == 1:
        msg.set_content(body + "\nOn Sun, Support wrote:\n> earlier text\n> more\n")
        msg.add_alternative(
            f"<p>Hello,</p><p>my order <b>#{i * 7}</b> has not arrived.</p><script>alert({i})</script><img src=x onerror=alert(1)>",
            subtype="html",
        )
    elif i % 3 == 2:
        msg.set_content(body.replace("Hello", "Olá, é urgente"), charset="iso-8859-1", cte="quoted-printable")
    else:
        msg.set_content(body)
    if i % 10 == 0:
        msg.add_attachment(
            f"invoice {i}".encode() * 200,
            maintype="application",
            subtype="pdf",
            filename=f"invoice-{i}.pdf",
        )
    return msg.as_bytes()


CORPUS = Path(__file__).resolve().parent.parent / "tests" / "channels" / "mail_corpus"


def stdlib_walk(raw: bytes) -> None:
    """The baseline: what the stdlib alone does to read every part of a mail."""
    msg = message_from_bytes(raw, policy=policy.default)
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            part.get_content()  # type: ignore[attr-defined]
        except (KeyError, LookupError, ValueError):
            pass


def parse_ratio(raws: list[bytes], rounds: int = 5) -> tuple[float, float]:
    """(ours, baseline) seconds for one pass over `raws`, best of `rounds` interleaved."""
    options = ParseOptions(DOMAIN, frozenset({"support@example.com"}))
    ours, base = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in raws:
            stdlib_walk(raw)
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        for raw in raws:
            parse_email(raw, options)
        ours.append(time.perf_counter() - start)
    return min(ours), min(base)


async def fresh_db(template: Path, directory: Path, name: str) -> tuple[Database, ChannelRef]:
    path = directory / f"{name}.db"
    shutil.copyfile(template, path)
    db = Database(f"sqlite+aiosqlite:///{path}")
    async with db.transaction() as session:
        row = Channel(name="mail", type="email", settings={})
        session.add(row)
        await session.flush()
        return db, ChannelRef(row.id, "mail", "email")


async def parse_store_rate(template: Path, directory: Path, raws: list[bytes]) -> float:
    db, ref = await fresh_db(template, directory, "parse-store")
    ingestor = Ingestor(db, Bus())
    options = ParseOptions(DOMAIN, frozenset({"support@example.com"}))
    start = time.perf_counter()
    for i in range(0, len(raws), BATCH):
        parsed = await asyncio.to_thread(lambda chunk: [parse_email(r, options) for r in chunk], raws[i : i + BATCH])
        await ingestor.ingest(ref, parsed)
    elapsed = time.perf_counter() - start
    await db.dispose()
    return len(raws) / elapsed


def channel_config(account: Dovecot) -> EmailConfig:
    return EmailConfig.model_validate(
        {
            "name": "mail",
            "type": "email",
            "imap": account.imap_config(),
            "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"},
            "from": "Support <support@example.com>",
            "message_id_domain": DOMAIN,
            "batch_size": BATCH,
        }
    )


async def cursor_uid(db: Database, ref: ChannelRef) -> int:
    async with db.read() as session:
        cursor = Cursor.decode(await session.scalar(select(Channel.cursor).where(Channel.id == ref.id)))
    return cursor.uid if cursor else 0


async def channel_ingest(template: Path, directory: Path, account: Dovecot, count: int) -> float:
    db, ref = await fresh_db(template, directory, "channel")
    channel = EmailChannel(
        channel_config(account),
        ChannelContext(public_url="http://127.0.0.1", message_id_domain=DOMAIN),
    )
    start = time.perf_counter()
    await channel.start(ChannelSink(Ingestor(db, Bus()), ref))
    while True:  # the cursor is committed with the last batch
        if await cursor_uid(db, ref) >= count:
            break
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - start
    await channel.stop()
    await db.dispose()
    return elapsed


async def raw_baseline(directory: Path, account: Dovecot, count: int) -> float:
    """The least anyone could do: fetch, parse with the stdlib, executemany into SQLite."""
    start = time.perf_counter()
    client = aioimaplib.IMAP4(host="127.0.0.1", port=account.port)
    await client.wait_hello_from_server()
    await client.login(account.user, PASSWORD)
    await client.select("INBOX")
    parser = BytesParser(policy=policy.default)
    async with aiosqlite.connect(directory / "raw.db") as conn:
        await conn.execute(
            "CREATE TABLE message (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, sender TEXT, subject TEXT, text TEXT, raw BLOB)"
        )
        for first in range(1, count + 1, BATCH):
            response = await client.uid("fetch", f"{first}:{min(first + BATCH - 1, count)}", "(UID BODY.PEEK[])")
            rows = []
            for line in response.lines:
                if isinstance(line, bytearray):
                    msg = parser.parsebytes(bytes(line))
                    part = msg.get_body(("plain", "html"))
                    text = part.get_content() if part is not None else ""
                    rows.append(
                        (
                            str(msg["Message-ID"]),
                            str(msg["From"]),
                            str(msg["Subject"]),
                            text,
                            bytes(line),
                        )
                    )
            await conn.executemany(
                "INSERT INTO message (external_id, sender, subject, text, raw) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            await conn.commit()
    await client.logout()
    return time.perf_counter() - start


async def idle_latency(template: Path, directory: Path, account: Dovecot, samples: int) -> list[float]:
    db, ref = await fresh_db(template, directory, "latency")
    channel = EmailChannel(
        channel_config(account),
        ChannelContext(public_url="http://127.0.0.1", message_id_domain=DOMAIN),
    )
    await channel.start(ChannelSink(Ingestor(db, Bus()), ref))
    while True:  # wait until the receiver is idle
        if channel.caught_up_at is not None:
            break
        await asyncio.sleep(0.01)
    writer = aioimaplib.IMAP4(host="127.0.0.1", port=account.port)
    await writer.wait_hello_from_server()
    await writer.login(account.user, PASSWORD)
    latencies = []
    for i in range(samples):
        raw = make_mail(i, prefix="lat")
        start = time.perf_counter()
        await writer.append(raw, mailbox="INBOX")
        while True:
            async with db.read() as session:
                found = await session.scalar(select(Message.id).where(Message.external_id == f"lat{i}@example.com"))
            if found is not None:
                break
            await asyncio.sleep(0.005)
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.05)  # let the receiver go back to IDLE, as between real mails
    await writer.logout()
    await channel.stop()
    await db.dispose()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--parse-only", action="store_true", help="only the parse ratio (no Dovecot)")
    args = parser.parse_args()
    raws = [make_mail(i) for i in range(args.messages)]
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]
    ours_parse, base_parse = parse_ratio(raws + corpus)
    print(f"mails: {len(raws)} generated + {len(corpus)} from {CORPUS.name}/")
    print(f"baseline  stdlib parse+get_content  {base_parse:10.3f} s     ({len(raws + corpus) / base_parse:.0f} msg/s)")
    print(f"parse_email                         {ours_parse:10.3f} s     ({len(raws + corpus) / ours_parse:.0f} msg/s)")
    print(f"ratio     parse_email / baseline    {ours_parse / base_parse:10.2f}x     (target <= 1.3x)")
    if args.parse_only:
        return
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-email-") as tmp:
        directory = Path(tmp)
        server = DovecotServer(Path(tempfile.mkdtemp(prefix="frontdesk-bench-dovecot-")))
        server.start()
        try:
            template = directory / "template.db"
            await migrate.upgrade(f"sqlite+aiosqlite:///{template}")
            account = server.add_account()
            for raw in raws:
                account.deliver(raw)
            rate = await parse_store_rate(template, directory, raws)
            raw_seconds = await raw_baseline(directory, account, args.messages)
            ours_seconds = await channel_ingest(template, directory, account, args.messages)
            latencies = await idle_latency(template, directory, server.add_account(), args.samples)
        finally:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    print(f"mails: {args.messages} (batches of {BATCH}); IDLE samples: {args.samples}")
    print(f"parse+sanitise+store                {rate:10.0f} msg/s   (target >= 150)")
    print(f"baseline  raw fetch+parse+insert    {raw_seconds:10.2f} s     ({args.messages / raw_seconds:.0f} msg/s)")
    print(f"channel   IMAP ingest to commit     {ours_seconds:10.2f} s     ({args.messages / ours_seconds:.0f} msg/s)")
    print(f"ratio     channel / baseline        {ours_seconds / raw_seconds:10.2f}x     (target <= 3x)")
    print(f"IDLE-to-visible p50                 {p50 * 1000:10.0f} ms")
    print(f"IDLE-to-visible p95                 {p95 * 1000:10.0f} ms    (target <= 2000 ms)")
    print(f"IDLE-to-visible max                 {max(latencies) * 1000:10.0f} ms    (mean {statistics.mean(latencies) * 1000:.0f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
