"""Auto-replies and customer notifications from Jinja2 text templates, in the contact's
language (English when we do not have theirs).

Templates live in templates/notifications as NAME.LANG.txt. An optional first line
"Subject: ..." followed by a blank line gives the subject (used by email). The loader
reads and compiles every file once, when it is built; rendering does no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from routing.language import DEFAULT, choose_language

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "templates" / "notifications"


_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_ES_MONTHS = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def format_when(value: object, language: str = DEFAULT) -> str:
    """A moment as people say it: "Monday 30 November at 09:00" / "lunes 30 de noviembre a
    las 09:00", in the datetime's own time zone. Strings pass through unchanged."""
    if not isinstance(value, dt.datetime):
        return "" if value is None else str(value)
    clock = value.strftime("%H:%M")
    if choose_language(language) == "es":
        day, month = _ES_DAYS[value.weekday()], _ES_MONTHS[value.month - 1]
        return f"{day} {value.day} de {month} a las {clock}"
    day, month = _EN_DAYS[value.weekday()], _EN_MONTHS[value.month - 1]
    return f"{day} {value.day} {month} at {clock}"


class UnknownTemplate(LookupError):
    def __init__(self, name: str, known: frozenset[str]) -> None:
        super().__init__(f"no notification template named {name!r}; known: {', '.join(sorted(known)) or 'none'}")
        self.name = name


@dataclass(frozen=True, slots=True)
class RenderedText:
    subject: str | None
    text: str
    language: str


def split_subject(rendered: str) -> tuple[str | None, str]:
    """ "Subject: Hi\\n\\nBody" -> ("Hi", "Body"); text without the header is all body."""
    first, newline, rest = rendered.lstrip("\n").partition("\n")
    if not first.startswith("Subject:"):
        return None, rendered.strip("\n") + "\n"
    return first.removeprefix("Subject:").strip() or None, rest.strip("\n") + "\n"


class NotificationTemplates:
    """Every NAME.LANG.txt of a directory, compiled; build once and share."""

    def __init__(self, directory: str | Path = DEFAULT_DIRECTORY, *, strict: bool = False) -> None:
        sources: dict[str, str] = {}
        self._languages: dict[str, set[str]] = {}
        for path in sorted(Path(directory).glob("*.*.txt")):
            name, language = path.name.removesuffix(".txt").rsplit(".", 1)
            sources[f"{name}.{language}"] = path.read_text(encoding="utf-8")
            self._languages.setdefault(name, set()).add(language)
        self._env = SandboxedEnvironment(
            loader=jinja2.DictLoader(sources),
            undefined=jinja2.StrictUndefined if strict else jinja2.Undefined,
            autoescape=False,  # plain text; HTML bodies are escaped where they are built
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["when"] = format_when
        # Compile now, so a broken template stops the daemon at start and not at send.
        self._compiled = {key: self._env.get_template(key) for key in sources}

    @property
    def names(self) -> frozenset[str]:
        """Template names (e.g. for validating rules' `auto_reply`)."""
        return frozenset(self._languages)

    def languages(self, name: str) -> frozenset[str]:
        return frozenset(self._languages.get(name, ()))

    def render(self, name: str, language: str | None, context: Mapping[str, Any]) -> RenderedText:
        """Render `name` in `language` (falling back to English, then any we have).

        The template also sees `language`, the one chosen. Datetimes are shown with the
        `when` filter in their own time zone: pass them in the calendar's local time."""
        available = self._languages.get(name)
        if not available:
            raise UnknownTemplate(name, self.names)
        fallback = DEFAULT if DEFAULT in available else sorted(available)[0]
        chosen = choose_language(language, available, default=fallback)
        subject, text = split_subject(self._compiled[f"{name}.{chosen}"].render({**context, "language": chosen}))
        return RenderedText(subject=subject, text=text, language=chosen)
