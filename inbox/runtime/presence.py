"""Who else has a conversation open, and who is typing: short-lived, never stored.

Browsers report every few seconds; an entry not refreshed within `TTL` is gone. Each
report is also a `presence` signal on the event bus, and every node's board records the
others' signals, so with several web nodes (and a Redis bus) agents see each other
whichever node serves them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TTL = 12.0


@dataclass(frozen=True, slots=True)
class Presence:
    name: str
    typing: bool


class PresenceBoard:
    def __init__(self) -> None:
        self._seen: dict[int, dict[int, tuple[str, bool, float]]] = {}
        self.following: Callable[[], None] | None = None  # the bus subscription, once made

    def report(self, conversation_id: int, agent_id: int, name: str, typing: bool) -> None:
        now = time.monotonic()
        room = self._seen.setdefault(conversation_id, {})
        room[agent_id] = (name, typing, now + TTL)
        for other, (_, _, until) in list(room.items()):
            if until < now:
                del room[other]

    def leave(self, conversation_id: int, agent_id: int) -> None:
        self._seen.get(conversation_id, {}).pop(agent_id, None)

    def others(self, conversation_id: int, agent_id: int) -> list[Presence]:
        now = time.monotonic()
        room = self._seen.get(conversation_id, {})
        return [Presence(name, typing) for other, (name, typing, until) in sorted(room.items()) if other != agent_id and until >= now]

    def follow(self, on_signal: Callable[[Callable[[dict[str, Any]], None]], Callable[[], None]]) -> Callable[[], None]:
        """Record `presence` signals from every node (pass the bus's `on_signal`)."""

        def record(signal: dict[str, Any]) -> None:
            if signal.get("kind") != "presence":
                return
            conversation_id, agent_id, name = signal.get("conversation_id"), signal.get("agent_id"), signal.get("author")
            if not isinstance(conversation_id, int) or not isinstance(agent_id, int) or not isinstance(name, str):
                return
            if signal.get("state") == "gone":
                self.leave(conversation_id, agent_id)
            else:
                self.report(conversation_id, agent_id, name, typing=signal.get("state") == "typing")

        return on_signal(record)
