"""The agent UI speaks English and Spanish: every text exists in both."""

from __future__ import annotations

from inbox.web.ui.i18n import LANGUAGES, TEXT


def test_every_ui_text_has_each_language() -> None:
    assert set(TEXT) == set(LANGUAGES)
    english = set(TEXT["en"])
    for language in LANGUAGES:
        assert set(TEXT[language]) == english, sorted(set(TEXT[language]) ^ english)
        assert all(value.strip() for value in TEXT[language].values())
