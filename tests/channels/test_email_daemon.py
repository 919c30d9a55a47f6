"""Email through the real daemon (`frontdesk serve`), Dovecot and aiosmtpd, killed with SIGKILL.

Each test runs on SQLite and PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import asyncio
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from inbox.store.models import Message, QuarantineItem
from inbox.store.secrets import MASK
from tests.fixtures.daemon import Daemon, daemon, wait_until  # noqa: F401
from tests.fixtures.dovecot import PASSWORD, Dovecot, SmtpSink, dovecot, dovecot_server, smtp_sink  # noqa: F401

DOMAIN = "frontdesk.test"


def mail(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Customer {i % 7} <c{i % 7}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"Question {i}"
    msg["Message-ID"] = f"<k{i}@example.com>"
    msg.set_content(f"message number {i}")
    return msg


def counts(db_url: str) -> tuple[int, int, int]:
    """(inbound messages, distinct external ids, quarantined items), read straight from the database."""

    async def read() -> tuple[int, int, int]:
        engine = create_async_engine(db_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                inbound = Message.direction == "in"
                total = await conn.scalar(select(func.count()).select_from(Message).where(inbound))
                distinct = await conn.scalar(select(func.count(func.distinct(Message.external_id))).where(inbound))
                held = await conn.scalar(select(func.count()).select_from(QuarantineItem))
                return int(total or 0), int(distinct or 0), int(held or 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def email_channel(dovecot: Dovecot, smtp: SmtpSink) -> dict[str, object]:
    return {
        "name": "mail",
        "type": "email",
        "imap": dovecot.imap_config(password="env:IMAP_PASSWORD"),
        "smtp": smtp.smtp_config(),
        "from": "Support <support@example.com>",
        "message_id_domain": DOMAIN,
        "batch_size": 2,
    }


def test_sigkill_mid_import_loses_nothing_and_duplicates_nothing(daemon: Daemon, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    total = 80
    for i in range(total):
        dovecot.deliver(mail(i))
    dovecot.deliver(b"\x00\x01 not mail at all")
    daemon.channels = [email_channel(dovecot, smtp_sink)]
    daemon.env = {"IMAP_PASSWORD": PASSWORD}
    token = daemon.admin_token()
    daemon.start()
    wait_until(lambda: counts(daemon.db_url)[0] > 0, what="the first imported mail")
    daemon.kill()
    seen_before_kill = counts(daemon.db_url)[0]
    print(f"killed with {seen_before_kill} of {total} mails stored")
    daemon.start()
    wait_until(lambda: counts(daemon.db_url)[0] >= total and counts(daemon.db_url)[2] >= 1, what="every mail imported")
    stored, distinct, held = counts(daemon.db_url)
    assert (stored, distinct, held) == (total, total, 1), f"killed after {seen_before_kill} mails"

    api = httpx.Client(base_url=daemon.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    # The admin API shows the channel's settings with the nested passwords masked.
    listing = api.get("/api/v1/channels")
    assert listing.status_code == 200 and PASSWORD not in listing.text
    [shown] = [c for c in listing.json()["items"] if c["name"] == "mail"]
    assert shown["settings"]["imap"]["password"] == MASK and shown["settings"]["from"] == "Support <support@example.com>"

    # An agent's reply through the API leaves by SMTP, threaded to the customer's mail.
    conversation = next(c for c in api.get("/api/v1/conversations", params={"limit": 100}).json()["items"] if c["subject"] == "Question 3")
    response = api.post(f"/api/v1/conversations/{conversation['id']}/messages", json={"text": "We are on it"})
    assert response.status_code == 201, response.text
    [sent] = wait_until(lambda: smtp_sink.messages, what="the reply at the SMTP server")
    out = message_from_bytes(sent.data, policy=policy.default)
    assert out["In-Reply-To"] == "<k3@example.com>" and out["Subject"] == "Re: Question 3"
    assert sent.rcpt_tos == ["c3@example.com"] and str(out["Message-ID"]).endswith(f"@{DOMAIN}>")


def test_channels_test_command_logs_into_imap_and_smtp(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    # `channels test` needs only the config: one run, no database.
    node = Daemon(workdir=tmp_path, db_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}", channels=[email_channel(dovecot, smtp_sink)])
    node.env = {"IMAP_PASSWORD": PASSWORD}
    node.write_config()
    checked = node.cli("channels", "test", "mail")
    assert "ok   imap login" in checked.stdout and "ok   smtp login" in checked.stdout, checked.stdout
    node.env = {"IMAP_PASSWORD": "wrong"}
    refused = node.cli("channels", "test", "mail", check=False)
    assert refused.returncode == 1 and "FAIL imap login" in refused.stdout and "refused" in refused.stdout
