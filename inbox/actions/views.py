"""Saved views: an agent names a set of inbox filters, for themself or shared with everyone.
Only the owner or an admin changes or deletes one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Forbidden, Invalid, NotFound
from inbox.queries.views import FILTER_KEYS, find_view, may_change
from inbox.store.models import SavedView
from routing.vocabulary import CONVERSATION_STATUSES, PRIORITIES

MAX_NAME = 100
MAX_WAIT = 525_600  # a year, in minutes
SLA_STATES = ("due_soon", "breached")
_TEXT_LIMITS = {"channel": 63, "assignee": 254, "team": 100, "tag": 64, "q": 200}


def clean_filters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The filters a view may hold, checked; empty values are dropped."""
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise Invalid(f"unknown filter {unknown[0]!r} (known: {', '.join(FILTER_KEYS)})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if key == "waiting_minutes_over":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WAIT:
                raise Invalid(f"waiting_minutes_over is a whole number of minutes from 0 to {MAX_WAIT}")
            out[key] = value
            continue
        if not isinstance(value, str):
            raise Invalid(f"filter {key} is a string")
        value = value.strip()
        if key == "status" and value not in CONVERSATION_STATUSES:
            raise Invalid(f"status is one of {', '.join(CONVERSATION_STATUSES)}")
        if key == "priority" and value not in PRIORITIES:
            raise Invalid(f"priority is one of {', '.join(PRIORITIES)}")
        if key == "sla" and value not in SLA_STATES:
            raise Invalid("sla is due_soon or breached")
        if key in _TEXT_LIMITS and len(value) > _TEXT_LIMITS[key]:
            raise Invalid(f"filter {key} is at most {_TEXT_LIMITS[key]} characters")
        if value:
            out[key] = value.lower() if key == "assignee" else value
    return out


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise Invalid("a view needs a name")
    if len(name) > MAX_NAME:
        raise Invalid(f"a view's name is at most {MAX_NAME} characters")
    return name


def _agent_of(actor: Actor) -> int:
    if actor.agent_id is None or actor.principal is None:
        raise Forbidden("views belong to agents")
    return actor.agent_id


async def create_view(ctx: Context, actor: Actor, name: str, filters: Mapping[str, Any], *, shared: bool = False) -> int:
    owner = _agent_of(actor)
    name, cleaned = _clean_name(name), clean_filters(filters)

    def work(tx: Tx) -> int:
        view = SavedView(owner_id=owner, name=name, filters=cleaned, shared=shared, created_at=tx.now, updated_at=tx.now)
        tx.session.add(view)
        tx.session.flush()
        tx.audit("view.create", f"view:{view.id}", {"name": name, "filters": cleaned, "shared": shared})
        return view.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_view(
    ctx: Context,
    actor: Actor,
    view_id: int,
    *,
    name: str | None = None,
    filters: Mapping[str, Any] | None = None,
    shared: bool | None = None,
) -> None:
    """Change what is given (None leaves it as it is)."""
    _agent_of(actor)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if filters is not None:
        changes["filters"] = clean_filters(filters)
    if shared is not None:
        changes["shared"] = shared

    def work(tx: Tx) -> None:
        view = _changeable(tx, actor, view_id)
        for key, value in changes.items():
            setattr(view, key, value)
        view.updated_at = tx.now
        tx.audit("view.update", f"view:{view_id}", changes)

    await perform(ctx.db, ctx.bus, actor, work)


async def delete_view(ctx: Context, actor: Actor, view_id: int) -> None:
    _agent_of(actor)

    def work(tx: Tx) -> None:
        view = _changeable(tx, actor, view_id)
        tx.session.delete(view)
        tx.audit("view.delete", f"view:{view_id}", {"name": view.name})

    await perform(ctx.db, ctx.bus, actor, work)


def _changeable(tx: Tx, actor: Actor, view_id: int) -> SavedView:
    assert actor.principal is not None
    view = find_view(tx.session, actor.principal, view_id)
    if view is None:
        raise NotFound.of("view")
    if not may_change(actor.principal, view):
        raise Forbidden("only the view's owner or an admin changes it")
    return view
