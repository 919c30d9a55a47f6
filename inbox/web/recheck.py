"""A long-lived connection's caller, asked again while the connection stays open.

A stream socket is authenticated once at its handshake. `Recheck` authenticates it again
before each batch it is about to deliver and at least every `every` seconds, so a revoked
token, an ended session, a changed password or a deactivated agent closes the socket
with `CLOSE_CODE` instead of letting it listen on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from inbox.auth import Principal

CLOSE_CODE = 4401  # the credential is (no longer) valid: sign in again or use another token
EVERY = 5.0


class Recheck:
    def __init__(
        self,
        check: Callable[[], Awaitable[Principal | None]],
        *,
        every: float = EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self.every = every
        self._clock = clock
        self._checked_at = clock()

    def until_due(self) -> float:
        """Seconds until the next check is due (0 when it is)."""
        return max(0.0, self.every - (self._clock() - self._checked_at))

    async def confirm(self) -> Principal | None:
        """Who the credential stands for now, or None if it is no longer valid."""
        who = await self._check()
        self._checked_at = self._clock()
        return who
