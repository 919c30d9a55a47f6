"""Hypothesis-generated Telegram updates, Slack events and widget frames into the real
parsers: each ends as a message, as "nothing for us" (None), or as the parser's own
bad-input error (which the adapters quarantine or answer with an error frame) — never any
other exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.base import InboundMessage
from channels.slack import read_event
from channels.telegram_updates import BotIdentity, UnreadableUpdate, read_update
from widget.gateway import FrameError, parse_frame

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=25
)


def shaped(keys: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts that look like the real thing (known keys, any values), mixed with noise."""
    return st.fixed_dictionaries({}, optional={k: v | json_values for k, v in keys.items()}) | st.dictionaries(
        st.text(max_size=12), json_values, max_size=6
    )


chats = shaped({"id": st.integers(), "type": st.sampled_from(["private", "group", "supergroup", "channel"]), "title": st.text(max_size=20)})
users = shaped(
    {
        "id": st.integers(),
        "is_bot": st.booleans(),
        "first_name": st.text(max_size=20),
        "username": st.text(max_size=20),
        "language_code": st.text(max_size=5),
    }
)
telegram_messages = shaped(
    {
        "message_id": st.integers(),
        "date": st.integers(),
        "chat": chats,
        "from": users,
        "text": st.text(max_size=80),
        "caption": st.text(max_size=40),
        "entities": st.lists(
            shaped({"type": st.sampled_from(["mention", "bot_command"]), "offset": st.integers(-5, 90), "length": st.integers(-5, 90)}),
            max_size=3,
        ),
        "photo": st.lists(
            shaped({"file_id": st.text(max_size=10), "file_size": st.integers(), "width": st.integers(), "height": st.integers()}),
            max_size=2,
        ),
        "document": shaped({"file_id": st.text(max_size=10), "file_name": st.text(max_size=20), "mime_type": st.text(max_size=20)}),
        "reply_to_message": shaped({"message_id": st.integers(), "chat": chats, "date": st.integers()}),
    }
)
telegram_updates = shaped(
    {"update_id": st.integers(), "message": telegram_messages, "edited_message": telegram_messages, "callback_query": json_values}
)

slack_events = shaped(
    {
        "type": st.sampled_from(["event_callback", "url_verification"]),
        "team_id": st.text(max_size=10),
        "event": shaped(
            {
                "type": st.sampled_from(["message", "app_mention", "reaction_added"]),
                "subtype": st.sampled_from(["bot_message", "message_changed", "file_share", "channel_join"]),
                "channel": st.sampled_from(["C123", "D42", ""]) | st.text(max_size=8),
                "channel_type": st.sampled_from(["im", "channel", "group"]),
                "user": st.text(max_size=10),
                "text": st.text(max_size=80),
                "ts": st.sampled_from(["1700000000.000100", "x", ""]) | st.text(max_size=20),
                "thread_ts": st.text(max_size=20),
                "files": st.lists(json_values, max_size=2),
                "message": json_values,
            }
        ),
    }
)


@FUZZ
@given(telegram_updates)
def test_telegram_updates(update: dict[str, Any]) -> None:
    for addressed in (True, False):
        try:
            read = read_update(update, BotIdentity(id=42, username="support_bot"), check_addressed=addressed)
        except UnreadableUpdate:
            continue
        if read is not None:
            assert isinstance(read.message, InboundMessage) and isinstance(read.update_id, int)
            assert "\x00" not in read.message.external_id


@FUZZ
@given(slack_events)
def test_slack_events(body: dict[str, Any]) -> None:
    try:
        message = read_event(body, {"C123"})
    except ValueError:
        return
    assert message is None or isinstance(message, InboundMessage)


@FUZZ
@given(json_values | st.text(max_size=200))
def test_widget_frames(value: Any) -> None:
    raw = value if isinstance(value, str) else json.dumps(value)
    try:
        frame = parse_frame(raw)
    except FrameError as exc:
        assert exc.code in {"bad_json", "bad_frame", "too_large"}
        return
    assert isinstance(frame, dict) and isinstance(frame["type"], str)


def test_widget_frames_over_the_size_limit_are_refused() -> None:
    try:
        parse_frame(json.dumps({"type": "message", "text": "x" * 20_000}))
    except FrameError as exc:
        assert exc.code == "too_large"
    else:
        raise AssertionError("a 20 KB frame was accepted")
