"""The life of a ticket: which status changes are allowed, what moves it on its own,
and which changes the customer is told about.

    new -> open -> pending -> resolved -> closed
            ^________|          |
            ^___________________|   (reopened when the customer writes again)

A closed ticket stays closed: a customer writing afterwards starts a new ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from routing.vocabulary import TICKET_STATUSES, TicketKind, TicketStatus

STATUSES = TICKET_STATUSES

# Why a customer is told about a change: one template, this variable decides the text.
NotificationEvent = Literal["created", "in_progress", "resolved", "reopened", "closed"]
STATUS_TEMPLATE = "ticket_status"

TRANSITIONS: Mapping[str, frozenset[TicketStatus]] = {
    "new": frozenset({"open", "pending", "resolved"}),
    "open": frozenset({"pending", "resolved"}),
    "pending": frozenset({"open", "resolved"}),
    "resolved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


_ON_OPEN: Mapping[str, NotificationEvent] = {"new": "in_progress", "resolved": "reopened"}


class InvalidTransition(ValueError):
    """A status change the ticket's life does not allow."""

    def __init__(self, current: str, target: str) -> None:
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        hint = f"from {current} it can go to {', '.join(allowed)}" if allowed else f"{current} is final"
        super().__init__(f"a ticket cannot go from {current} to {target}; {hint}")
        self.current = current
        self.target = target


def can_transition(current: TicketStatus, target: TicketStatus) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    """Raise InvalidTransition unless `current -> target` is allowed (a no-op is not)."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, target)


def status_after_customer_message(current: TicketStatus) -> TicketStatus:
    """A customer writing puts a waiting or resolved ticket back in the agents' hands.

    For a closed ticket the status stays closed: see `opens_new_ticket`.
    """
    if current in ("pending", "resolved"):
        return "open"
    return current


def opens_new_ticket(current: TicketStatus) -> bool:
    """A customer writing on a closed ticket starts a new one."""
    return current == "closed"


def status_after_agent_reply(current: TicketStatus, *, waiting_on_customer: bool = False) -> TicketStatus:
    """A public agent reply takes a new ticket in hand; asking the customer something
    (waiting_on_customer) makes it pending."""
    if current in ("new", "open", "pending") and waiting_on_customer:
        return "pending"
    if current == "new":
        return "open"
    return current


def sla_clock_running(status: TicketStatus) -> bool:
    """The resolution clock stops while waiting on the customer and once resolved."""
    return status in ("new", "open")


@dataclass(frozen=True, slots=True)
class StatusNotification:
    template: str
    event: NotificationEvent


def notification_for(previous: TicketStatus | None, current: TicketStatus) -> StatusNotification | None:
    """The customer notification a status change sends, if any (`previous` None: created).

    Pending is not announced (the agent's own message says what is needed), nor is a
    customer's reply reopening a pending ticket (they know: they wrote).
    """
    event: NotificationEvent | None
    if previous is None:
        event = "created"
    elif previous == current:
        event = None
    elif current == "open":
        event = _ON_OPEN.get(previous)
    elif current in ("resolved", "closed"):
        event = current
    else:
        event = None
    return None if event is None else StatusNotification(STATUS_TEMPLATE, event)


@dataclass(frozen=True, slots=True)
class TicketRef:
    """Enough of a ticket to check a link between two of them."""

    id: int
    kind: TicketKind
    parent_id: int | None = None
    has_children: bool = False


def check_child_link(parent: TicketRef, child: TicketRef) -> None:
    """A major incident groups child incidents, one level deep. Raise ValueError if not."""
    if parent.id == child.id:
        raise ValueError("an incident cannot be its own child")
    if parent.kind != "incident" or child.kind != "incident":
        raise ValueError("only incidents can be linked to a major incident")
    if parent.parent_id is not None:
        raise ValueError(f"ticket {parent.id} is itself a child; link to its major incident instead")
    if child.has_children:
        raise ValueError(f"ticket {child.id} is a major incident with children of its own")
    if child.parent_id is not None and child.parent_id != parent.id:
        raise ValueError(f"ticket {child.id} already belongs to major incident {child.parent_id}")
