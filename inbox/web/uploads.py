"""Files that agents attach to replies, read from a multipart form (API and agent UI)."""

from __future__ import annotations

import mimetypes
import re

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from channels.base import OutboundAttachment

MAX_FILES = 10
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")


class UploadRefused(ValueError):
    """A file that cannot be attached; the message says which and why."""


class UnreadableForm(ValueError):
    """A reply form that cannot be parsed (broken, or too many parts)."""


async def reply_form(request: Request) -> tuple[dict[str, str], FormData]:
    """A reply's form (multipart or urlencoded): its text fields, and the form itself for
    `attached_files`. Room for one part too many, so that "more than ten files" is told."""
    try:
        form = await request.form(max_files=MAX_FILES + 1, max_fields=10)
    except Exception as exc:
        raise UnreadableForm(str(exc)) from None
    return {k: v for k, v in form.multi_items() if isinstance(v, str)}, form


async def attached_files(form: FormData, field: str = "file") -> tuple[OutboundAttachment, ...]:
    """The form's files under `field`, in order. A part with no name and no bytes (what a
    browser sends when no file was chosen) is skipped; an empty chosen file is refused."""
    parts = [p for p in form.getlist(field) if isinstance(p, UploadFile) and (p.filename or p.size)]
    if len(parts) > MAX_FILES:
        raise UploadRefused(f"at most {MAX_FILES} files per reply")
    files = []
    for part in parts:
        name = (part.filename or "file").replace("\\", "/").rsplit("/", 1)[-1][-255:] or "file"
        data = await part.read()
        if not data:
            raise UploadRefused(f"{name} is empty")
        files.append(OutboundAttachment(name, _media_type(part.content_type, name), data))
    return tuple(files)


def _media_type(declared: str | None, name: str) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if _MEDIA_TYPE.fullmatch(declared) and declared != "application/octet-stream":
        return declared[:255]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
