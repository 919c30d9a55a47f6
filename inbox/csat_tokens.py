"""The satisfaction survey's signed token: `<survey>.<expiry>.<mac>`, HMAC-SHA256 with a
key derived from the server's secret (like the portal's links). It names the survey and
expires with it (7 days); that it works once is the survey row's (`rated_at`). It is short
(under 45 characters) so that it fits a Telegram callback's 64 bytes with its rating."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

MAX_TOKEN = 64
_SHAPE = re.compile(r"^([0-9]{1,19})\.([0-9]{1,12})\.([A-Za-z0-9_-]{24})$")
MAX_ID = 2**63 - 1


class CsatSigner:
    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"frontdesk.csat:" + secret_key.encode()).digest()

    def _mac(self, body: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]).decode()

    def token(self, survey_id: int, expires: int) -> str:
        body = f"{survey_id}.{expires}"
        return f"{body}.{self._mac(body)}"

    def check(self, token: str, now: float) -> int | None:
        """The survey a token is for, or None (forged, malformed or expired)."""
        match = _SHAPE.match(token or "") if len(token or "") <= MAX_TOKEN else None
        if match is None:
            return None
        survey, expires, mac = match.groups()
        if not hmac.compare_digest(self._mac(f"{survey}.{expires}"), mac):
            return None
        survey_id = int(survey)
        if not 0 < survey_id <= MAX_ID or int(expires) < now:
            return None
        return survey_id
