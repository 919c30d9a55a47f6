"""Which of our languages to speak to someone, from what their channel or profile says."""

from __future__ import annotations

from collections.abc import Collection

from routing.vocabulary import DEFAULT_LANGUAGE as DEFAULT
from routing.vocabulary import LANGUAGES

SUPPORTED: tuple[str, ...] = LANGUAGES


def primary_tag(language: str | None) -> str | None:
    """ "es-MX", "es_mx", " ES " -> "es"; None or blank -> None."""
    if language is None:
        return None
    tag = language.strip().replace("_", "-").split("-")[0].casefold()
    return tag or None


def choose_language(language: str | None, available: Collection[str] = SUPPORTED, default: str = DEFAULT) -> str:
    """The contact's language when we have it, else `default`."""
    tag = primary_tag(language)
    return tag if tag is not None and tag in available else default
