"""Telegram updates as inbound messages: who wrote, in which chat, what, with which files.

Pure translation, no I/O: `read_update` turns one update (the JSON object Telegram
sends) into an `InboundMessage` plus the files still to fetch with getFile, or None
when the update is nothing for the inbox (group chatter not addressed to the bot,
service messages, channel posts). The adapter does the fetching and the ingest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from telegram import Message, MessageEntity, Update

from channels.base import InboundMessage, Sender
from channels.untrusted import Unreadable, repaired

PRIVATE = "private"
GROUPS = ("group", "supergroup")


class UnreadableUpdate(ValueError):
    """The update is not a Telegram update we can make sense of; quarantine it."""


@dataclass(frozen=True, slots=True)
class BotIdentity:
    id: int
    username: str | None = None  # without "@"; None until getMe answered


@dataclass(frozen=True, slots=True)
class FileToFetch:
    file_id: str
    filename: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class ReadUpdate:
    update_id: int
    message: InboundMessage
    files: tuple[FileToFetch, ...] = ()


def update_id_of(data: Any) -> int:
    """The update's id, or UnreadableUpdate: without it the update cannot even be confirmed."""
    if not isinstance(data, dict):
        raise UnreadableUpdate("an update must be a JSON object")
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise UnreadableUpdate("update_id must be an integer")
    return update_id


def read_update(data: dict[str, Any], me: BotIdentity, *, check_addressed: bool = True) -> ReadUpdate | None:
    """Translate one update. Raises UnreadableUpdate when it is malformed.

    Lone surrogates are repaired first (they would make the update unwritable) and
    a deeply nested update is refused (see channels.untrusted).
    """
    update_id = update_id_of(data)
    try:
        data = repaired(data)
    except Unreadable as exc:
        raise UnreadableUpdate(f"update {update_id}: {exc}") from None
    for key in ("message", "edited_message"):
        if data.get(key) is not None:
            check_message_shape(data[key], f"update {update_id}: {key}")
    try:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        update = Update.de_json(dict(data), None)
        return _read(update, update_id, raw, me, check_addressed)
    except UnreadableUpdate:
        raise
    except Exception as exc:  # the library's parser raises whatever the bad field causes
        raise UnreadableUpdate(f"update {update_id}: {type(exc).__name__}: {exc}") from None


def _read(update: Update, update_id: int, raw: bytes, me: BotIdentity, check_addressed: bool) -> ReadUpdate | None:
    if update.message is not None:
        message = update.message
        edited = False
    elif update.edited_message is not None:
        message = update.edited_message
        edited = True
    else:
        return None  # channel posts, member changes, callbacks: nothing for the inbox
    chat = message.chat
    user = message.from_user
    if chat is None or user is None or message.message_id is None:
        raise UnreadableUpdate(f"update {update_id}: message without chat, sender or id")
    if chat.type not in (PRIVATE, *GROUPS) or user.is_bot:
        return None
    in_group = chat.type in GROUPS
    if in_group and not edited and check_addressed and not addressed_to_bot(message, me):
        return None
    if _is_service_message(message):
        return None

    text, html = _text_of(message)
    files = () if edited else _files_of(message)
    if not text and not files:
        text = _describe_other(message)
        if not text:
            return None
    meta: dict[str, Any] = {
        "chat_id": chat.id,
        "message_id": message.message_id,
        "chat_type": chat.type,
    }
    if in_group and chat.title:
        meta["chat_title"] = chat.title
    if message.is_topic_message and message.message_thread_id is not None:
        meta["message_thread_id"] = message.message_thread_id
    message_key = f"{chat.id}:{message.message_id}"
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or None
    sender = Sender(
        address=str(user.id),
        name=name,
        username=user.username,
        language=user.language_code.split("-")[0].lower() if user.language_code else None,
    )
    references: tuple[str, ...] = ()
    reply = message.reply_to_message
    if reply is not None and reply.message_id is not None:
        references = (f"{chat.id}:{reply.message_id}",)
    common: dict[str, Any] = {
        "sender": sender,
        "text": text,
        "html": html,
        "thread_key": str(chat.id),
        "sent_at": message.date,
        "meta": meta,
        "raw": raw,
    }
    if edited:
        edit_date = int(message.edit_date.timestamp()) if message.edit_date else update_id
        inbound = InboundMessage(
            external_id=f"{message_key}:edit:{edit_date}",
            kind="edit",
            target_external_id=message_key,
            **common,
        )
    else:
        inbound = InboundMessage(external_id=message_key, references=references, **common)
    return ReadUpdate(update_id, inbound, files)


# The types of the fields read here. python-telegram-bot builds its objects without
# checking them, so a signed body with `"text": {}` would reach the inbox as a dict.
_MESSAGE_FIELDS: dict[str, type] = {
    "message_id": int,
    "date": int,
    "edit_date": int,
    "text": str,
    "caption": str,
    "message_thread_id": int,
    "is_topic_message": bool,
    "entities": list,
    "caption_entities": list,
    "photo": list,
}
_USER_FIELDS: dict[str, type] = {
    "id": int,
    "is_bot": bool,
    "first_name": str,
    "last_name": str,
    "username": str,
    "language_code": str,
}
_CHAT_FIELDS: dict[str, type] = {"id": int, "type": str, "title": str}
_FILE_FIELDS: dict[str, type] = {
    "file_id": str,
    "file_unique_id": str,
    "file_name": str,
    "mime_type": str,
    "file_size": int,
    "width": int,
    "height": int,
}
_ENTITY_FIELDS: dict[str, type] = {"type": str, "offset": int, "length": int}
_FILE_KINDS = ("document", "voice", "audio", "video", "video_note", "sticker")


def check_message_shape(message: Any, where: str) -> None:
    """UnreadableUpdate when a field this module reads has the wrong JSON type."""
    _check_object(message, _MESSAGE_FIELDS, where)
    for key, fields in (("from", _USER_FIELDS), ("chat", _CHAT_FIELDS)):
        if message.get(key) is not None:
            _check_object(message[key], fields, f"{where}.{key}")
    for key in ("entities", "caption_entities"):
        for i, entity in enumerate(message.get(key) or ()):
            _check_object(entity, _ENTITY_FIELDS, f"{where}.{key}[{i}]")
    for i, size in enumerate(message.get("photo") or ()):
        _check_object(size, _FILE_FIELDS, f"{where}.photo[{i}]")
    for key in _FILE_KINDS:
        if message.get(key) is not None:
            _check_object(message[key], _FILE_FIELDS, f"{where}.{key}")
    reply = message.get("reply_to_message")
    if reply is not None:
        _check_object(reply, {"message_id": int, "from": dict}, f"{where}.reply_to_message")
        if reply.get("from") is not None:
            _check_object(reply["from"], _USER_FIELDS, f"{where}.reply_to_message.from")


def _check_object(value: Any, fields: dict[str, type], where: str) -> None:
    if not isinstance(value, dict):
        raise UnreadableUpdate(f"{where} must be an object")
    for key, expected in fields.items():
        found = value.get(key)
        if found is None:
            continue
        wrong_bool = isinstance(found, bool) and expected is not bool
        if wrong_bool or not isinstance(found, expected):
            raise UnreadableUpdate(f"{where}.{key} must be a JSON {_JSON_NAMES[expected]}")


_JSON_NAMES = {int: "integer", str: "string", bool: "boolean", list: "array", dict: "object"}


def addressed_to_bot(message: Message, me: BotIdentity) -> bool:
    """In a group: does the message mention the bot, call its command or reply to it?"""
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == me.id:
        return True
    handle = f"@{me.username}".casefold() if me.username else None
    found = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, value in found.items():
        if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == me.id:
            return True
        if handle is None:
            continue
        if entity.type == MessageEntity.MENTION and value.casefold() == handle:
            return True
        if entity.type == MessageEntity.BOT_COMMAND and value.casefold().endswith(handle):
            return True
    return False


def _text_of(message: Message) -> tuple[str, str | None]:
    if message.text is not None:
        return message.text, message.text_html if message.entities else None
    if message.caption is not None:
        return message.caption, message.caption_html if message.caption_entities else None
    return "", None


def _files_of(message: Message) -> tuple[FileToFetch, ...]:
    if message.photo:
        biggest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return (
            FileToFetch(
                biggest.file_id,
                f"photo_{biggest.file_unique_id}.jpg",
                "image/jpeg",
                biggest.file_size,
            ),
        )
    if message.document is not None:
        d = message.document
        return (
            FileToFetch(
                d.file_id,
                d.file_name or f"document_{d.file_unique_id}",
                d.mime_type or "application/octet-stream",
                d.file_size,
            ),
        )
    if message.voice is not None:
        v = message.voice
        return (FileToFetch(v.file_id, f"voice_{v.file_unique_id}.ogg", v.mime_type or "audio/ogg", v.file_size),)
    if message.audio is not None:
        a = message.audio
        return (
            FileToFetch(
                a.file_id,
                a.file_name or f"audio_{a.file_unique_id}.mp3",
                a.mime_type or "audio/mpeg",
                a.file_size,
            ),
        )
    if message.video is not None:
        v2 = message.video
        return (
            FileToFetch(
                v2.file_id,
                v2.file_name or f"video_{v2.file_unique_id}.mp4",
                v2.mime_type or "video/mp4",
                v2.file_size,
            ),
        )
    if message.video_note is not None:
        n = message.video_note
        return (FileToFetch(n.file_id, f"video_note_{n.file_unique_id}.mp4", "video/mp4", n.file_size),)
    return ()


def _describe_other(message: Message) -> str:
    """A line of text for content the inbox cannot show as it is."""
    if message.sticker is not None:
        return message.sticker.emoji or "[sticker]"
    if message.contact is not None:
        c = message.contact
        name = " ".join(p for p in (c.first_name, c.last_name) if p)
        return f"[contact] {name} {c.phone_number}".strip()
    if message.location is not None:
        loc = message.location
        return f"[location] {loc.latitude:.6f}, {loc.longitude:.6f}"
    if message.poll is not None:
        return f"[poll] {message.poll.question}"
    return ""


def _is_service_message(message: Message) -> bool:
    return bool(
        message.new_chat_members
        or message.left_chat_member
        or message.new_chat_title
        or message.new_chat_photo
        or message.delete_chat_photo
        or message.group_chat_created
        or message.supergroup_chat_created
        or message.migrate_to_chat_id
        or message.migrate_from_chat_id
        or message.pinned_message
    )
