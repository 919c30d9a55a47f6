"""Form fields built from a channel adapter's own config model (channels/*.py): one input per
key, of the right type, nested tables as dotted names ("imap.host"), and the way back from
posted strings to the settings object the model validates."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from inbox.store.secrets import is_secret

COMMON = ("name", "type", "enabled")  # the channel form asks these once, for every type


@dataclass(frozen=True, slots=True)
class FormField:
    key: str  # dotted: "imap.host"
    kind: str  # text | password | number | checkbox | select | list
    required: bool
    default: str
    options: tuple[str, ...] = ()
    step: str = "1"
    description: str = ""


def _plain(annotation: Any) -> tuple[Any, bool]:
    """The annotation without `| None`, and whether None was allowed."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def fields_of(model: type[BaseModel], prefix: str = "") -> list[FormField]:
    out: list[FormField] = []
    for name, info in model.model_fields.items():
        if not prefix and name in COMMON:
            continue
        key = prefix + (info.alias or name)
        annotation, _ = _plain(info.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(fields_of(annotation, key + "."))
            continue
        default = "" if info.is_required() or info.default is None else info.default
        kw: dict[str, Any] = {"required": info.is_required(), "description": info.description or ""}
        if typing.get_origin(annotation) is Literal:
            out.append(FormField(key, "select", default=str(default), options=tuple(str(a) for a in typing.get_args(annotation)), **kw))
        elif annotation is bool:
            out.append(FormField(key, "checkbox", default="1" if default else "", **kw))
        elif annotation in (int, float):
            out.append(FormField(key, "number", default=str(default), step="1" if annotation is int else "any", **kw))
        elif typing.get_origin(annotation) is list:
            out.append(FormField(key, "list", default=", ".join(str(v) for v in default or []), **kw))
        else:
            out.append(FormField(key, "password" if is_secret(name) else "text", default=str(default), **kw))
    return out


def settings_from_form(model: type[BaseModel], form: Mapping[str, str], prefix: str) -> dict[str, Any]:
    """The settings typed into the fields named `prefix + key`; an empty optional field is
    left out (the model's default), a number that is not one goes through for the model to refuse."""
    settings: dict[str, Any] = {}
    for field in fields_of(model):
        raw = str(form.get(prefix + field.key, "")).strip()
        if field.kind == "checkbox":
            value: Any = bool(raw)
        elif not raw:
            continue
        elif field.kind == "number":
            try:
                value = int(raw) if field.step == "1" else float(raw)
            except ValueError:
                value = raw
        elif field.kind == "list":
            value = [v for v in raw.replace("\n", ",").split(",") if v.strip()]
            value = [v.strip() for v in value]
        else:
            value = raw
        *parents, last = field.key.split(".")
        target = settings
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return settings


def fields_named(message: str) -> set[str]:
    """The keys a validation message names ("imap.host: Field required; from: ...")."""
    return {part.partition(":")[0].strip() for part in message.split(";") if ":" in part}


def values_of(fields: list[FormField], settings: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """What the fields of the edit form show for stored (masked) settings: each value as a
    string (the model's default for a key not stored), and the keys of the secrets that hold a
    value. A secret is never shown, not even masked: left empty, it keeps what is stored."""
    values: dict[str, str] = {}
    stored_secrets: set[str] = set()
    for f in fields:
        value: Any = settings
        for part in f.key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if f.kind == "password":
            values[f.key] = ""
            if value:
                stored_secrets.add(f.key)
        elif value is None:
            values[f.key] = f.default
        elif f.kind == "checkbox":
            values[f.key] = "1" if value else ""
        elif f.kind == "list" and isinstance(value, list):
            values[f.key] = ", ".join(str(v) for v in value)
        else:
            values[f.key] = str(value)
    return values, stored_secrets
