"""Search quality on a small bilingual help center (SQLite FTS5 and PostgreSQL full-text):
the expected article comes first, accents fold both ways, titles outrank bodies, drafts
never appear, and a half-typed word already finds its article."""

from __future__ import annotations

import pytest

from inbox.pipeline import articles
from inbox.queries import kb
from inbox.runtime.services import Services
from inbox.store import kb_search
from tests.inbox.store.kb_corpus import seed

# (language, what a customer types, translation key of the expected first result)
EXPECTED_FIRST = [
    ("en", "I forgot my password", "reset-password"),
    ("en", "password", "reset-password"),
    ("en", "where is my parcel? tracking", "shipping"),
    ("en", "how do I get a refund", "returns"),
    ("en", "invoice pdf", "invoices"),
    ("en", "authentication code", "two-factor"),
    ("en", "please delete my account", "delete-account"),
    ("en", "update my credit card", "payment-methods"),
    ("en", "changing email addresses", "change-email"),
    ("es", "olvidé mi contraseña", "reset-password"),
    ("es", "olvide mi contrasena", "reset-password"),
    ("es", "CONTRASEÑA", "reset-password"),
    ("es", "¿dónde está mi paquete?", "shipping"),
    ("es", "quiero un reembolso", "returns"),
    ("es", "devolucion", "returns"),
    ("es", "necesito la factura", "invoices"),
    ("es", "facturacion", "invoices"),
    ("es", "verificacion en dos pasos", "two-factor"),
    ("es", "eliminar la cuenta", "delete-account"),
    ("es", "cambiar tarjeta de crédito", "payment-methods"),
    ("es", "cambiar mi correo electronico", "change-email"),
]


@pytest.fixture
async def corpus(services: Services) -> dict[tuple[str, str], int]:
    return await services.db.run(seed)


async def keys_for(services: Services, query: str, language: str, **kw: bool) -> list[str]:
    async with services.db.read() as session:
        return [a.translation_key or "" for a in await kb.search(session, query, language, **kw)]


async def test_each_query_finds_the_expected_article_first_in_both_languages(
    services: Services, corpus: dict[tuple[str, str], int]
) -> None:
    misses = []
    for language, query, expected in EXPECTED_FIRST:
        found = await keys_for(services, query, language)
        if not found or found[0] != expected:
            misses.append(f"{language} {query!r}: expected {expected}, got {found[:3]}")
    assert not misses, "\n".join(misses)


async def test_accents_fold_both_ways(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    for query in ("contraseña", "contrasena", "Contraseñas", "CONTRASENAS"):
        assert (await keys_for(services, query, "es"))[0] == "reset-password", query
    for query in ("envío", "envio"):
        assert (await keys_for(services, query, "es"))[0] == "shipping", query


async def test_results_stay_in_the_asked_language(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    async with services.db.read() as session:
        assert {a.language for a in await kb.search(session, "password contraseña", "es")} == {"es"}
        assert {a.language for a in await kb.search(session, "password contraseña", "en")} == {"en"}


async def test_title_outranks_a_mention_in_the_body(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    # "password" is in the title of reset-password and only in the body of change-email.
    found = await keys_for(services, "password", "en")
    assert found.index("reset-password") < found.index("change-email")


async def test_drafts_are_not_found_unless_asked(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    for language, query in (("en", "secret pricing"), ("es", "precios secretos")):
        assert "secret-pricing" not in await keys_for(services, query, language)
        assert (await keys_for(services, query, language, published_only=False))[0] == "secret-pricing"


async def test_a_half_typed_word_finds_its_article(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    assert (await keys_for(services, "forgot my passw", "en", prefix=True))[0] == "reset-password"
    assert (await keys_for(services, "contraseñ", "es", prefix=True))[0] == "reset-password"
    assert (await keys_for(services, "reembo", "es", prefix=True))[0] == "returns"
    assert (await keys_for(services, "facturac", "es", prefix=True))[0] == "invoices"


async def test_nonsense_and_stop_words_find_nothing(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    assert await keys_for(services, "the and of", "en") == []
    assert await keys_for(services, "xyzzy", "en") == []
    assert await keys_for(services, "\"' OR 1=1 -- *:(", "es") == []
    assert await keys_for(services, "", "es") == []


async def test_an_edited_article_is_found_by_its_new_words_only(services: Services, corpus: dict[tuple[str, str], int]) -> None:
    article_id = corpus["invoices", "en"]
    draft = articles.ArticleDraft(
        "Receipts for tax",
        "Get a receipt for every order.",
        "en",
        "Billing",
        slug="invoices",
        status="published",
        translation_key="invoices",
    )
    await services.db.run(lambda conn: articles.update_article(conn, article_id, draft))
    assert (await keys_for(services, "receipts", "en"))[0] == "invoices"
    assert "invoices" not in await keys_for(services, "pdf", "en")


def test_folding_and_language_guess() -> None:
    assert kb_search.fold("Contraseña ÁÉÍÓÚ ü") == "contrasena aeiou u"
    assert kb_search.guess_language("¿Cómo cambio mi contraseña?") == "es"
    assert kb_search.guess_language("How do I change my password?") == "en"
    assert kb_search.guess_language("", default="es") == "es"
