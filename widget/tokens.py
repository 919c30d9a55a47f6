"""Visitor tokens and identity checks.

A visitor token is `v1.<visitor id>.<signature>`: the id is random (not guessable), the
signature an HMAC under the server's secret and the channel, so a token works only on
the channel that issued it and cannot be forged or edited.

`identify({id, hmac})` is trusted only when hmac = hex HMAC-SHA256(id) under the
channel's `identity_secret` — computed by the site's own server, which knows who is
logged in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

_VISITOR = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class TokenSigner:
    def __init__(self, secret_key: str, channel: str) -> None:
        self._key = hashlib.sha256(f"frontdesk.widget.{channel}.{secret_key}".encode()).digest()

    def _sign(self, visitor: str) -> str:
        return hmac.new(self._key, visitor.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> tuple[str, str]:
        """A new anonymous visitor: (visitor id, token)."""
        visitor = secrets.token_urlsafe(18)
        return visitor, f"v1.{visitor}.{self._sign(visitor)}"

    def visitor_of(self, token: str | None) -> str | None:
        """The visitor id of a valid token, else None."""
        if not token or not isinstance(token, str) or len(token) > 200:
            return None
        version, _, rest = token.partition(".")
        visitor, _, signature = rest.rpartition(".")
        if version != "v1" or not _VISITOR.match(visitor):
            return None
        return visitor if _same(signature, self._sign(visitor)) else None

    def seal(self, data: dict[str, Any]) -> str:
        """A signed, timestamped ticket (e.g. an upload ticket holding the thread key)."""
        return URLSafeTimedSerializer(self._key, salt="ticket").dumps(data)

    def unseal(self, ticket: str | None, max_age: int) -> dict[str, Any] | None:
        if not ticket or len(ticket) > 2000:
            return None
        try:
            data = URLSafeTimedSerializer(self._key, salt="ticket").loads(ticket, max_age=max_age)
        except BadData:
            return None
        return data if isinstance(data, dict) else None

    def file_signature(self, attachment_id: int) -> str:
        """The capability in a visitor's download link of one attachment."""
        return hmac.new(self._key, f"file:{attachment_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def file_ok(self, attachment_id: int, signature: str | None) -> bool:
        return bool(signature) and _same(self.file_signature(attachment_id), str(signature))


def identity_hmac(secret: str, user_id: str) -> str:
    """What a site's server computes for `Frontdesk.identify({id, hmac})`."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_ok(secret: str | None, user_id: str, given: str | None) -> bool:
    if not secret or not given or not user_id:
        return False
    return _same(identity_hmac(secret, user_id), given.strip().lower())


def _same(a: str, b: str) -> bool:
    """Constant-time equality for strings from outside (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))
