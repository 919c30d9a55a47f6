"""Serving stored files safely: which types may render inline, and the download header."""

from __future__ import annotations

from urllib.parse import quote

# Raster images only: SVG and HTML are scriptable, so they always download.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def disposition(filename: str, inline: bool) -> str:
    """A Content-Disposition header that survives any filename (RFC 6266 + RFC 5987)."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename) or "attachment"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def download_headers(filename: str, inline: bool) -> dict[str, str]:
    return {
        "Content-Disposition": disposition(filename, inline),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
    }
