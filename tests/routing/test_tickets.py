"""The ticket lifecycle: allowed changes, automatic moves, customer notifications."""

import itertools

import pytest

from routing.tickets import (
    STATUSES,
    InvalidTransition,
    StatusNotification,
    TicketRef,
    can_transition,
    check_child_link,
    check_transition,
    notification_for,
    opens_new_ticket,
    sla_clock_running,
    status_after_agent_reply,
    status_after_customer_message,
)

ALLOWED = {
    ("new", "open"),
    ("new", "pending"),
    ("new", "resolved"),
    ("open", "pending"),
    ("open", "resolved"),
    ("pending", "open"),
    ("pending", "resolved"),
    ("resolved", "open"),
    ("resolved", "closed"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_exactly_the_lifecycle_transitions_are_allowed(current, target):
    assert can_transition(current, target) is ((current, target) in ALLOWED)


def test_a_forbidden_transition_says_where_the_ticket_can_go():
    with pytest.raises(
        InvalidTransition,
        match="cannot go from new to closed; from new it can go to open, pending, resolved",
    ):
        check_transition("new", "closed")


def test_closed_is_final():
    with pytest.raises(InvalidTransition, match="closed is final"):
        check_transition("closed", "open")


def test_unknown_statuses_are_invalid_transitions_not_crashes():
    with pytest.raises(InvalidTransition):
        check_transition("archived", "open")  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):
        check_transition("open", "archived")  # type: ignore[arg-type]


def test_staying_in_the_same_status_is_not_a_transition():
    for status in STATUSES:
        assert not can_transition(status, status)


@pytest.mark.parametrize(
    ("current", "after"),
    [
        ("new", "new"),
        ("open", "open"),
        ("pending", "open"),
        ("resolved", "open"),
        ("closed", "closed"),
    ],
)
def test_a_customer_writing_reopens_pending_and_resolved_tickets(current, after):
    assert status_after_customer_message(current) == after


def test_a_customer_writing_on_a_closed_ticket_starts_a_new_one():
    assert opens_new_ticket("closed")
    assert not any(opens_new_ticket(s) for s in STATUSES if s != "closed")


@pytest.mark.parametrize(
    ("current", "waiting", "after"),
    [
        ("new", False, "open"),
        ("new", True, "pending"),
        ("open", False, "open"),
        ("open", True, "pending"),
        ("pending", True, "pending"),
        ("pending", False, "pending"),
        ("resolved", True, "resolved"),
        ("closed", False, "closed"),
    ],
)
def test_an_agent_reply_takes_a_new_ticket_in_hand_or_waits_on_the_customer(current, waiting, after):
    assert status_after_agent_reply(current, waiting_on_customer=waiting) == after


def test_every_automatic_move_is_an_allowed_transition():
    for status in STATUSES:
        for after in (
            status_after_customer_message(status),
            status_after_agent_reply(status),
            status_after_agent_reply(status, waiting_on_customer=True),
        ):
            assert after == status or can_transition(status, after)


def test_the_sla_clock_stops_while_pending_and_after_resolution():
    assert [s for s in STATUSES if sla_clock_running(s)] == ["new", "open"]


@pytest.mark.parametrize(
    ("previous", "current", "event"),
    [
        (None, "new", "created"),
        ("new", "open", "in_progress"),
        ("resolved", "open", "reopened"),
        ("new", "resolved", "resolved"),
        ("open", "resolved", "resolved"),
        ("pending", "resolved", "resolved"),
        ("resolved", "closed", "closed"),
        ("open", "pending", None),
        ("new", "pending", None),
        ("pending", "open", None),
        ("open", "open", None),
    ],
)
def test_which_status_changes_notify_the_customer(previous, current, event):
    expected = None if event is None else StatusNotification("ticket_status", event)
    assert notification_for(previous, current) == expected


def test_child_incidents_link_to_a_major_incident():
    check_child_link(TicketRef(1, "incident"), TicketRef(2, "incident"))
    check_child_link(TicketRef(1, "incident", has_children=True), TicketRef(2, "incident", parent_id=1))


@pytest.mark.parametrize(
    ("parent", "child", "message"),
    [
        (TicketRef(1, "incident"), TicketRef(1, "incident"), "its own child"),
        (TicketRef(1, "request"), TicketRef(2, "incident"), "only incidents"),
        (TicketRef(1, "incident"), TicketRef(2, "request"), "only incidents"),
        (TicketRef(1, "incident", parent_id=9), TicketRef(2, "incident"), "itself a child"),
        (
            TicketRef(1, "incident"),
            TicketRef(2, "incident", has_children=True),
            "children of its own",
        ),
        (
            TicketRef(1, "incident"),
            TicketRef(2, "incident", parent_id=5),
            "already belongs to major incident 5",
        ),
    ],
)
def test_bad_major_incident_links_are_refused(parent, child, message):
    with pytest.raises(ValueError, match=message):
        check_child_link(parent, child)
