"""Request types, the service catalogue: what a type asks (its fields) and whether the
answers a customer gave are acceptable. Pure: the config file, the admin's API and the
portal's and widget's forms all check through here."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from routing.vocabulary import Priority

FieldKind = Literal["text", "long_text", "choice", "date", "attachment"]
FIELD_KINDS: tuple[FieldKind, ...] = ("text", "long_text", "choice", "date", "attachment")

MAX_FIELDS = 30
MAX_CHOICES = 50
MAX_TEXT = {"text": 500, "long_text": 10_000}
NAME_PATTERN = r"[a-z][a-z0-9_]{0,39}"

_Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One question of a request type's form. `name` is what rules test (`field.<name>`)."""

    name: Annotated[str, StringConstraints(pattern=f"^{NAME_PATTERN}$")]
    label: _Label
    kind: FieldKind = "text"
    required: bool = False
    choices: tuple[_Label, ...] = ()

    @model_validator(mode="after")
    def _choices_fit(self) -> FieldSpec:
        if self.kind == "choice":
            if not self.choices:
                raise ValueError(f"field {self.name!r}: a choice needs choices")
            if len(self.choices) > MAX_CHOICES:
                raise ValueError(f"field {self.name!r}: at most {MAX_CHOICES} choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError(f"field {self.name!r}: the choices repeat")
        elif self.choices:
            raise ValueError(f"field {self.name!r}: only a choice field has choices")
        return self


class RequestTypeSpec(_Strict):
    """`[[request_types]]`: name, description, fields, team, priority, optional approver."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    fields: tuple[FieldSpec, ...] = Field(default=(), max_length=MAX_FIELDS)
    team: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    priority: Priority | None = None
    # An agent's e-mail: the ticket waits for their approval before work starts.
    approver: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=320)] | None = None

    @field_validator("approver")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError(f"expected an agent's e-mail address; got {value!r}")
        return value

    @model_validator(mode="after")
    def _unique_fields(self) -> RequestTypeSpec:
        names = [f.name for f in self.fields]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"the field name {dup!r} is used twice")
        return self

    def shape(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class AnswerError(ValueError):
    """An answer does not fit its field: `field` names it (for the form to show it there)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_answers(spec: RequestTypeSpec, answers: Mapping[str, Any], attachments: Mapping[str, str] | None = None) -> dict[str, str]:
    """The answers as stored on the ticket ({field name: text}), or AnswerError for the
    first that does not fit: a missing required field, a choice not offered, a date that
    is not YYYY-MM-DD, a text too long, a field the type does not have. An attachment
    field's answer is the file's name (`attachments`: field name → filename)."""
    attachments = attachments or {}
    known = {f.name for f in spec.fields}
    for name in answers:
        if name not in known:
            raise AnswerError(str(name)[:40], "this request type has no such field")
    stored: dict[str, str] = {}
    for f in spec.fields:
        if f.kind == "attachment":
            value = attachments.get(f.name, "").strip()
        else:
            raw = answers.get(f.name)
            if raw is not None and not isinstance(raw, str):
                raise AnswerError(f.name, "expected text")
            value = (raw or "").strip()
        if not value:
            if f.required:
                raise AnswerError(f.name, "this field is required")
            continue
        if f.kind in MAX_TEXT and len(value) > MAX_TEXT[f.kind]:
            raise AnswerError(f.name, f"at most {MAX_TEXT[f.kind]} characters")
        if f.kind == "choice" and value not in f.choices:
            raise AnswerError(f.name, f"expected one of {', '.join(f.choices)}")
        if f.kind == "date":
            try:
                value = dt.date.fromisoformat(value).isoformat() if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ""
            except ValueError:
                value = ""
            if not value:
                raise AnswerError(f.name, "expected a date, YYYY-MM-DD")
        stored[f.name] = value
    return stored


def summary(spec: RequestTypeSpec, stored: Mapping[str, str]) -> str:
    """The answers as the text of the request's first message (labels, one per line)."""
    lines = [f"{f.label}: {stored[f.name]}" for f in spec.fields if f.name in stored and f.kind != "long_text"]
    for f in spec.fields:
        if f.name in stored and f.kind == "long_text":
            lines.append(f"\n{f.label}:\n{stored[f.name]}")
    return "\n".join(lines)
