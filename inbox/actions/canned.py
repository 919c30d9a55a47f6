"""Canned responses: saved replies agents insert from the reply box, kept by name."""

from __future__ import annotations

from sqlalchemy import delete, select

from inbox.actions.runner import Actor, Context, Tx, perform
from inbox.errors import Invalid, NotFound
from inbox.store.models import CannedResponse

MAX_NAME = 255


async def save_canned(ctx: Context, actor: Actor, name: str, text: str) -> None:
    """Add a canned response, or replace the text of the one with this name."""
    name, text = name.strip(), text.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid(f"name: 1 to {MAX_NAME} characters")
    if not text:
        raise Invalid("text: must not be empty")

    def work(tx: Tx) -> None:
        row = tx.session.scalar(select(CannedResponse).where(CannedResponse.name == name))
        if row is None:
            tx.session.add(CannedResponse(name=name, text=text, created_at=tx.now))
        else:
            row.text = text
        tx.audit("canned.save", f"canned:{name}", {"created": row is None})

    await perform(ctx.db, ctx.bus, actor, work)


async def delete_canned(ctx: Context, actor: Actor, name: str) -> None:
    name = name.strip()

    def work(tx: Tx) -> None:
        if tx.conn.execute(delete(CannedResponse).where(CannedResponse.name == name)).rowcount == 0:
            raise NotFound.of("canned response")
        tx.audit("canned.delete", f"canned:{name}")

    await perform(ctx.db, ctx.bus, actor, work)
