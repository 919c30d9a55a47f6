"""Request types (the service catalogue) in the widget: the `request` frame, kept apart
from the chat frames (protocol: docs/widget-protocol.md, "Request forms").

A channel with `request_types` set offers those types in `welcome.request_types` (their
name, description and fields: never the team, the priority or the approver). The visitor
answers one with `{"type": "request", "client_id", "request_type", "fields": {...},
"text"?}`; the answers are checked by routing/request_types.py, exactly as the portal
checks them, and a bad one is an error frame naming the field. The request is then one
visitor message (external id `visitor:client_id`, so a resend is stored once) whose
`meta.request` the rules see, and its conversation becomes a request ticket through the
same path as a portal request (inbox/actions/portal.py `attach_request`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from channels.base import InboundMessage
from routing.request_types import AnswerError, RequestTypeSpec, check_answers, summary

ALL = "*"  # `request_types = ["*"]`: every type of the catalogue
MAX_TEXT = 5000


@runtime_checkable
class RequestCatalogue(Protocol):
    """The store's side: the request types a channel offers (the inbox reads them from the catalogue)."""

    async def request_types(self, names: Sequence[str]) -> list[RequestTypeSpec]:
        """The types named (or every type, for `["*"]`), in the catalogue's order; unknown names are left out."""
        ...


@dataclass(frozen=True, slots=True)
class RequestResult:
    message_id: int
    conversation_id: int
    ticket_id: int
    duplicate: bool


@runtime_checkable
class RequestSink(Protocol):
    """The inbox's side: store the request's message, then make its conversation a request ticket."""

    async def open_request(self, message: InboundMessage, spec: RequestTypeSpec, fields: Mapping[str, str]) -> RequestResult | None:
        """None when requests cannot be stored on this node (the visitor resends)."""
        ...


class BadRequest(ValueError):
    """A `request` frame that cannot be taken: `code` for the error frame, `field` the answer at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


def offered(spec: RequestTypeSpec) -> dict[str, Any]:
    """What the visitor is shown of a type: no team, priority or approver's address."""
    return {
        "name": spec.name,
        "description": spec.description,
        "approval": spec.approver is not None,
        "fields": [
            {"name": f.name, "label": f.label, "kind": f.kind, "required": f.required, "choices": list(f.choices)} for f in spec.fields
        ],
    }


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    client_id: str
    spec: RequestTypeSpec
    fields: dict[str, str]
    text: str  # the message: the answers, labelled, then what the visitor wrote


def read_request(frame: Mapping[str, Any], types: Sequence[RequestTypeSpec]) -> CheckedRequest:
    """The visitor's `request` frame checked against the types the channel offers; BadRequest when it does not fit."""
    client_id = frame.get("client_id")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise BadRequest("bad_client_id", "client_id must be a string of 1 to 64 characters")
    name = frame.get("request_type")
    spec = next((t for t in types if t.name == name), None) if isinstance(name, str) else None
    if spec is None:
        raise BadRequest("unknown_request_type", "this channel offers no request type of that name")
    answers = frame.get("fields", {})
    if not isinstance(answers, dict):
        raise BadRequest("bad_fields", "fields must be an object of {field name: text}")
    extra = frame.get("text")
    if extra is not None and (not isinstance(extra, str) or len(extra) > MAX_TEXT):
        raise BadRequest("too_long", f"text must be a string of at most {MAX_TEXT} characters")
    try:
        stored = check_answers(spec, answers)
    except AnswerError as exc:
        raise BadRequest("bad_field", exc.message, field=exc.field) from None
    text = "\n\n".join(part for part in (summary(spec, stored), (extra or "").strip()) if part) or spec.name
    return CheckedRequest(client_id, spec, stored, text)
