"""Reading macros: which ones an actor may see and apply, and their API shape."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from inbox.queries.contact_names import real_name
from inbox.store.models import Agent, Contact, Conversation, Macro, Ticket


def usable_by(agent_id: int | None) -> ColumnElement[bool]:
    """Its own macros and the shared ones; a system actor (no agent) sees them all."""
    if agent_id is None:
        return true()
    return or_(Macro.owner_id == agent_id, Macro.shared.is_(True))


def describe(macro: Macro) -> dict[str, Any]:
    return {
        "id": macro.id,
        "name": macro.name,
        "actions": macro.actions,
        "shared": macro.shared,
        "owner_id": macro.owner_id,
        "created_at": macro.created_at.isoformat(),
        "updated_at": macro.updated_at.isoformat(),
    }


async def list_macros(session: AsyncSession, agent_id: int | None) -> list[Macro]:
    return list((await session.scalars(select(Macro).where(usable_by(agent_id)).order_by(Macro.name, Macro.id))).all())


async def get_macro(session: AsyncSession, agent_id: int | None, macro_id: int) -> Macro | None:
    return await session.scalar(select(Macro).where(Macro.id == macro_id, usable_by(agent_id)))


def variables_of(conn: Connection, conversation_id: int, agent_id: int | None) -> dict[str, str]:
    """The values of the text variables (`{{contact.name}}`, `{{contact.first_name}}`,
    `{{agent.name}}`, `{{ticket.number}}`) for one conversation and agent, as macros and
    canned responses fill them; a value that does not exist (no ticket, no agent) is empty."""
    contact = conn.execute(
        select(Contact.name, Contact.email)
        .join(Conversation, Conversation.contact_id == Contact.id)
        .where(Conversation.id == conversation_id)
    ).one()
    # A widget visitor's key is no name to greet anyone with.
    name = real_name(contact.name) or (contact.email or "").split("@")[0]
    agent_name = ""
    if agent_id is not None:
        agent_name = conn.scalar(select(Agent.name).where(Agent.id == agent_id)) or ""
    number = conn.scalar(select(Ticket.number).where(Ticket.conversation_id == conversation_id).order_by(Ticket.id).limit(1))
    return {
        "contact.name": name,
        "contact.first_name": name.split()[0] if name.split() else "",
        "agent.name": agent_name,
        "ticket.number": str(number) if number is not None else "",
    }
