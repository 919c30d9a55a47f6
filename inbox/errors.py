"""Domain errors: what went wrong, in the domain's words, with a kind each surface maps once.

Actions raise these; they never raise HTTP types. The API answers a kind with its status
(`inbox.web.api.errors`), the UI with a message on the page (`inbox.web.ui.routes.Page.refuse`), the
CLI with an exit status and a line on stderr (`inbox.cli`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

Kind = Literal["not_found", "conflict", "invalid", "forbidden"]


class DomainError(Exception):
    """A change or a look-up the domain refuses. `code` is a stable machine name (the API's
    `error.code`); it defaults to the kind."""

    kind: ClassVar[Kind] = "invalid"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.kind


class NotFound(DomainError):
    """The object does not exist, or the caller may not see it (never tell the two apart)."""

    kind = "not_found"

    @classmethod
    def of(cls, what: str) -> NotFound:
        return cls(f"{what} not found")


class Conflict(DomainError):
    """The change clashes with the current state (a duplicate name, a newer message...)."""

    kind = "conflict"


class Invalid(DomainError):
    """The request itself is wrong: an unknown status, a missing field, a bad value."""

    kind = "invalid"


class Forbidden(DomainError):
    """The caller may see the object but not make this change (e.g. demote themself)."""

    kind = "forbidden"
