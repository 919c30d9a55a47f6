"""Request types made by admins (the API and the admin UI). Those from the config file
(`[[request_types]]`, provisioned at start) are read-only here: the file is their truth."""

from __future__ import annotations

from sqlalchemy import select

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Conflict, Forbidden, NotFound
from inbox.store.models import RequestType
from routing.request_types import RequestTypeSpec


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("only admins change request types")


def _apply(row: RequestType, spec: RequestTypeSpec) -> None:
    row.name = spec.name
    row.description = spec.description
    row.fields = [f.model_dump(mode="json") for f in spec.fields]
    row.team = spec.team
    row.priority = spec.priority
    row.approver = spec.approver


async def create_request_type(ctx: Context, actor: Actor, spec: RequestTypeSpec) -> int:
    _require_admin(actor)

    def work(tx: Tx) -> int:
        if tx.session.scalar(select(RequestType.id).where(RequestType.name == spec.name)) is not None:
            raise Conflict(f"a request type named {spec.name!r} exists", code="name_taken")
        row = RequestType(provisioned=False, created_at=tx.now, updated_at=tx.now)
        _apply(row, spec)
        tx.session.add(row)
        tx.session.flush()
        tx.audit("request_type.create", f"request_type:{row.id}", {"name": spec.name, "fields": len(spec.fields)})
        return row.id

    return await perform(ctx.db, ctx.bus, actor, work)


async def update_request_type(ctx: Context, actor: Actor, type_id: int, spec: RequestTypeSpec) -> None:
    _require_admin(actor)

    def work(tx: Tx) -> None:
        row = tx.session.get(RequestType, type_id)
        if row is None:
            raise NotFound.of("request type")
        if row.provisioned:
            raise Forbidden("this request type comes from the config file; change it there", code="provisioned")
        clash = tx.session.scalar(select(RequestType.id).where(RequestType.name == spec.name, RequestType.id != type_id))
        if clash is not None:
            raise Conflict(f"a request type named {spec.name!r} exists", code="name_taken")
        _apply(row, spec)
        row.updated_at = tx.now
        tx.audit("request_type.update", f"request_type:{type_id}", {"name": spec.name, "fields": len(spec.fields)})

    await perform(ctx.db, ctx.bus, actor, work)


async def delete_request_type(ctx: Context, actor: Actor, type_id: int) -> None:
    """Tickets keep their type's name and answers; only the catalogue entry goes."""
    _require_admin(actor)

    def work(tx: Tx) -> None:
        row = tx.session.get(RequestType, type_id)
        if row is None:
            raise NotFound.of("request type")
        if row.provisioned:
            raise Forbidden("this request type comes from the config file; remove it there", code="provisioned")
        tx.session.delete(row)
        tx.audit("request_type.delete", f"request_type:{type_id}", {"name": row.name})

    await perform(ctx.db, ctx.bus, actor, work)
