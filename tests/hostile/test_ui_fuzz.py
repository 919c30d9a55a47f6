"""Every browser route the app registers, fuzzed as an admin would never use it: hostile path
ids, query strings and form fields. No answer may be a 5xx, and every refusal on a browser page
is an HTML page (the API and the machine endpoints keep their JSON).

SQLite only: the walk is over a thousand requests, and what it checks (how the web layer parses
and refuses input) does not depend on the database; the bounds that would overflow a BIGINT are
the same in both, and tests/hostile/test_openapi_fuzz.py covers the API on SQLite the same way.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inbox.runtime.services import Services
from inbox.web.app import create_app
from tests.fixtures.databases import clone_sqlite
from tests.fixtures.inbox import add_agent, add_channel, inbound, make_config
from tests.fixtures.signin import form_csrf, sign_in

# Paths that are not pages for a browser: they answer JSON (or bytes) by contract.
MACHINE = ("/api/", "/hooks/", "/widget/", "/attachments/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs/")
PASSWORD = "a long password 1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def as_cursor(value: Any) -> str:
    return b64(json.dumps(value).encode())


# Already percent-encoded: they go into the URL as they are.
HOSTILE_SEGMENTS = [
    str(2**63),
    str(2**64),
    "-1",
    "0",
    "abc",
    "1e3",
    "9" * 10_000,
    "%00",
    "..%2F..%2Fetc%2Fpasswd",
    quote("ñandú-日本"),
    "%ED%A0%80",  # a lone surrogate, UTF-8 encoded as CESU would
    "%FF",
    "1.5",
    " 1",
]

CURSORS = [
    as_cursor(["not a date", 5]),
    as_cursor(["2024-01-01T00:00:00", 5]),
    as_cursor(["2024-01-01T00:00:00+00:00", "5"]),
    as_cursor(["0001-01-01T00:00:00+05:00", 5]),
    as_cursor(["2024-01-01T00:00:00+00:00", 2**63]),
    as_cursor([2**64]),
    b64(b'["\\udc80", 1]'),
    b64(b"[" * 3000 + b"]" * 3000),
    "%00",
    "x" * 5000,
]
QUERY_NAMES = (
    "q",
    "status",
    "view",
    "channel",
    "priority",
    "tag",
    "language",
    "kind",
    "page",
    "limit",
    "translation_of",
    "saved",
    "flash",
    "error",
    "sort",
)
QUERY_VALUES = [
    "x" * 20_000,
    "%00",
    "a%00b",
    "%ED%A0%80",
    "%ED%B2%80tail",
    "%FF%FE",
    str(2**64),
    "-1",
    "abc",
    quote('in"voice* OR ( NEAR/2 ^ "'),
    quote("../../etc/passwd"),
]
HOSTILE_QUERIES = [f"cursor={quote(c, safe='%')}" for c in CURSORS]
HOSTILE_QUERIES += ["&".join(f"{name}={value}" for name in QUERY_NAMES) for value in QUERY_VALUES[1:]]  # every name at once
HOSTILE_QUERIES += [f"{name}={QUERY_VALUES[0]}" for name in QUERY_NAMES]  # each alone, very long
HOSTILE_QUERIES += ["q=%00&q=two&view=mine&view=bogus", "cursor=&q=&status=", "%00=%00", "q"]

# Field values, percent-encoded as a browser's form would send them (and as none would).
HOSTILE_FIELDS = [
    "x" * 50_000,
    "%00",
    "a%00b",
    "%ED%A0%80",
    "%FF",
    str(2**63),
    "9" * 10_000,
    "-1",
    quote('{"a": [[[[{"b": null}]]]], "c": 1e999}'),
    quote("[" * 3000 + "]" * 3000),
    quote("{" + '"a":' * 10 + "1" + "}" * 10),
    quote("<script>alert(1)</script>"),
    "",
]
# Called by the page's own script (ui.js), which reads their JSON answers.
SCRIPT_CALLS = ("/conversations/{conversation_id}/presence",)
# Fields some pages read straight from the form (not declared as parameters).
READ_FROM_FORM = (
    "text",
    "status",
    "priority",
    "level",
    "assignee",
    "tags",
    "snooze",
    "next",
    "note",
    "internal",
    "then",
    "after_message_id",
    "anyway",
    "resnooze",
)


@dataclass
class Walk:
    client: httpx.AsyncClient
    app: FastAPI
    csrf: str = ""
    seen: int = 0
    failures: dict[tuple[str, str, int], str] = field(default_factory=dict)  # one example per route and status

    async def sign_in(self) -> None:
        self.client.cookies.clear()
        assert (await sign_in(self.client, "fuzz@example.com", PASSWORD)).status_code == 303
        self.csrf = form_csrf((await self.client.get("/")).text)

    async def call(self, method: str, template: str, url: str, body: bytes | None = None) -> httpx.Response:
        headers = {"content-type": "application/x-www-form-urlencoded"} if body is not None else {}
        response = await self.client.request(method, url, content=body, headers=headers)
        self.seen += 1
        where = f"{method} {url[:160]}{' body ' + body[:120].decode('latin-1') if body else ''} -> {response.status_code}"
        key = (method, template, response.status_code)
        if response.status_code >= 500:
            self.failures.setdefault(key, f"{where}: {response.text[:200]}")
        elif response.status_code >= 400 and not url.startswith(MACHINE) and template not in SCRIPT_CALLS:
            kind = response.headers.get("content-type", "")
            if not kind.startswith("text/html"):
                self.failures.setdefault(key, f"{where} is {kind!r}, not a page: {response.text[:200]}")

        if "/login" in response.headers.get("location", "") or method == "POST" and url in ("/logout", "/account/sessions/end"):
            await self.sign_in()  # the walk signed itself out: carry on signed in
        return response

    def report(self) -> str:
        return f"{len(self.failures)} routes and statuses wrong in {self.seen} requests:\n" + "\n".join(self.failures.values())


def routes(app: FastAPI) -> list[tuple[str, str, APIRoute]]:
    """(method, path template, route) of every HTTP route outside the API."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.path.startswith("/api/"):
            continue
        for method in sorted(route.methods):
            found.append((method, route.path, route))
    return found


def form_fields(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.body_params}
    for sub in dependant.dependencies:
        names |= form_fields(sub)
    return names


def fill(template: str, value: str, only: str | None = None) -> str:
    """The path with `value` for one parameter (or all), 1 for the others."""
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: value if only in (None, m.group(1)) else "1", template)


def encode_form(fields: dict[str, str]) -> bytes:
    return "&".join(f"{quote(name)}={value}" for name, value in fields.items()).encode()


@pytest.fixture
async def walk(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Walk]:
    services = Services.build(make_config(clone_sqlite(sqlite_template, tmp_path)))
    channel = await add_channel(services, "mail", "email")
    await services.ingestor.ingest(channel, [inbound(f"m{i}", sender=f"c{i}@example.com", subject=f"s{i}") for i in range(2)])
    await add_agent(services, "fuzz@example.com", role="admin", password=PASSWORD)
    app = create_app(services)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        walker = Walk(client, app)
        await walker.sign_in()
        yield walker
    await services.db.dispose()


async def test_hostile_path_parameters_never_cause_a_server_error(walk: Walk) -> None:
    paths = 0
    for method, template, _ in routes(walk.app):
        names = re.findall(r"\{(\w+)", template)
        if not names:
            continue
        paths += 1
        for name in names:
            for value in HOSTILE_SEGMENTS:
                body = encode_form({"csrf": walk.csrf}) if method == "POST" else None
                await walk.call(method, template, fill(template, value, name), body)
    assert paths >= 25, "the walk found the UI's id routes"
    assert not walk.failures, walk.report()


async def test_hostile_query_strings_never_cause_a_server_error(walk: Walk) -> None:
    for method, template, _ in routes(walk.app):
        if method != "GET" or template in ("/login/once/{token}",):
            continue
        for query in HOSTILE_QUERIES:
            await walk.call("GET", template, f"{fill(template, '1')}?{query}")
    assert walk.seen > 500
    assert not walk.failures, walk.report()


async def test_hostile_forms_never_cause_a_server_error(walk: Walk) -> None:
    posts = 0
    for method, template, route in routes(walk.app):
        if method != "POST" or template in ("/logout", "/account/sessions/end", "/login"):
            continue
        posts += 1
        url = fill(template, "1")
        names = sorted(form_fields(route.dependant) - {"csrf", "file"}) or list(READ_FROM_FORM)
        for n, value in enumerate(HOSTILE_FIELDS):
            await walk.call("POST", template, url, encode_form({"csrf": walk.csrf} | dict.fromkeys(names, value)))
            for name in names if len(names) > 1 and n % 2 else ():  # one bad field among absent ones (every other value)
                await walk.call("POST", template, url, encode_form({"csrf": walk.csrf, name: value}))
        await walk.call("POST", template, url, b"csrf=" + walk.csrf.encode() + b"&a[b][c]=1&&&=&%=%%&" + b"k=v&" * 200)
        too_big = await walk.call("POST", template, url, encode_form({"csrf": walk.csrf, names[0]: "x" * 1_100_000}))
        assert too_big.status_code == 413, too_big.text
    assert posts >= 30
    assert not walk.failures, walk.report()


async def test_unknown_paths_and_wrong_methods_are_pages_on_the_ui_and_json_on_the_api(walk: Walk) -> None:
    for url in ("/no/such/page", "/conversations/1/nope", "/admin/nothing"):
        page = await walk.client.get(url)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), page.text
        assert 'lang="en"' in page.text and "Not found" in page.text
    wrong = await walk.client.put("/conversations/1/reply")
    assert wrong.status_code == 405 and wrong.headers["content-type"].startswith("text/html"), wrong.text
    spanish = await walk.client.get(f"/conversations/{2**63}", headers={"accept-language": "es"})
    assert spanish.status_code == 404 and "No existe" in spanish.text
    api = await walk.client.get("/api/v1/nothing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    api_id = await walk.client.get(f"/api/v1/conversations/{2**63}")
    assert api_id.status_code in (401, 422) and "error" in api_id.json()
    help_page = await walk.client.get("/help/en/no-such-article")
    assert help_page.status_code == 404 and help_page.headers["content-type"].startswith("text/html")


surrogates = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@given(q=surrogates, cursor=surrogates, view=st.sampled_from(["", "mine", "unassigned", "all", "x"]) | surrogates)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_any_inbox_search_and_cursor_is_a_page(ui_client: Any, q: str, cursor: str, view: str) -> None:
    """Random text, surrogates and all, in the inbox's own parameters (encoded as a browser
    would, with surrogates escaped as their UTF-16 code units)."""
    query = "&".join(f"{k}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in (("q", q), ("cursor", cursor), ("view", view)))
    for url in (f"/?{query}", f"/inbox/rows?{query}"):
        response = ui_client.get(url)
        assert response.status_code < 500, f"{url} -> {response.status_code}: {response.text[:300]}"
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("text/html"), response.text


@pytest.fixture(scope="module")
def ui_client(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Any:
    """A signed-in starlette TestClient for the hypothesis test (sync, so hypothesis can drive it)."""
    import asyncio

    from starlette.testclient import TestClient

    url = clone_sqlite(sqlite_template, tmp_path_factory.mktemp("uifuzz"))
    services = Services.build(make_config(url))

    async def seed() -> None:
        channel = await add_channel(services, "mail", "email")
        await services.ingestor.ingest(channel, [inbound("h1", subject="Hello")])
        await add_agent(services, "hyp@example.com", role="admin", password=PASSWORD)
        await services.db.dispose()

    asyncio.run(seed())
    with TestClient(create_app(Services.build(make_config(url))), raise_server_exceptions=False) as client:
        form = client.get("/login").text
        signed = client.post(
            "/login", data={"email": "hyp@example.com", "password": PASSWORD, "csrf": form_csrf(form)}, follow_redirects=False
        )
        assert signed.status_code == 303
        yield client
