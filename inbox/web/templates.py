"""The Jinja2 templates of every web page (agent UI, help center), set up once, and the
visitor's language from `Accept-Language`: what the web siblings share."""

from __future__ import annotations

import html as html_lib
from pathlib import Path

import nh3
from fastapi.templating import Jinja2Templates

import channels
from inbox.queries.contact_names import display_name_of
from routing.vocabulary import LANGUAGES

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "templates"))


def html_as_text(html: str | None) -> str:
    """A customer's HTML reduced to its text (then escaped by the template like any text)."""
    if not html:
        return ""
    return html_lib.unescape(nh3.clean(html, tags=set()))


TEMPLATES.env.globals["icon_of"] = channels.icon_of
TEMPLATES.env.globals["contact_name"] = display_name_of
TEMPLATES.env.filters["as_text"] = html_as_text


def pick_language(agent_language: str | None, accept_language: str | None, default: str) -> str:
    """The agent's own choice, else the browser's first known language, else `default`."""
    if agent_language in LANGUAGES:
        return agent_language
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return default if default in LANGUAGES else "en"
