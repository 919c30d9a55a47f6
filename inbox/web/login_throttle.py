"""Sign-in throttling: slow guessing down without ever locking the owner out.

Failed sign-ins are counted three ways, each with its own budget: per address and client
(the pair), per address (an attack from many places) and per client (one place trying
many addresses). Within a budget attempts are free; past it, the next attempt on that
count must wait a delay that doubles with each further failure, up to a cap. An attempt
during a delay is refused (HTTP 429, "try again in N seconds") and not counted; once the
delay has passed it goes through, and the right password signs in.

Because the pair's budget is separate, an attacker's failures only slow the owner down
(through the per-address count), never refuse them: a client with no failures of its own
for the address is promised its slot when refused, and coming back after the wait it gets
through whatever other clients did meanwhile (a client that is failing itself gets no
promise). Counts live in the node's memory and are
forgotten after `WINDOW` without failures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW = 3600.0  # seconds without a failure after which a count is forgotten
# A client that failed this often (any address) is not promised a slot: a botnet's hosts
# would otherwise each get one free try past the per-address delay.
SLOT_MAX_CLIENT_FAILURES = 3


@dataclass(frozen=True, slots=True)
class Budget:
    free: int  # failures before any delay
    cap: float  # the longest delay, in seconds


PAIR = Budget(free=5, cap=300.0)
ADDRESS = Budget(free=10, cap=60.0)
CLIENT = Budget(free=30, cap=300.0)


def normalised(address: str) -> str:
    """The address as it is counted (and looked up): spaces around it or its case give no fresh budget."""
    return address.strip().lower()


def delay_after(failures: int, budget: Budget) -> float:
    """The wait after `failures` failed attempts: none within the budget, then 1, 2, 4... seconds."""
    over = failures - budget.free
    if over < 0:
        return 0.0
    return min(budget.cap, 2.0 ** min(over, 32))


@dataclass(slots=True)
class _Count:
    failures: int
    last: float  # when the last failure was counted


class LoginThrottle:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._counts: dict[tuple[str, str], _Count] = {}
        self._slots: dict[tuple[str, str], float] = {}  # (address, client) → when its promised slot opens

    def admit(self, address: str, client: str) -> float:
        """0 if this attempt may go ahead, else the seconds to wait. An admitted attempt
        counts as a failure (so parallel guesses see it) until `succeeded` says otherwise."""
        now = self.clock()
        pair, by_address, by_client = _keys(address, client)
        wait = max(self._wait(pair, PAIR, now), self._wait(by_client, CLIENT, now))
        address_wait = self._wait(by_address, ADDRESS, now)
        slot = self._slots.get((address, client))
        if address_wait > 0:
            if slot is not None:
                address_wait = max(0.0, slot - now)  # promised: other clients' failures do not move it
            elif self._failures(pair, now) == 0 and self._failures(by_client, now) < SLOT_MAX_CLIENT_FAILURES:
                self._slots[(address, client)] = now + address_wait
        wait = max(wait, address_wait)
        if wait > 0:
            return wait
        self._slots.pop((address, client), None)
        for key in (pair, by_address, by_client):
            self._fail(key, now)
        return 0.0

    def succeeded(self, address: str, client: str) -> None:
        """The admitted attempt had the right password: the pair's failures were the owner's
        own typing, so they are taken back everywhere (this attempt's too) and the pair
        starts afresh. Failures from other clients stay counted."""
        pair, by_address, by_client = _keys(address, client)
        own = self._counts.pop(pair, None)
        forgiven = own.failures if own is not None else 1
        for key in (by_address, by_client):
            count = self._counts.get(key)
            if count is not None:
                count.failures = max(0, count.failures - forgiven)

    def _failures(self, key: tuple[str, str], now: float) -> int:
        count = self._counts.get(key)
        return count.failures if count is not None and now - count.last <= WINDOW else 0

    def _wait(self, key: tuple[str, str], budget: Budget, now: float) -> float:
        count = self._counts.get(key)
        if count is None:
            return 0.0
        if now - count.last > WINDOW:
            del self._counts[key]
            return 0.0
        return max(0.0, delay_after(count.failures, budget) - (now - count.last))

    def _fail(self, key: tuple[str, str], now: float) -> None:
        count = self._counts.get(key)
        if count is None or now - count.last > WINDOW:
            if len(self._counts) >= self.max_keys:
                self._evict(now)
            self._counts[key] = _Count(1, now)
        else:
            count.failures += 1
            count.last = now

    def _evict(self, now: float) -> None:
        for key in [k for k, c in self._counts.items() if now - c.last > WINDOW]:
            del self._counts[key]
        self._slots = {k: t for k, t in self._slots.items() if t > now - WINDOW}
        if len(self._counts) >= self.max_keys:  # still full: keep the newer half
            newest = sorted(self._counts.items(), key=lambda item: item[1].last)[len(self._counts) // 2 :]
            self._counts = dict(newest)


def _keys(address: str, client: str) -> tuple[tuple[str, str], tuple[str, str], tuple[str, str]]:
    return ("pair", f"{address}\n{client}"), ("address", address), ("client", client)


def seconds(wait: float) -> int:
    """A wait as whole seconds for people (and `Retry-After`): never 0 while it runs."""
    return max(1, math.ceil(wait))
