"""The HTTP status of each kind of domain error, for the API and the UI alike."""

from __future__ import annotations

from inbox.errors import DomainError, Kind

STATUS_OF_KIND: dict[Kind, int] = {"not_found": 404, "conflict": 409, "invalid": 422, "forbidden": 403}


def status_of(exc: DomainError) -> int:
    return STATUS_OF_KIND[exc.kind]
