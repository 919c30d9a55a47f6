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
        return visitor if hmac.compare_digest(signature, self._sign(visitor)) else None


def identity_hmac(secret: str, user_id: str) -> str:
    """What a site's server computes for `Frontdesk.identify({id, hmac})`."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_ok(secret: str | None, user_id: str, given: str | None) -> bool:
    if not secret or not given or not user_id:
        return False
    return hmac.compare_digest(identity_hmac(secret, user_id), given.strip().lower())
