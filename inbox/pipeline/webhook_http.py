"""One signed POST to a webhook's URL, guarded against server-side request forgery.

The guard resolves the URL's host at send time, refuses it when any of its addresses is
not a public one (private, loopback, link-local — the cloud metadata address is one —,
multicast, reserved, CGNAT) unless `[webhooks] allow_private`, and then connects to the
address it checked, by IP, with the Host header and TLS SNI set to the name: a DNS answer
that changes between the check and the connect (rebinding) cannot redirect the request.
Redirects are never followed: a 3xx is a failed delivery.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

MAX_URL = 2000
USER_AGENT = "Frontdesk-Webhooks/1"


class RefusedAddress(ValueError):
    """The URL is not one we send to (its scheme, or an address that is not public)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    response_code: int | None
    error: str | None
    duration_ms: int


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (tests replace this to fake DNS answers)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why we refuse to connect to `address`, or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global or ip.is_multicast:
        return "not a public address"
    return None


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL; RefusedAddress when it is not http(s)."""
    if len(url) > MAX_URL:
        raise RefusedAddress(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedAddress(f"not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("the URL must be http:// or https:// with a host")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def checked_address(url: str, allow_private: bool) -> str:
    """The address to connect to for `url`, after the guard; RefusedAddress otherwise."""
    _, host, port = split_url(url)
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise RefusedAddress(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise RefusedAddress(f"{host} has no address")
    if not allow_private:
        for address in addresses:
            problem = address_problem(address)
            if problem is not None:
                shown = host if host == address else f"{host} ({address})"
                raise RefusedAddress(f"{shown} is {problem}; set [webhooks] allow_private = true to allow it")
    return addresses[0]


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`X-Frontdesk-Signature`: HMAC-SHA256 of `timestamp + "." + body`, as `sha256=HEX`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, event_type: str, delivery_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    stamp = str(timestamp)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Frontdesk-Event": event_type,
        "X-Frontdesk-Delivery": delivery_id,
        "X-Frontdesk-Timestamp": stamp,
        "X-Frontdesk-Signature": signature(secret, stamp, body),
    }


async def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Outcome:
    """POST `body` once; a 2xx answer is a delivery, anything else (a redirect too) is not."""
    started = time.monotonic()

    def outcome(ok: bool, code: int | None, error: str | None) -> Outcome:
        return Outcome(ok, code, error, int((time.monotonic() - started) * 1000))

    try:
        address = await checked_address(url, allow_private)
    except RefusedAddress as exc:
        return outcome(False, None, f"refused: {exc}")
    scheme, host, port = split_url(url)
    target = httpx.URL(url).copy_with(host=address)
    default_port = 443 if scheme == "https" else 80
    wire = {**headers, "Host": host if port == default_port else f"{host}:{port}"}
    if ":" in host:  # an IPv6 literal keeps its brackets in the Host header
        wire["Host"] = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    try:
        async with httpx.AsyncClient(follow_redirects=False, timeout=timeout, trust_env=False) as client:
            request = client.build_request("POST", target, content=body, headers=wire, extensions=extensions)
            response = await client.send(request, stream=True)
            await response.aclose()  # the answer's body is not ours to read
    except httpx.TimeoutException:
        return outcome(False, None, f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return outcome(False, None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__)
    code = response.status_code
    if 200 <= code < 300:
        return outcome(True, code, None)
    if 300 <= code < 400:
        return outcome(False, code, f"HTTP {code}: redirects are not followed (to {response.headers.get('location', '?')[:300]})")
    return outcome(False, code, f"HTTP {code}")
