"""Cursors we did not make: `pagination.decode` answers each with a 400 (never another
exception), accepts only the shape the list endpoints can use, and the endpoints answer
crafted cursors with a JSON 400 instead of a 500."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from inbox.web import pagination
from inbox.web.errors import ApiError
from tests.fixtures.inbox import Api

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

every_char = st.characters(codec=None, exclude_categories=())  # surrogates and all
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(every_char, max_size=30)
    | st.datetimes(timezones=st.none() | st.timezones()).map(dt.datetime.isoformat)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def as_cursor(value: Any) -> str:
    return b64(json.dumps(value).encode())


cursors = (
    st.text(every_char, max_size=80)
    | json_values.map(as_cursor)
    | st.lists(scalars, min_size=1, max_size=3).map(as_cursor)
    | st.binary(max_size=60).map(b64)
)

DEEP = b64(b"[" * 3000 + b"]" * 3000)


def check_decoded(cursor: str, arity: int) -> None:
    try:
        values = pagination.decode(cursor, arity)
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "bad_request"
        return
    if not cursor:
        assert values is None  # no cursor: the first page
        return
    assert values is not None and len(values) == arity
    *stamps, last = values
    # What the list endpoints do with an accepted cursor must work.
    assert isinstance(last, int) and 0 <= last < 2**63
    for stamp in stamps:
        parsed = dt.datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == dt.timedelta(0)
        parsed.astimezone(dt.UTC)


@FUZZ
@given(cursors, st.sampled_from([1, 2]))
@example(DEEP, 1)
@example(as_cursor(["not a date", 5]), 2)
@example(as_cursor(["2024-01-01T00:00:00", 5]), 2)  # naive
@example(as_cursor(["0001-01-01T00:00:00+05:00", 5]), 2)
@example(as_cursor(["x"]), 1)
@example(as_cursor([2**63]), 1)
@example(as_cursor([10**5000 // 10**4990]), 1)
@example(b64(b"[" + b"9" * 5000 + b"]"), 1)
@example(b64(b'["\\udc80", 1]'), 2)
@example("ñ" * 10, 1)
def test_any_cursor_decodes_to_a_usable_shape_or_is_a_400(cursor: str, arity: int) -> None:
    check_decoded(cursor, arity)


@FUZZ
@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), timezones=st.just(dt.UTC)),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_every_cursor_we_make_decodes_to_what_it_holds(at: dt.datetime, row_id: int) -> None:
    assert pagination.decode(pagination.encode([at.isoformat(), row_id]), 2) == [
        at.isoformat(),
        row_id,
    ]
    assert pagination.decode(pagination.encode([row_id]), 1) == [row_id]


CONVERSATIONS = "/api/v1/conversations"
CRAFTED = [
    (CONVERSATIONS, as_cursor(["not a date", 5])),
    (CONVERSATIONS, as_cursor(["2024-01-01T00:00:00", 5])),  # naive: no UTC offset
    (CONVERSATIONS, as_cursor(["2024-01-01T00:00:00+00:00", "5"])),
    (CONVERSATIONS, as_cursor(["0001-01-01T00:00:00+05:00", 5])),
    (CONVERSATIONS, b64(b'["\\udc80", 1]')),
    (CONVERSATIONS, DEEP),
    ("/api/v1/tickets", as_cursor(["x"])),
    ("/api/v1/tickets", as_cursor([2**64])),
    ("/api/v1/conversations/1/messages", as_cursor(["x"])),
    ("/api/v1/conversations/1/messages", DEEP),
]


@pytest.mark.parametrize(("path", "cursor"), CRAFTED)
async def test_crafted_cursors_get_a_json_400_from_the_list_endpoints(api: Api, path: str, cursor: str) -> None:
    response = await api.client.get(path, params={"cursor": cursor}, headers=api.auth(api.admin_token))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "bad_request"
