"""The Jinja2 templates of every web page (agent UI, help center), set up once, and the
visitor's language from `Accept-Language`: what the web siblings share."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nh3
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

import channels
from inbox.queries.contact_names import display_name_of, is_visitor_key
from routing.vocabulary import LANGUAGES

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parents[2] / "templates"))


def html_as_text(html: str | None) -> str:
    """A customer's HTML reduced to its text (then escaped by the template like any text)."""
    if not html:
        return ""
    return html_lib.unescape(nh3.clean(html, tags=set()))


TEMPLATES.env.globals["icon_of"] = channels.icon_of


@pass_context
def contact_name(context: Any, contact: Any, visitor: str | None = None) -> str:
    """A contact's display name, "Visitor" in the page's own language (its `t`)."""
    t = context.get("t")
    return display_name_of(contact, visitor or (t("visitor") if t else "Visitor"))


@pass_context
def author_name(context: Any, author: Mapping[str, Any]) -> str:
    """Who wrote a message (its API `author`), in the page's language."""
    t = context.get("t")
    if author.get("type") == "contact" and author.get("visitor_number") is not None:
        return contact_name(context, author)
    return str(author.get("name") or (t("author_" + str(author.get("type"))) if t else author.get("type")))


@pass_context
def identity_address(context: Any, identity: Any) -> str:
    """An identity's username or address as an agent reads it (never a visitor's key)."""
    shown = str(getattr(identity, "username", None) or getattr(identity, "address", None) or "")
    t = context.get("t")
    return (t("visitor_anonymous") if t else "anonymous visitor") if is_visitor_key(shown) else shown


TEMPLATES.env.globals["contact_name"] = contact_name
TEMPLATES.env.globals["identity_address"] = identity_address
TEMPLATES.env.globals["author_name"] = author_name
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
