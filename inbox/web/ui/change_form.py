"""The change form's one model: the fields the new and edit pages post, read from a change
to fill the form, and parsed into the action's `ChangeFields`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from inbox.actions import changes as actions
from inbox.errors import Invalid

MAX_FIELD = 20_000


def _names(raw: str) -> list[str]:
    return [n.strip() for n in raw.split(",") if n.strip()][:100]


def _when(raw: str, label: str) -> dt.datetime | None:
    """A `datetime-local` value, read as UTC (the form says so)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw[:40])
    except ValueError as exc:
        raise Invalid(f"{label}: not a date and time") from exc
    if not 1970 <= value.year <= 9000:
        raise Invalid(f"{label}: a year from 1970 to 9000")
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _local(value: str | None) -> str:
    """An ISO timestamp as a `datetime-local` value in UTC (YYYY-MM-DDTHH:MM)."""
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC).isoformat()[:16] if value else ""


class ChangeForm(BaseModel):
    """What the form posts, by the inputs' names; every field is text as typed, so a
    refused form is drawn again with it."""

    model_config = ConfigDict(extra="ignore")  # the csrf token comes along

    title: str = ""
    type: str = "normal"
    description: str = ""
    items: str = ""
    planned_start: str = ""
    planned_end: str = ""
    backout_plan: str = ""
    approvers: str = ""
    problem: str = ""

    @classmethod
    def of(cls, change: dict[str, Any]) -> ChangeForm:
        """The form filled from a change (as `queries.get_change` reads it)."""
        return cls(
            title=change["title"],
            type=change["type"],
            description=change["description"],
            items=", ".join(change["items"]),
            planned_start=_local(change["planned_start"]),
            planned_end=_local(change["planned_end"]),
            backout_plan=change["backout_plan"],
            approvers=", ".join(a["approver"] or "" for a in change["approvers"]),
            problem=str(change["problem_id"] or ""),
        )

    def fields(self) -> actions.ChangeFields:
        """The action's input; Invalid when a field cannot be read."""
        if max(len(self.description), len(self.backout_plan), len(self.items), len(self.approvers)) > MAX_FIELD:
            raise Invalid("a field is too long")
        problem = self.problem.strip()
        return actions.ChangeFields(
            title=self.title,
            type=self.type or "normal",
            description=self.description,
            items=_names(self.items),
            planned_start=_when(self.planned_start, "planned start"),
            planned_end=_when(self.planned_end, "planned end"),
            backout_plan=self.backout_plan,
            approvers=_names(self.approvers),
            problem_id=int(problem) if problem.isdigit() and len(problem) < 12 else None,
            clear_problem=not problem,
        )
