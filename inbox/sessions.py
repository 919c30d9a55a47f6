"""Browser sessions: a signed cookie naming the agent and their session version.

Changing a password bumps `Agent.session_version`, which voids every older cookie.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "fd_session"
MAX_AGE = 14 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SessionData:
    agent_id: int
    version: int
    csrf: str


class SessionSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="frontdesk.session")

    def dump(self, agent_id: int, version: int) -> str:
        return self._serializer.dumps({"a": agent_id, "v": version, "c": secrets.token_urlsafe(16)})

    def load(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        try:
            return SessionData(int(data["a"]), int(data["v"]), str(data["c"]))
        except (KeyError, TypeError, ValueError):
            return None


def csrf_ok(session: SessionData | None, submitted: str | None) -> bool:
    return bool(session and submitted and hmac.compare_digest(session.csrf, submitted))
