"""The conditions a rule can test, one small named check each (as Mailman's rules).

A check takes what the rule expects and the message snapshot, and returns None when the
message matches, or a short reason why not (shown by `frontdesk rules test`). A check may
raise `re.error` for a bad pattern; the rules engine turns that into a failed rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from routing.language import primary_tag
from routing.snapshot import MessageSnapshot

# Patterns run on at most this much text: a huge message costs no more than a long one.
# This does not tame a pathological pattern (nested quantifiers backtrack on short text
# too); rules are written by admins only, and `frontdesk rules test` shows their effect.
MAX_MATCH_CHARS = 100_000

Check = Callable[[Any, MessageSnapshot], "str | None"]


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile once per distinct pattern; raises re.error for a bad one."""
    return re.compile(pattern)


def _one_of(what: str, actual: str | None, expected: Sequence[str]) -> str:
    return f"{what} {actual!r} is not one of {', '.join(expected)}"


def channel(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    return None if m.channel in expected else _one_of("channel", m.channel, expected)


def channel_type(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    return None if m.channel_type in expected else _one_of("channel type", m.channel_type, expected)


def sender(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    """Globs on the sender's address or email, case-insensitive: "*@example.com"."""
    candidates = {a.casefold() for a in (m.sender_address, m.sender_email) if a}
    for glob in expected:
        if any(fnmatchcase(c, glob.casefold()) for c in candidates):
            return None
    return f"sender {m.sender_email or m.sender_address!r} matches none of {', '.join(expected)}"


def sender_domain(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    """The domain or any subdomain of it: "example.com" also matches "eu.example.com"."""
    domain = m.sender_domain
    if domain:
        for wanted in expected:
            wanted = wanted.strip().lstrip("@").casefold()
            if domain == wanted or domain.endswith("." + wanted):
                return None
    return _one_of("sender domain", domain, expected)


def contact_tags(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    """Any one of the tags."""
    have = {t.casefold() for t in m.contact_tags}
    if any(t.casefold() in have for t in expected):
        return None
    return f"contact has none of the tags {', '.join(expected)}"


def _search(pattern: str, text: str | None) -> bool:
    return compile_pattern(pattern).search((text or "")[:MAX_MATCH_CHARS]) is not None


def subject_matches(pattern: str, m: MessageSnapshot) -> str | None:
    return None if _search(pattern, m.subject) else f"subject does not match {pattern!r}"


def text_matches(pattern: str, m: MessageSnapshot) -> str | None:
    return None if _search(pattern, m.text) else f"text does not match {pattern!r}"


def language(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    """ "es" matches es, es-MX, es_AR; "es-MX" matches only es-MX."""
    actual = (m.language or "").strip().replace("_", "-").casefold()
    for wanted in expected:
        wanted = wanted.strip().replace("_", "-").casefold()
        if actual and (actual == wanted or primary_tag(actual) == wanted):
            return None
    return _one_of("language", m.language, expected)


def business_hours(expected: str, m: MessageSnapshot) -> str | None:
    actual = "in" if m.in_business_hours else "out"
    return None if actual == expected else f"received {actual} of business hours"


def conversation(expected: str, m: MessageSnapshot) -> str | None:
    actual = "new" if m.conversation_is_new else "existing"
    return None if actual == expected else f"the conversation is {actual}"


def automated(expected: bool, m: MessageSnapshot) -> str | None:
    if m.automated == expected:
        return None
    return "the message is automated" if m.automated else "the message is not automated"


def request_type(expected: Sequence[str], m: MessageSnapshot) -> str | None:
    """The request type the customer picked (the portal's or the widget's form), by name."""
    if m.request_type is not None and m.request_type.casefold() in {e.casefold() for e in expected}:
        return None
    return _one_of("request type", m.request_type, expected)


def fields(expected: Mapping[str, Sequence[str]], m: MessageSnapshot) -> str | None:
    """`field.<name>`: each named answer is one of the values (case-insensitive)."""
    for name, values in expected.items():
        actual = m.fields.get(name)
        if actual is None or actual.casefold() not in {v.casefold() for v in values}:
            return _one_of(f"field {name}", actual, values)
    return None


# In the order they are tested: cheap facts first, patterns last.
CHECKS: dict[str, Check] = {
    "channel": channel,
    "channel_type": channel_type,
    "conversation": conversation,
    "business_hours": business_hours,
    "automated": automated,
    "request_type": request_type,
    "field": fields,
    "language": language,
    "sender": sender,
    "sender_domain": sender_domain,
    "contact_tags": contact_tags,
    "subject_matches": subject_matches,
    "text_matches": text_matches,
}
