"""Browser sessions live on the server: the cookie carries only a random session key.

The `agent_session` row (inbox.store.models.AgentSession) holds the agent, the CSRF
secret, when the session began, was last seen and expires, and a short summary of the
browser. The key is stored as its SHA-256, like API tokens, so a copy of the database
holds no live session. Ending the row (sign-out, "Sign out everywhere", a password
change, deactivation) refuses the cookie at once; the actions are in inbox/actions/sessions.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

COOKIE = "fd_session"
LOGIN_COOKIE = "fd_login"  # the nonce behind the sign-in form's CSRF token (before any session)
MAX_AGE = 14 * 24 * 3600
LIFETIME = dt.timedelta(seconds=MAX_AGE)
TOUCH_EVERY = dt.timedelta(minutes=1)  # `last_seen_at` is written at most this often
KEY_BYTES = 32
MAX_KEY = 128  # a longer cookie is not one of ours


@dataclass(frozen=True, slots=True)
class SessionData:
    """What a page needs of the signed-in browser's session."""

    id: int
    agent_id: int
    csrf: str
    by_link: bool  # began with a one-time link: may choose a password without the current one


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def plausible_key(cookie: str | None) -> bool:
    return bool(cookie) and len(cookie or "") <= MAX_KEY


def csrf_ok(session: SessionData | None, submitted: str | None) -> bool:
    return bool(session and submitted and hmac.compare_digest(session.csrf, submitted))


class SessionSigner:
    """Keyed with the server's secret: the sign-in form's CSRF token.

    Before anyone is signed in there is no session row to hold a secret, so the form uses
    a signed double submit: a random nonce in the `fd_login` cookie, and in the form the
    nonce's HMAC. A forged cross-site post has neither the cookie's nonce nor the key.
    """

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"frontdesk.login-form:" + secret_key.encode()).digest()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(18)

    def login_token(self, nonce: str) -> str:
        mac = hmac.new(self._key, nonce.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def login_ok(self, nonce: str | None, submitted: str | None) -> bool:
        if not nonce or not submitted or len(nonce) > MAX_KEY:
            return False
        return hmac.compare_digest(self.login_token(nonce), submitted)
