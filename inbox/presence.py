"""Who else has a conversation open, and who is typing: short-lived, in this node's memory.

Browsers report every few seconds; an entry not refreshed within `TTL` is gone. With
several web nodes an agent sees only the colleagues served by the same node.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

TTL = 12.0


@dataclass(frozen=True, slots=True)
class Presence:
    name: str
    typing: bool


class PresenceBoard:
    def __init__(self) -> None:
        self._seen: dict[int, dict[int, tuple[str, bool, float]]] = {}

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
