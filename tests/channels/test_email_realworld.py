"""Real-world mail: 8-bit headers, mislabelled charsets, broken header blocks, senders
found elsewhere than From, bounces and receipts. Inputs are tests/channels/mail_corpus/
(written for these tests) and, when installed, CPython's own email test corpus."""

from __future__ import annotations

import base64
import re
from dataclasses import fields
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from channels.base import InboundMessage, OutboundMessage, Recipient
from channels.email_charsets import cjk_score, codec_for, decode, decode_iso2022jp, guess
from channels.email_compose import EmailTemplates, compose, display_name
from channels.email_parse import ParseOptions, parse_email, recovered_head
from tests.fixtures.services import require

CORPUS = Path(__file__).parent / "mail_corpus"
CPYTHON = Path("/usr/lib/python3.11/test/test_email/data")
OPTIONS = ParseOptions("frontdesk.test", frozenset({"support@example.com"}), max_attachment_bytes=50_000)


def parsed(name: str) -> InboundMessage:
    return parse_email((CORPUS / name).read_bytes(), OPTIONS)


def texts_of(message: InboundMessage) -> list[str]:
    """Every text field of a parsed message, meta values and filenames included."""
    out: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    for f in fields(message):
        if f.name not in ("raw", "attachments"):
            collect(getattr(message, f.name))
    for f in fields(message.sender):
        collect(getattr(message.sender, f.name))
    for attachment in message.attachments:
        collect([attachment.filename, attachment.content_type, attachment.content_id])
    return out


def assert_valid_unicode(message: InboundMessage) -> None:
    for text in texts_of(message):
        text.encode("utf-8")  # raises on a lone surrogate


@pytest.mark.parametrize(
    ("name", "address", "sender_name", "subject", "text"),
    [
        (
            "from-latin1-8bit.eml",
            "jose@example.es",
            "José Núñez",
            "Pedido retrasado",
            "¿Dónde está mi pedido?",
        ),
        (
            "from-gb2312-8bit.eml",
            "zhang.wei@example.cn",
            "张伟",
            "订单查询",
            "您好，我的订单还没有收到。",
        ),
        (
            "from-shift-jis-8bit.eml",
            "yamada@example.jp",
            "山田太郎",
            "注文について",
            "こんにちは、注文の確認をお願いします。",
        ),
        (
            "gbk-labelled-gb2312.eml",
            "li@example.cn",
            "Li",
            "镕基的订单",
            "朱镕基先生的订单，请查收。瑠",
        ),
        (
            "no-charset-gbk.eml",
            "wang@example.cn",
            "Wang",
            "no charset",
            "您好，我的订单号码是一二三，请帮我查一下，谢谢。",
        ),
        ("iso-2022-jp-nec.eml", "suzuki@example.jp", "鈴木", "Ⅰ", "注文番号①②"),
        (
            "subject-8bit.eml",
            "ana@example.com",
            None,
            "Factura de diciembre — año 2024",
            "Adjunto.",
        ),
        (
            "no-from-sender-chain.eml",
            "robot@example.net",
            "Help Desk Robot",
            "no From at all",
            "Text.",
        ),
        ("no-from-return-path.eml", "carla@example.net", None, "only a return path", "Text."),
        ("two-from-first-junk.eml", "marta@example.es", "Marta Ruiz", "two From headers", "Hola."),
        (
            "broken-continuation.eml",
            "pia@example.de",
            "Pia",
            "This subject was folded without indentation by a broken mailer",
            "Body text.",
        ),
        (
            "broken-continuation-before-from.eml",
            "pia@example.de",
            "Pia",
            "folded badly",
            "Body text.",
        ),
        ("junk-first-line.eml", "pia@example.de", "Pia", "mbox line first", "Body."),
        ("garbage-first-line.eml", "pia@example.de", "Pia", "garbage first", "Body."),
        ("trailing-dot-address.eml", "claudia.shu@yahoo.com", "Clement.Si", "trailing dot", "Hi."),
        ("comment-name.eml", "luis@example.mx", "Luis Garcia", "comment name", "Hi."),
    ],
)
def test_real_world_headers_give_the_sender_subject_and_text(
    name: str, address: str, sender_name: str | None, subject: str, text: str
) -> None:
    message = parsed(name)
    assert (message.sender.address, message.sender.email) == (address, address)
    assert message.sender.name == sender_name
    assert message.subject == subject
    assert message.text == text
    assert_valid_unicode(message)


def test_a_display_name_is_never_read_as_addresses() -> None:
    # The name decodes to "Support team\r\nCc: victim@example.com": only <…> is the sender.
    message = parsed("display-name-injection.eml")
    assert message.sender.address == "attacker@attacker.example"
    assert message.sender.name == "Support team Cc: victim@example.com"
    assert message.meta["cc"] == []


def test_a_display_name_with_an_address_inside_does_not_change_the_sender() -> None:
    raw = b'From: "victim@example.com" <attacker@attacker.example>\r\nFrom: victim@example.com\r\nSubject: x\r\n\r\nx\r\n'
    assert parse_email(raw, OPTIONS).sender.address == "attacker@attacker.example"
    word = base64.b64encode(b"<victim@example.com>, ").decode()
    raw = f"From: =?utf-8?b?{word}?= <attacker@attacker.example>\r\nSubject: x\r\n\r\nx\r\n".encode()
    assert parse_email(raw, OPTIONS).sender.address == "attacker@attacker.example"


def test_an_address_without_at_is_not_a_contact_address() -> None:
    raw = b"From: postmaster\r\nReply-To: Real Person <real@example.com>\r\nSubject: x\r\n\r\nx\r\n"
    assert parse_email(raw, OPTIONS).sender.address == "real@example.com"
    with pytest.raises(ValueError):
        parse_email(b"From: nobody-here\r\nSubject: x\r\n\r\nx\r\n", OPTIONS)


def test_a_bounce_from_the_empty_sender_is_stored_as_the_mailer_daemon() -> None:
    message = parsed("bounce-null-from.eml")
    assert message.sender.address == "mailer-daemon@mx1.example.org"  # the domain from Received
    assert message.sender.name == "Mail Delivery System"
    assert message.automated and message.meta["automated_reason"].startswith("bounce:")
    assert message.meta["bounce"] == {
        "recipients": [
            {
                "address": "bob@example.org",
                "action": "failed",
                "status": "5.1.1",
                "diagnostic": "host mx.example.org [192.0.2.20] SMTP error from remote mail server after RCPT TO:<bob@example.org>: "
                "550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown",
            }
        ],
        "original_message_id": "<0123456789abcdef0123456789abcdef@frontdesk.test>",
    }
    # The returned copy's headers are what an agent needs: not cut as quoted history.
    assert "Subject: Re: Your order [#12]" in message.text


def test_a_bounce_with_only_a_message_id_domain() -> None:
    raw = b"From: <>\r\nSubject: Returned mail: see transcript\r\nMessage-ID: <x1@relay.example.net>\r\n\r\nThe following addresses had permanent fatal errors\r\n"
    message = parse_email(raw, OPTIONS)
    assert message.sender.address == "mailer-daemon@relay.example.net" and message.automated


def test_a_delivery_status_report_is_readable_and_its_facts_are_in_meta() -> None:
    message = parsed("delivery-status.eml")
    assert message.automated and message.meta["automated_reason"] == "delivery status report"
    for line in (
        "Reporting-MTA: dns; googlemail.com",
        "Final-Recipient: rfc822; nobody@example.org",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist.",
        "Final-Recipient: rfc822; other@example.org",
        "Action: delayed",
    ):
        assert line in message.text
    assert "  From: Support <support@example.com>" in message.text  # the indented block stays
    bounce = message.meta["bounce"]
    assert bounce["original_message_id"] == "<fedcba9876543210fedcba9876543210@frontdesk.test>"
    assert bounce["recipients"] == [
        {
            "address": "nobody@example.org",
            "action": "failed",
            "status": "5.1.1",
            "diagnostic": "550 5.1.1 The email account that you tried to reach does not exist.",
        },
        {
            "address": "other@example.org",
            "action": "delayed",
            "status": "4.4.1",
            "diagnostic": "421 4.4.1 try later",
        },
    ]
    assert [a.filename for a in message.attachments] == ["Re_ Printer _7_.eml"]


def test_a_delay_report_is_automated_but_no_bounce() -> None:
    message = parsed("delivery-delayed.eml")
    assert message.automated and "bounce" not in message.meta
    assert "Action: delayed" in message.text


def test_a_read_receipt_is_readable_automated_and_no_bounce() -> None:
    message = parsed("mdn-read-receipt.eml")
    assert message.automated and "bounce" not in message.meta
    assert "Disposition: manual-action/MDN-sent-manually; displayed" in message.text
    assert "Original-Message-ID: <0123456789abcdef0123456789abcdef@frontdesk.test>" in message.text


@pytest.mark.parametrize(
    ("name", "recipient", "original"),
    [
        (
            "bounce-subject-body-only.eml",
            "ghost@example.com",
            "<0123456789abcdef0123456789abcdef@frontdesk.test>",
        ),
        ("bounce-spanish.eml", "jorge@example.es", None),
        ("bounce-german.eml", None, None),
        ("bounce-french.eml", None, None),
    ],
)
def test_bounces_are_recognised_by_subject_and_body(name: str, recipient: str | None, original: str | None) -> None:
    message = parsed(name)
    assert message.automated and message.meta["automated_reason"].startswith("bounce:")
    bounce = message.meta["bounce"]
    assert [r["address"] for r in bounce["recipients"]] == ([recipient] if recipient else [])
    assert bounce["original_message_id"] == original


def test_a_customer_writing_undeliverable_is_not_a_bounce() -> None:
    message = parsed("customer-says-undeliverable.eml")
    assert not message.automated and "bounce" not in message.meta


def test_a_forward_keeps_the_forwarded_content() -> None:
    message = parsed("forwarded.eml")
    assert message.text.startswith("FYI") and "Please find invoice 123 attached. Total 40 EUR." in message.text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("quote-bottom-posted.eml", "Yes, it works again after the restart."),
        ("quote-outlook-french.eml", "Merci, c'est réglé."),
        ("quote-gmail-spanish.eml", "Ya llegó, gracias."),
        ("quote-german-outlook.eml", "Danke, jetzt geht es."),
    ],
)
def test_quoted_history_is_cut_in_real_mails(name: str, text: str) -> None:
    assert parsed(name).text == text


def test_8bit_and_encoded_attachment_names_are_decoded() -> None:
    message = parsed("attachment-8bit-filename.eml")
    assert [a.filename for a in message.attachments] == ["发票.pdf", "résumé.txt"]


def test_every_corpus_mail_parses_to_valid_unicode() -> None:
    files = sorted(CORPUS.glob("*.eml"))
    assert len(files) >= 30
    for path in files:
        assert_valid_unicode(parse_email(path.read_bytes(), OPTIONS))


def test_the_cpython_corpus_raises_only_value_error_and_gives_valid_unicode() -> None:
    require(CPYTHON.is_dir(), f"{CPYTHON} missing (apt-get install libpython3.11-testsuite)")
    parsed_count = 0
    for path in sorted(p for p in CPYTHON.iterdir() if p.is_file()):
        raw = path.read_bytes()
        for variant in (raw, re.sub(rb"(?<!\r)\n", b"\r\n", raw)):
            try:
                message = parse_email(variant, OPTIONS)
            except ValueError:
                continue
            assert_valid_unicode(message)
            parsed_count += 1
    assert parsed_count >= 70


def test_recovering_a_sound_header_block_changes_nothing() -> None:
    raw = b"From: a@example.com\r\nSubject: x\r\n  folded\r\n\r\nbody\r\nnot: a header\r\n"
    assert recovered_head(raw) is raw


# -- charsets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("ks_c_5601-1987", "cp949"),
        ("euc-kr", "cp949"),
        ("Shift_JIS", "cp932"),
        ("sjis", "cp932"),
        ("iso-8859-1", "cp1252"),
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("ascii", "cp1252"),
        ('"ISO-2022-JP"', "iso-2022-jp"),
        ("utf8", "utf-8"),
        ("koi8-r", "koi8-r"),
        ("x-no-such-charset", None),
        ("unicode-escape", None),
        ("base64", None),
    ],
)
def test_charset_labels_follow_the_whatwg_supersets(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_iso_2022_jp_decodes_nec_extensions_and_agrees_with_the_standard_codec() -> None:
    plain = "日本語のテキスト、漢字とかな。\nABC 二行目 ｱｲｳ"
    assert decode_iso2022jp(plain.encode("iso2022_jp_ext")) == plain
    nec = b"\x1b$B\x2d\x21\x2d\x22\x2d\x35\x2d\x6a\x1b(B"  # row 13: ① ② Ⅰ ㈱
    assert decode(nec, "iso-2022-jp") == "①②Ⅰ㈱"
    assert decode(b"\x1b$B\x30\x21\xff\x1b(B", "iso-2022-jp") == "亜\ufffd"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("您好，我的订单还没有收到，请帮我查一下。", "gb18030"),
        ("张伟", "gb18030"),
        ("こんにちは、山田です。", "cp932"),
        ("山田太郎", "cp932"),
        ("안녕하세요, 주문 확인 부탁드립니다.", "cp949"),
        ("김철수", "cp949"),
        ("您好，我的訂單還沒有收到，請幫我查一下。", "big5hkscs"),
        ("Grüße aus Köln", "cp1252"),
        ("José Núñez", "cp1252"),
    ],
)
def test_undeclared_bytes_are_guessed_by_plausibility(text: str, codec: str) -> None:
    encodings = {
        "gb18030": "gb2312",
        "cp932": "cp932",
        "cp949": "cp949",
        "big5hkscs": "big5",
        "cp1252": "latin-1",
    }
    data = text.encode(encodings[codec])
    assert guess(data) == codec
    assert decode(data, None) == text


def test_mis_decoded_cjk_scores_low() -> None:
    japanese = "こんにちは、注文の確認をお願いします。".encode("cp932")
    assert cjk_score(japanese.decode("cp932"), "cp932") > 1.5
    assert cjk_score(japanese.decode("gb18030"), "gb18030") < 0.5


def test_a_declared_charset_is_kept_until_clearly_wrong() -> None:
    assert decode("café".encode(), "us-ascii") == "café"  # a mailer's default label on UTF-8
    assert decode(b"caf\xe9 \x81", "iso-8859-1") == "café \x81"  # Windows-1252's holes as C1
    chinese = "您好，我的订单还没有收到，请帮我查一下，谢谢您的帮助。"
    assert decode(chinese.encode("gbk") + b"\xff", "gb2312") == chinese + "\ufffd"  # one bad byte: kept
    assert decode(chinese.encode("utf-8"), "shift_jis") == chinese  # labelled Shift_JIS, sent UTF-8
    assert decode(chinese.encode("gbk"), "euc-jp") == chinese  # clearly wrong label: guessed


# -- composing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Ana\x0bPérez",
        "Ana\x0cPérez",
        "Ana\x00Pérez",
        "Ana\r\nBcc: evil@attacker.example",
        "Ana\u2028Bcc: evil@attacker.example",
        "Ana\x1c\x1d\x1e\x85",
    ],
)
def test_a_contact_name_with_control_characters_cannot_break_or_inject_a_reply(name: str) -> None:
    outbound = OutboundMessage(
        idempotency_key="0123456789abcdef0123456789abcdef",
        recipient=Recipient(address="ana@example.com", name=name),
        text="Hola",
        subject="Pedido",
        author_name="Luis",
    )
    data = compose(outbound, sender="support@example.com", domain="frontdesk.test", templates=EmailTemplates()).as_bytes()
    parsed_reply = message_from_bytes(data, policy=policy.default)
    assert [a.addr_spec for a in parsed_reply["To"].addresses] == ["ana@example.com"]
    assert parsed_reply["Bcc"] is None and parsed_reply["Cc"] is None
    assert not re.search(rb"(?im)^bcc:", data)
    assert display_name(name) is not None and not re.search(r"[\x00-\x1f\x85\u2028]", display_name(name) or "")
