"""Quote stripping: what an agent sees of a mail, case by case (our own cases)."""

from __future__ import annotations

import pytest

from channels.email_quotes import shown_text

CASES: list[tuple[str, str, str]] = [
    ("plain", "Hello, my printer is broken.", "Hello, my printer is broken."),
    (
        "top posted on wrote",
        "Thanks!\n\nOn Mon, 3 Feb 2025 at 10:00, Support <s@example.com> wrote:\n> Try again",
        "Thanks!",
    ),
    ("on sent", "Fine.\n\nOn 03/02/2025 10:00, Support sent:\n> old", "Fine."),
    (
        "wrapped two lines",
        "Ok\n\nOn Mon, 3 Feb 2025 at 10:00, Support Team\n<support@example.com> wrote:\n> old",
        "Ok",
    ),
    (
        "wrapped three lines",
        "Ok\n\nOn Monday, 3 February 2025 at 10:00:00,\nSupport Team of Example Ltd\n<support@example.com> wrote:\n> old",
        "Ok",
    ),
    (
        "dashed attribution",
        "Got it\n\n---- On Mon, 03 Feb 2025 Ana <a@example.com> wrote ----\n\nold text",
        "Got it",
    ),
    ("dashed name wrote", "Got it\n\n---- Ana wrote ----\nold text", "Got it"),
    (
        "gmail date only",
        "Sure\n\n2025-02-03 10:00 GMT+01:00 Support <support@example.com>:\n> old",
        "Sure",
    ),
    (
        "gmail date only cjk",
        "好的\n\n2025年2月3日(月) 10:00 Support <support@example.com>:\n> old",
        "好的",
    ),
    (
        "gmail spanish",
        "Sí\n\nEl lun, 3 feb 2025 a las 10:00, Soporte (<s@example.com>) escribió:\n> hola",
        "Sí",
    ),
    (
        "gmail spanish wrapped",
        "Sí\n\nEl lun, 3 feb 2025 a las 10:00, Soporte (<s@example.com>)\nescribió:\n> hola",
        "Sí",
    ),
    (
        "german attribution",
        "Danke\n\nAm Mo., 3. Feb. 2025 um 10:00 Uhr schrieb Support <s@example.com>:\n> alt",
        "Danke",
    ),
    (
        "french attribution",
        "Merci\n\nLe lun. 3 févr. 2025 à 10:00, Support <s@example.com> a écrit :\n> ancien",
        "Merci",
    ),
    (
        "portuguese attribution",
        "Obrigado\n\nEm seg., 3 de fev. de 2025 às 10:00, Suporte <s@example.com> escreveu:\n> antigo",
        "Obrigado",
    ),
    (
        "english outlook",
        "Yes\n\nFrom: Support <s@example.com>\nSent: Monday, February 3, 2025 10:00 AM\nTo: Ana\nSubject: Printer\n\nold",
        "Yes",
    ),
    (
        "french outlook",
        "Oui\n\nDe : Support <s@example.com>\nEnvoyé : lundi 3 février 2025 10:00\nÀ : Luc\nObjet : Imprimante\n\nancien",
        "Oui",
    ),
    (
        "german outlook",
        "Ja\n\nVon: Support <s@example.com>\nGesendet: Montag, 3. Februar 2025 10:00\nAn: Pia\nBetreff: Drucker\n\nalt",
        "Ja",
    ),
    (
        "spanish outlook with rule",
        "Sí, gracias\n\n________________________________\nDe: Soporte\nEnviado: lunes\nPara: Ana\n\nold",
        "Sí, gracias",
    ),
    ("bold outlook html text", "Yes\n\n*From:* Support\n*Sent:* Monday\n*To:* Ana\n\nold", "Yes"),
    (
        "block opening with date",
        "Done\n\nDate: Mon, 3 Feb 2025 10:00:00 +0100\nFrom: Support <s@example.com>\nSubject: Printer\n\nold",
        "Done",
    ),
    ("original message separator", "Ok\n\n-----Original Message-----\nFrom: Support\nold", "Ok"),
    ("german separator", "Ok\n\n-----Ursprüngliche Nachricht-----\nVon: Support\nalt", "Ok"),
    (
        "bottom posted",
        "On Mon, 3 Feb 2025, Support <s@example.com> wrote:\n> Did it help?\n\nYes, it did.",
        "Yes, it did.",
    ),
    (
        "opens with quote no attribution",
        "> Did it help?\n\nYes, it did.",
        "> Did it help?\n\nYes, it did.",
    ),
    (
        "interleaved",
        "On Mon, Support <s@example.com> wrote:\n> What model?\nAn LX-200.\n> Since when?\nSince Friday.",
        "> What model?\nAn LX-200.\n> Since when?\nSince Friday.",
    ),
    (
        "interleaved without attribution",
        "> What model?\nAn LX-200.\n> Since when?\nSince Friday.\n> Thanks",
        "> What model?\nAn LX-200.\n> Since when?\nSince Friday.",
    ),
    ("trailing quote only", "My answer\n\n> old line\n> another", "My answer"),
    ("all quote kept whole", "> only a quote\n> here", "> only a quote\n> here"),
    ("only attribution kept whole", "On Mon, Support wrote:\n> hi", "On Mon, Support wrote:\n> hi"),
    ("signature dashes", "Thanks, that worked.\n\n-- \nAna\nACME Ltd", "Thanks, that worked."),
    (
        "signature and history",
        "Thanks.\n\n-- \nAna\n\nOn Mon, Support <s@example.com> wrote:\n> x",
        "Thanks.",
    ),
    ("mobile signature", "On my way\n\nSent from my iPhone", "On my way"),
    (
        "spanish mobile signature",
        "Voy\n\nEnviado desde mi iPhone\n\nEl lun, Ana escribió:\n> x",
        "Voy",
    ),
    ("french mobile signature", "J'arrive\n\nEnvoyé de mon iPhone", "J'arrive"),
    (
        "forward kept",
        "FYI\n\n---------- Forwarded message ---------\nFrom: Billing <b@vendor.example>\nDate: Mon, 3 Feb 2025\nSubject: Invoice\nTo: Ana\n\nInvoice attached.",
        "FYI\n\n---------- Forwarded message ---------\nFrom: Billing <b@vendor.example>\nDate: Mon, 3 Feb 2025\nSubject: Invoice\nTo: Ana\n\nInvoice attached.",
    ),
    (
        "apple forward kept",
        "See below\n\nBegin forwarded message:\n\nFrom: Bob\nSubject: Hi\n\nHello",
        "See below\n\nBegin forwarded message:\n\nFrom: Bob\nSubject: Hi\n\nHello",
    ),
    (
        "spanish forward kept",
        "Mira\n\n---------- Mensaje reenviado ---------\nDe: Bob\nFecha: lun\n\nHola",
        "Mira\n\n---------- Mensaje reenviado ---------\nDe: Bob\nFecha: lun\n\nHola",
    ),
    (
        "reply above a quoted forward",
        "Thanks\n\nOn Mon, Ana <a@example.com> wrote:\n> ---------- Forwarded message ---------\n> x",
        "Thanks",
    ),
    (
        "a sentence starting with on is kept",
        "On Monday the printer broke.\nIt still does not work.",
        "On Monday the printer broke.\nIt still does not work.",
    ),
    (
        "a from line in prose is kept",
        "From: the office, I cannot print.\nPlease help.",
        "From: the office, I cannot print.\nPlease help.",
    ),
    (
        "indented header block kept",
        "Report:\n\n  From: Support <s@example.com>\n  Subject: Printer\n  550 unknown user",
        "Report:\n\n  From: Support <s@example.com>\n  Subject: Printer\n  550 unknown user",
    ),
    ("crlf line ends", "Thanks!\r\n\r\nOn Mon, Support <s@example.com> wrote:\r\n> x", "Thanks!"),
]


@pytest.mark.parametrize(("text", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_shown_text(text: str, expected: str) -> None:
    assert shown_text(text) == expected
