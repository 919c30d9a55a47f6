"""Attachment downloads: only for who may see the conversation; never rendered inline
unless a safe raster image (SVG and HTML are scriptable, so they always download)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import select

from channels.files import INLINE_IMAGE_TYPES, download_headers
from inbox.queries import conversations as conv
from inbox.store.models import Attachment, Blob, Message
from inbox.web.api.deps import Id, Svc, Who
from inbox.web.errors import not_found

router = APIRouter(tags=["attachments"])


@router.get("/attachments/{attachment_id}")
async def download(svc: Svc, who: Who, attachment_id: Id) -> Response:
    async with svc.db.read() as session:
        row = (
            await session.execute(
                select(Attachment, Message.conversation_id, Message.private)
                .join(Message, Message.id == Attachment.message_id)
                .where(Attachment.id == attachment_id)
            )
        ).first()
        if row is None:
            raise not_found("attachment")
        attachment, conversation_id, _private = row
        if await conv.get_visible(session, who, conversation_id) is None:
            raise not_found("attachment")
        data = await session.scalar(select(Blob.data).where(Blob.sha256 == attachment.sha256))
    content_type = attachment.content_type.split(";")[0].strip().lower()
    inline = content_type in INLINE_IMAGE_TYPES
    return Response(
        content=data or b"",
        media_type=content_type if inline else "application/octet-stream",
        headers=download_headers(attachment.filename, inline),
    )
