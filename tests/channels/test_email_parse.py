"""Email parsing and composing without servers: charsets, hostile HTML, quotes, robots."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from channels.base import OutboundAttachment, OutboundMessage, Recipient
from channels.email_compose import EmailTemplates, compose, reply_subject
from channels.email_parse import ParseOptions, html_to_text, parse_email
from channels.email_quotes import shown_text
from inbox.pipeline.ingest import sanitise_html

OPTIONS = ParseOptions("frontdesk.test", frozenset({"support@example.com"}), max_attachment_bytes=1000)


def mail(body: str = "Hello", **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Ana Pérez <ana@example.com>")
    msg["To"] = "support@example.com"
    msg["Subject"] = headers.pop("Subject", "Help")
    msg["Message-ID"] = headers.pop("Message_ID", "<m1@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_plain_message_gives_sender_subject_and_message_id() -> None:
    m = parse_email(mail("Hello there"), OPTIONS)
    assert m.external_id == "m1@example.com" and m.meta["message_id"] == "m1@example.com"
    assert m.sender.address == "ana@example.com" and m.sender.name == "Ana Pérez" and m.sender.email == "ana@example.com"
    assert m.subject == "Help" and m.text == "Hello there" and not m.automated


def test_rfc2047_headers_and_odd_charsets_are_decoded() -> None:
    raw = (
        b"From: =?ISO-8859-1?Q?Jos=E9_N=FA=F1ez?= <jose@example.com>\r\n"
        b"Subject: =?KOI8-R?B?8NLJ18XU?= =?utf-8?q?_caf=C3=A9?=\r\n"
        b"Message-ID: <koi@example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=windows-1251\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Здравствуйте".encode("cp1251") + b"\r\n"
    )
    m = parse_email(raw, OPTIONS)
    assert m.sender.name == "José Núñez"
    assert m.subject == "Привет café"
    assert m.text == "Здравствуйте"


def test_unknown_charset_and_undeclared_8bit_never_fail() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: =?x-unknown?q?caf=E9?=\r\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\ncaf\xc3\xa9 ol\xe9\r\n"
    )
    m = parse_email(raw, OPTIONS)
    assert "caf" in m.text and m.subject is not None


def test_message_without_message_id_is_accepted_with_a_content_key() -> None:
    raw = b"From: a@example.com\r\nSubject: no id\r\n\r\nbody\r\n"
    m = parse_email(raw, OPTIONS)
    assert m.external_id.startswith("sha256:") and parse_email(raw, OPTIONS).external_id == m.external_id


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n\r\n", b"\x00\xff\xfe garbage without headers", b"Subject: no sender\r\n\r\nbody", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"],
)
def test_garbage_is_refused_for_quarantine(raw: bytes) -> None:
    with pytest.raises(ValueError):
        parse_email(raw, OPTIONS)


def test_hostile_html_is_kept_only_sanitised() -> None:
    msg = EmailMessage()
    msg["From"] = "x@example.com"
    msg["Subject"] = "hi"
    msg.set_content("plain")
    msg.add_alternative(
        '<p onclick="steal()">Hi<script>alert(1)</script><img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">link</a><iframe src="https://evil.example"></iframe></p>',
        subtype="html",
    )
    m = parse_email(msg.as_bytes(), OPTIONS)
    clean = sanitise_html(m.html) or ""
    for bad in ("<script", "alert(1)", "onerror", "onclick", "javascript:", "<iframe"):
        assert bad not in clean
    assert "Hi" in clean


def test_html_only_mail_gets_a_text_version() -> None:
    assert html_to_text("<p>Hola&nbsp;Ana</p><script>x()</script><div>Linea 2<br>Linea 3</div>") == "Hola Ana\nLinea 2\nLinea 3"


def test_quoted_history_and_signature_are_cut_from_the_shown_text() -> None:
    text = "Thanks, that worked.\n\n-- \nAna\nACME Ltd\n\nOn Mon, 1 Jan 2024 at 10:00, Support <support@example.com> wrote:\n> Try again\n"
    assert shown_text(text) == "Thanks, that worked."
    outlook = "Sí, gracias\n\n________________________________\nDe: Soporte\nEnviado: lunes\nPara: Ana\n\nold"
    assert shown_text(outlook) == "Sí, gracias"
    assert shown_text("> only a quote\n> here") == "> only a quote\n> here"  # nothing left: keep it whole
    assert shown_text("Answer\n\nEl lun, 1 ene 2024 a las 10:00, Soporte\n<s@example.com> escribió:\n> hola") == "Answer"


def test_attachments_inline_images_and_the_size_cap() -> None:
    msg = EmailMessage()
    msg["From"] = "x@example.com"
    msg["Subject"] = "files"
    msg.set_content("see attached")
    msg.add_related(b"\x89PNG small", maintype="image", subtype="png", cid="<logo@x>", disposition="inline")
    msg.add_attachment(b"a" * 100, maintype="application", subtype="pdf", filename="factura.pdf")
    msg.add_attachment(b"b" * 5000, maintype="application", subtype="zip", filename="huge.zip")
    m = parse_email(msg.as_bytes(), OPTIONS)
    names = {a.filename: a for a in m.attachments}
    assert names["factura.pdf"].data == b"a" * 100 and any(a.content_type == "image/png" for a in m.attachments)
    assert "huge.zip" not in names and "huge.zip" in m.text and "over the 1000-byte limit" in m.text
    inline = [a for a in m.attachments if a.inline]
    assert inline and inline[0].content_id == "logo@x"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X_Autoreply": "yes"},
        {"Return_Path": "<>"},
        {"List_Id": "<users.lists.example.com>"},
        {"List_Unsubscribe": "<mailto:leave@example.com>"},
        {"Message_ID": "<0123456789abcdef0123456789abcdef@frontdesk.test>"},
        {"From": "MAILER-DAEMON@mx.example.com"},
        {"From": "Support <support@example.com>"},
    ],
)
def test_mail_from_robots_lists_and_ourselves_is_automated(headers: dict[str, str]) -> None:
    m = parse_email(mail(**headers), OPTIONS)
    assert m.automated and m.meta["automated_reason"]


def test_a_person_writing_is_not_automated() -> None:
    assert not parse_email(mail(Auto_Submitted="no", Precedence="normal"), OPTIONS).automated


def test_replies_carry_references_and_the_ticket_token() -> None:
    key = "0123456789abcdef0123456789abcdef"
    m = parse_email(
        mail(Subject="Re: Printer [#42]", In_Reply_To=f"<{key}@frontdesk.test>", References=f"<first@example.com> <{key}@frontdesk.test>"),
        OPTIONS,
    )
    assert m.ticket_number == 42
    assert m.references == ("first@example.com", f"{key}@frontdesk.test", f"out:{key}")


def outbound(**kw: object) -> OutboundMessage:
    values: dict[str, object] = {
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "recipient": Recipient(address="ana@example.com", name="Ana Pérez", email="ana@example.com", language="es"),
        "text": "Hola <Ana> & co\n\nSegunda línea",
        "subject": "Impresora",
        "references": ("first@example.com", "out:abc", "sha256:ff", "second@example.com"),
        "in_reply_to": "second@example.com",
        "author_name": "Luis",
        "ticket_number": 7,
    }
    values.update(kw)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def test_a_reply_is_multipart_threaded_and_on_our_domain() -> None:
    msg = compose(
        outbound(attachments=(OutboundAttachment("a.pdf", "application/pdf", b"%PDF"),)),
        sender="Support <support@example.com>",
        domain="frontdesk.test",
        templates=EmailTemplates(),
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<0123456789abcdef0123456789abcdef@frontdesk.test>"
    assert parsed["In-Reply-To"] == "<second@example.com>"
    assert parsed["References"] == "<first@example.com> <second@example.com>"
    assert parsed["Subject"] == "Re: Impresora [#7]" and parsed["From"] == "Support <support@example.com>"
    assert "ana@example.com" in parsed["To"] and parsed["Auto-Submitted"] is None
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "Hola <Ana> & co" in text and "Solicitud #7" in text
    assert "Hola &lt;Ana&gt; &amp; co" in html and "<script" not in html
    assert [p.get_filename() for p in parsed.iter_attachments()] == ["a.pdf"]


def test_a_system_message_is_marked_auto_replied() -> None:
    msg = compose(outbound(author_name=None), sender="support@example.com", domain="frontdesk.test", templates=EmailTemplates())
    assert msg["Auto-Submitted"] == "auto-replied"


def test_reply_subject_keeps_one_re_and_one_token() -> None:
    assert reply_subject("Re: Printer [#7]", 7) == "Re: Printer [#7]"
    assert reply_subject("AW: Drucker", None) == "AW: Drucker"
    assert reply_subject(None, None) == "Re: your message" and reply_subject("", 3, "es") == "Re: su mensaje [#3]"


def test_a_recipient_that_is_not_an_address_is_refused() -> None:
    with pytest.raises(ValueError):
        compose(outbound(recipient=Recipient(address="12345")), sender="s@example.com", domain="d", templates=EmailTemplates())


def test_the_design_example_config_validates_with_secrets_from_the_environment() -> None:
    from inbox import config as config_module

    raw = {
        "server": {"secret_key": "x" * 20},
        "channels": [
            {
                "name": "support",
                "type": "email",
                "imap": {
                    "host": "imap.example.com",
                    "port": 993,
                    "security": "tls",
                    "user": "support@example.com",
                    "password": "env:IMAP_PASSWORD",
                    "folder": "INBOX",
                },
                "smtp": {
                    "host": "smtp.example.com",
                    "port": 587,
                    "security": "starttls",
                    "user": "support@example.com",
                    "password": "env:SMTP_PASSWORD",
                },
                "from": "Example Support <support@example.com>",
            }
        ],
    }
    config = config_module.parse(raw, "f.toml", {"IMAP_PASSWORD": "i", "SMTP_PASSWORD": "s"})
    [channel] = config.channels
    assert channel.imap.password == "i" and channel.smtp.password == "s"  # type: ignore[attr-defined]
    assert channel.from_address == "support@example.com"  # type: ignore[attr-defined]


def test_plain_connections_are_refused_off_loopback() -> None:
    from inbox import config as config_module
    from inbox.config import ConfigError

    raw = {
        "server": {"secret_key": "x" * 20},
        "channels": [
            {
                "name": "m",
                "type": "email",
                "from": "nobody",
                "imap": {"host": "imap.example.com", "security": "none"},
                "smtp": {"host": "127.0.0.1", "security": "none"},
            }
        ],
    }
    with pytest.raises(ConfigError) as error:
        config_module.parse(raw, "f.toml", {})
    text = str(error.value)
    assert "channels[0].imap" in text and "loopback" in text and "channels[0].from" in text
