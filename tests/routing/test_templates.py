"""Notification templates in English and Spanish, chosen by the contact's language."""

import datetime as dt

import pytest

from routing.templates import NotificationTemplates, UnknownTemplate, format_when, split_subject
from routing.tickets import NotificationEvent

EVENTS: tuple[NotificationEvent, ...] = ("created", "in_progress", "resolved", "reopened", "closed")


@pytest.fixture(scope="module")
def templates():
    return NotificationTemplates(strict=True)  # strict: a misspelt variable fails the test


AUTO_REPLY = dict(contact_name="Ana", subject="Invoice", ticket_number=42, in_business_hours=True, next_open=None)


def test_the_shipped_templates_are_auto_reply_and_ticket_status_in_both_languages(templates):
    assert templates.names == {"auto_reply", "ticket_status"}
    for name in templates.names:
        assert templates.languages(name) == {"en", "es"}


@pytest.mark.parametrize(
    ("language", "chosen"),
    [("es", "es"), ("es-MX", "es"), ("en-GB", "en"), ("fr", "en"), (None, "en")],
)
def test_the_contact_language_picks_the_template_with_english_as_fallback(templates, language, chosen):
    assert templates.render("auto_reply", language, AUTO_REPLY).language == chosen


def test_auto_reply_in_english_has_a_subject_and_a_greeting(templates):
    r = templates.render("auto_reply", "en", AUTO_REPLY)
    assert r.subject == "We received your message: Invoice"
    assert r.text.startswith("Hello Ana,\n\n")
    assert "opened request #42" in r.text
    assert "will answer you shortly" in r.text
    assert "{" not in r.text and "Subject:" not in r.text


def test_auto_reply_in_spanish(templates):
    r = templates.render("auto_reply", "es", AUTO_REPLY)
    assert r.subject == "Hemos recibido tu mensaje: Invoice"
    assert r.text.startswith("Hola Ana:\n\n")
    assert "solicitud n.º 42" in r.text


def test_auto_reply_out_of_hours_says_when_we_open_in_the_contact_language(templates):
    ctx = AUTO_REPLY | {"in_business_hours": False, "next_open": dt.datetime(2026, 11, 30, 9, 0)}
    assert "we will answer you from Monday 30 November at 09:00." in templates.render("auto_reply", "en", ctx).text
    assert "a partir del lunes 30 de noviembre a las 09:00." in templates.render("auto_reply", "es", ctx).text


def test_auto_reply_without_name_subject_or_ticket(templates):
    ctx = dict(contact_name=None, subject=None, ticket_number=None, in_business_hours=True, next_open=None)
    r = templates.render("auto_reply", "en", ctx)
    assert r.subject == "We received your message"
    assert r.text.startswith("Hello,\n")
    assert "#" not in r.text


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("kind", ["request", "incident"])
def test_every_status_notification_renders_with_the_ticket_number(templates, language, event, kind):
    ctx = dict(event=event, ticket_number=7, ticket_kind=kind, ticket_title="VPN", contact_name="Ana")
    r = templates.render("ticket_status", language, ctx)
    assert r.subject and "7" in r.subject and r.subject.endswith(": VPN")
    assert "7" in r.text
    word = {
        ("en", "request"): "request",
        ("en", "incident"): "incident",
        ("es", "request"): "solicitud",
        ("es", "incident"): "incidencia",
    }
    assert word[(language, kind)] in r.text


def test_status_notifications_say_what_happened(templates):
    def text(event, language="en"):
        ctx = dict(
            event=event,
            ticket_number=7,
            ticket_kind="request",
            ticket_title=None,
            contact_name=None,
        )
        return templates.render("ticket_status", language, ctx)

    assert text("resolved").subject == "Request #7 is resolved"
    assert "reply to this message and we will reopen it" in text("resolved").text
    assert text("reopened").subject == "Request #7 is open again"
    assert text("closed", "es").subject == "La solicitud n.º 7 está cerrada"
    assert text("in_progress", "es").subject == "Estamos trabajando en la solicitud n.º 7"


def test_each_paragraph_is_separated_by_one_blank_line(templates):
    r = templates.render(
        "ticket_status",
        "en",
        dict(
            event="created",
            ticket_number=1,
            ticket_kind="request",
            ticket_title=None,
            contact_name="A",
        ),
    )
    assert "\n\n\n" not in r.text
    assert r.text.endswith("The support team\n")
    assert r.text.count("\n\n") == 2


def test_unknown_template_names_are_an_error_listing_the_known_ones(templates):
    with pytest.raises(UnknownTemplate, match="known: auto_reply, ticket_status"):
        templates.render("welcome", "en", {})


def test_a_template_only_in_spanish_is_used_for_everyone(tmp_path):
    (tmp_path / "hola.es.txt").write_text("Hola {{ name }}\n")
    t = NotificationTemplates(tmp_path)
    r = t.render("hola", "en", {"name": "Ana"})
    assert (r.language, r.subject, r.text) == ("es", None, "Hola Ana\n")


def test_templates_are_read_once_when_the_loader_is_built(tmp_path):
    path = tmp_path / "note.en.txt"
    path.write_text("first\n")
    t = NotificationTemplates(tmp_path)
    path.write_text("second\n")
    assert t.render("note", "en", {}).text == "first\n"


def test_a_broken_template_fails_when_the_loader_is_built(tmp_path):
    (tmp_path / "bad.en.txt").write_text("{% if %}\n")
    with pytest.raises(Exception, match="Expected an expression"):
        NotificationTemplates(tmp_path)


def test_templates_run_sandboxed(tmp_path):
    (tmp_path / "evil.en.txt").write_text("{{ ''.__class__.__mro__ }}\n")
    t = NotificationTemplates(tmp_path)
    with pytest.raises(Exception, match="unsafe|access"):
        t.render("evil", "en", {})


def test_split_subject():
    assert split_subject("Subject: Hi\n\nBody\n") == ("Hi", "Body\n")
    assert split_subject("Body only") == (None, "Body only\n")
    assert split_subject("Subject:\n\nBody") == (None, "Body\n")


def test_format_when_passes_strings_through_and_blanks_none():
    assert format_when("tomorrow") == "tomorrow"
    assert format_when(None) == ""
    assert format_when(dt.datetime(2026, 12, 6, 18, 5), "es-AR") == "domingo 6 de diciembre a las 18:05"
