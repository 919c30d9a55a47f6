"""A stored request type read back as the catalogue's own model (the portal's and the
widget's forms, and the checks of their answers, both start from it)."""

from __future__ import annotations

from inbox.store.models import RequestType
from routing.request_types import RequestTypeSpec


def spec_of(row: RequestType) -> RequestTypeSpec:
    return RequestTypeSpec.model_validate(
        {
            "name": row.name,
            "description": row.description,
            "fields": row.fields or [],
            "team": row.team,
            "priority": row.priority,
            "approver": row.approver,
        }
    )
