"""The customer portal's signed tokens, keyed with the server's secret.

- The "View your requests" link every e-mail carries: `/portal/v/<contact>.<expiry>.<mac>`,
  signed per contact (no row: it is checked by its signature and expiry; it opens a portal
  session, it does not stay valid past its expiry).
- The portal session cookie: `<contact>.<expiry>.<nonce>.<mac>`; the forms' CSRF token is
  the HMAC of the cookie, so a forged cross-site post has neither.

The one-time sign-in links are random tokens stored as their SHA-256 (`portal_link`), so
they can be used once; see inbox/actions/portal.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "fd_portal"
MAX_TOKEN = 200  # a longer token or cookie is not one of ours
MAX_CONTACT = 2**63 - 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class PortalSession:
    contact_id: int
    expires: int  # unix seconds
    cookie: str


class PortalSigner:
    def __init__(self, secret_key: str) -> None:
        self._view = hashlib.sha256(b"frontdesk.portal-view:" + secret_key.encode()).digest()
        self._session = hashlib.sha256(b"frontdesk.portal-session:" + secret_key.encode()).digest()
        self._csrf = hashlib.sha256(b"frontdesk.portal-csrf:" + secret_key.encode()).digest()

    @staticmethod
    def _mac(key: bytes, text: str) -> str:
        return _b64(hmac.new(key, text.encode(), hashlib.sha256).digest()[:24])

    # -- the "View your requests" link ------------------------------------------------

    def view_token(self, contact_id: int, days: int, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + days * 86400)
        body = f"{contact_id}.{expires}"
        return f"{body}.{self._mac(self._view, body)}"

    def check_view(self, token: str, now: float | None = None) -> int | None:
        """The contact a view link is for, or None (forged, expired, malformed)."""
        parts = _parts(token, 3)
        if parts is None:
            return None
        contact, expires, mac = parts
        if not hmac.compare_digest(self._mac(self._view, f"{contact}.{expires}"), mac):
            return None
        return _live(contact, expires, now)

    # -- the session cookie and its CSRF token ------------------------------------------

    def new_session(self, contact_id: int, hours: int, now: float | None = None) -> PortalSession:
        expires = int((now if now is not None else time.time()) + hours * 3600)
        body = f"{contact_id}.{expires}.{secrets.token_urlsafe(12)}"
        cookie = f"{body}.{self._mac(self._session, body)}"
        return PortalSession(contact_id, expires, cookie)

    def check_session(self, cookie: str | None, now: float | None = None) -> PortalSession | None:
        parts = _parts(cookie or "", 4)
        if parts is None:
            return None
        contact, expires, nonce, mac = parts
        if not hmac.compare_digest(self._mac(self._session, f"{contact}.{expires}.{nonce}"), mac):
            return None
        contact_id = _live(contact, expires, now)
        return PortalSession(contact_id, int(expires), cookie or "") if contact_id is not None else None

    def csrf(self, session: PortalSession) -> str:
        return self._mac(self._csrf, session.cookie)

    def csrf_ok(self, session: PortalSession | None, submitted: str | None) -> bool:
        return bool(session and submitted and hmac.compare_digest(self.csrf(session), submitted))


def _parts(token: str, count: int) -> list[str] | None:
    if not token or len(token) > MAX_TOKEN:
        return None
    parts = token.split(".")
    if len(parts) != count or not parts[0].isdigit() or not parts[1].isdigit() or len(parts[0]) > 19 or len(parts[1]) > 12:
        return None
    return parts


def _live(contact: str, expires: str, now: float | None) -> int | None:
    contact_id = int(contact)
    if not 0 < contact_id <= MAX_CONTACT or int(expires) < (now if now is not None else time.time()):
        return None
    return contact_id


def new_link_token() -> str:
    return secrets.token_urlsafe(32)


def link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
