"""Send pacing for a Telegram bot: at most one message a second per chat, 30 a second per bot.

Each send reserves the next free slot (per chat and for the whole bot) before it waits,
so concurrent sends to one chat go out spaced and in the order they asked. A slot
further away than `max_wait` is not waited for: the send is told to come back a little
before it, which frees the outbox worker instead of holding it, and the slot stays
booked under the send's key, so a burst to one chat drains in order and each send is
put off once, not again and again. A 429 pushes the chat's next slot to the time
Telegram gave.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    per_chat_interval: float = 1.0  # seconds between two messages to one chat
    # Messages per second over all chats: a little under Telegram's 30, because a timer
    # that wakes late bunches the sends after it.
    per_bot_rate: float = 27.0
    max_wait: float = 5.0  # longer than this: retry later instead of waiting
    come_back_early: float = 1.5  # a put-off send returns this long before its slot


class TooSoon(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit: next slot in {retry_after:.1f}s")
        self.retry_after = retry_after


class SendPacer:
    def __init__(self, limits: Limits = Limits(), clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._chat_next: dict[int | str, float] = {}
        self._bot_slots: list[float] = []  # reserved send times, sorted
        self._booked: dict[str, tuple[int | str, float]] = {}  # send key -> (chat, slot)

    def reserve(self, chat_id: int | str, key: str | None = None) -> float:
        """Reserve a slot for one message to `chat_id`; returns the seconds to wait for it.

        Raises TooSoon when the slot is more than `max_wait` away; with a `key` the slot
        stays booked for the send that comes back with the same key.
        """
        now = self._clock()
        self._forget_past(now)
        booked = self._booked.pop(key, None) if key is not None else None
        if booked is not None and booked[0] == chat_id and booked[1] >= now:
            return booked[1] - now
        slot = self._free_bot_slot(max(now, self._chat_next.get(chat_id, 0.0)))
        if slot - now > self.limits.max_wait and key is None:
            raise TooSoon(slot - now)
        self._chat_next[chat_id] = slot + self.limits.per_chat_interval
        bisect.insort(self._bot_slots, slot)
        if slot - now > self.limits.max_wait:
            assert key is not None
            self._booked[key] = (chat_id, slot)
            raise TooSoon(slot - now - self.limits.come_back_early)
        return slot - now

    def hold(self, chat_id: int | str, seconds: float) -> None:
        """Telegram said 429: nothing to this chat for `seconds`."""
        until = self._clock() + seconds
        self._chat_next[chat_id] = max(self._chat_next.get(chat_id, 0.0), until)
        for key in [k for k, (chat, slot) in self._booked.items() if chat == chat_id and slot < until]:
            del self._booked[key]

    def _free_bot_slot(self, wanted: float) -> float:
        """The earliest time from `wanted` at least 1/rate away from every reserved send."""
        gap = 1.0 / self.limits.per_bot_rate
        slots = self._bot_slots
        slot = wanted
        i = bisect.bisect_left(slots, slot - gap)
        while i < len(slots) and slots[i] < slot + gap:
            if slots[i] > slot - gap:
                slot = slots[i] + gap
            i += 1
        return slot

    def _forget_past(self, now: float) -> None:
        gap = 1.0 / self.limits.per_bot_rate
        drop = bisect.bisect_left(self._bot_slots, now - gap)
        if drop:
            del self._bot_slots[:drop]
        if len(self._booked) > 10_000:
            for key in [k for k, (_, slot) in self._booked.items() if slot < now - 60.0]:
                del self._booked[key]
        if len(self._chat_next) > 10_000:
            for chat_id in [c for c, t in self._chat_next.items() if t < now]:
                del self._chat_next[chat_id]
