"""Channel secrets at rest: sealed with AES-256-GCM under a key derived from the server's
`secret_key`, so a copy of the database alone reveals no bot token or password.

Which keys are secrets is decided by name (`*token`, `*secret`, `*password`), the same
rule for every adapter; a value sealed here reads `sealed:v1:<base64>`. Channels from the
config file never reach the database with their settings (they use `"env:NAME"`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel

PREFIX = "sealed:v1:"
MASK = "••••••••"
SECRET_SUFFIXES = ("token", "secret", "password")


class SecretError(ValueError):
    """A sealed value that cannot be opened: another secret_key, or tampering."""


def is_secret(key: str) -> bool:
    return key.lower().endswith(SECRET_SUFFIXES)


def secret_keys(model: type[BaseModel]) -> list[str]:
    return [name for name in model.model_fields if is_secret(name)]


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(f"frontdesk.channel-secrets.{secret_key}".encode()).digest())
        self._mac_key = hashlib.sha256(f"frontdesk.signed-links.{secret_key}".encode()).digest()

    def sign(self, purpose: str, message: str) -> str:
        """An HMAC-SHA256 of `message` for one `purpose` (e.g. "change-approval"), URL-safe."""
        digest = hmac.new(self._mac_key, f"{purpose}\n{message}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, purpose: str, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(purpose, message), signature)

    def seal(self, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, value.encode(), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, value: str) -> str:
        if not value.startswith(PREFIX):
            raise SecretError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(value[len(PREFIX) :])
            return self._aead.decrypt(raw[:12], raw[12:], PREFIX.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretError("a channel secret cannot be decrypted: was server.secret_key changed?") from exc

    def seal_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Settings as stored: every secret value sealed (in nested tables too, e.g. an email
        channel's `imap.password`), the rest as given."""
        return {k: self._seal_value(k, v) for k, v in settings.items()}

    def _seal_value(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return self.seal_settings(value)
        if is_secret(key) and isinstance(value, str) and value and not value.startswith(PREFIX):
            return self.seal(value)
        return value

    def open_settings(self, stored: dict[str, Any]) -> dict[str, Any]:
        return {k: self._open_value(v) for k, v in stored.items()}

    def _open_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return self.open_settings(value)
        return self.open(value) if isinstance(value, str) and value.startswith(PREFIX) else value


def masked(stored: dict[str, Any]) -> dict[str, Any]:
    """Settings for display: secrets replaced by a mask (set or not is still visible),
    in nested tables too."""
    return {k: masked(v) if isinstance(v, dict) else (MASK if v else v) if is_secret(k) else v for k, v in stored.items()}


def secrets_only(stored: dict[str, Any]) -> dict[str, Any]:
    """The secrets of stored settings (in nested tables too): what a full replacement keeps
    when its form leaves a secret empty."""
    out: dict[str, Any] = {}
    for key, value in stored.items():
        if isinstance(value, dict):
            inner = secrets_only(value)
            if inner:
                out[key] = inner
        elif is_secret(key):
            out[key] = value
    return out


def merge_settings(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """`given` over `stored`, where a secret left empty or masked keeps its stored value
    (also inside nested tables, so re-sending a masked form changes no password)."""
    merged = dict(stored)
    for key, value in given.items():
        if is_secret(key) and value in (None, "", MASK):
            continue
        old = stored.get(key)
        merged[key] = merge_settings(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return merged
