"""Assignment strategies: round robin fairness, capacity, availability, least open, sticky."""

import datetime as dt
from collections import Counter
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from routing.assignment import AgentState, choose_agent


def agents(*ids, **kw):
    return [AgentState(id=i, **kw) for i in ids]


def run_round_robin(members, n, pointer=None):
    """Assign n conversations in turn, each adding to the chosen agent's open count."""
    members = {m.id: m for m in members}
    chosen = []
    for _ in range(n):
        a = choose_agent("round_robin", list(members.values()), rr_pointer=pointer)
        pointer = a.rr_pointer
        chosen.append(a.agent_id)
        if a.agent_id is not None:
            m = members[a.agent_id]
            members[a.agent_id] = replace(m, open_count=m.open_count + 1)
    return chosen, pointer


def test_round_robin_takes_turns_in_id_order_and_wraps_around():
    chosen, pointer = run_round_robin(agents(3, 1, 2), 7)
    assert chosen == [1, 2, 3, 1, 2, 3, 1]
    assert pointer == 1


def test_round_robin_continues_from_the_stored_pointer():
    assert choose_agent("round_robin", agents(1, 2, 3), rr_pointer=2).agent_id == 3
    assert choose_agent("round_robin", agents(1, 2, 3), rr_pointer=3).agent_id == 1


def test_round_robin_pointer_survives_the_pointed_agent_leaving_the_team():
    # Agent 2 served last and then left: the turn passes to the next id, not back to the start.
    assert choose_agent("round_robin", agents(1, 3, 4), rr_pointer=2).agent_id == 3


def test_round_robin_is_fair_over_many_assignments():
    chosen, _ = run_round_robin(agents(10, 20, 30, 40, 50), 1000)
    assert set(Counter(chosen).values()) == {200}


def test_round_robin_skips_away_and_offline_agents():
    members = [
        AgentState(1),
        AgentState(2, availability="away"),
        AgentState(3, availability="offline"),
        AgentState(4),
    ]
    chosen, _ = run_round_robin(members, 4)
    assert chosen == [1, 4, 1, 4]


def test_round_robin_respects_capacity_and_then_leaves_it_with_the_team():
    members = [AgentState(1, capacity=1), AgentState(2, capacity=2)]
    chosen, _ = run_round_robin(members, 5)
    assert chosen == [1, 2, 2, None, None]


def test_an_agent_at_capacity_gets_work_again_once_one_is_closed():
    full = AgentState(1, capacity=2, open_count=2)
    assert choose_agent("round_robin", [full]).agent_id is None
    assert choose_agent("round_robin", [replace(full, open_count=1)]).agent_id == 1


def test_capacity_zero_takes_nothing_and_none_is_unlimited():
    assert choose_agent("round_robin", [AgentState(1, capacity=0)]).agent_id is None
    assert choose_agent("round_robin", [AgentState(1, capacity=None, open_count=10_000)]).agent_id == 1


def test_nobody_available_keeps_the_pointer_and_says_why():
    a = choose_agent("round_robin", agents(1, 2, availability="away"), rr_pointer=1)
    assert (a.agent_id, a.rr_pointer, a.reason) == (None, 1, "nobody_available")
    assert choose_agent("least_open", []).reason == "nobody_available"


def test_least_open_picks_the_online_agent_with_fewest_open_conversations():
    members = [
        AgentState(1, open_count=3),
        AgentState(2, open_count=1),
        AgentState(3, open_count=0, availability="away"),
        AgentState(4, open_count=2),
    ]
    a = choose_agent("least_open", members, rr_pointer=9)
    assert (a.agent_id, a.reason, a.rr_pointer) == (2, "least_open", 9)


def test_least_open_breaks_ties_by_least_recently_assigned_then_id():
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    members = [
        AgentState(1, open_count=1, last_assigned_at=t + dt.timedelta(hours=1)),
        AgentState(2, open_count=1, last_assigned_at=t),
        AgentState(3, open_count=1, last_assigned_at=t + dt.timedelta(hours=2)),
    ]
    assert choose_agent("least_open", members).agent_id == 2
    never = [AgentState(5, open_count=1), AgentState(4, open_count=1), *members]
    assert choose_agent("least_open", never).agent_id == 4


def test_least_open_skips_agents_at_capacity():
    members = [AgentState(1, capacity=1, open_count=1), AgentState(2, capacity=10, open_count=5)]
    assert choose_agent("least_open", members).agent_id == 2


def test_manual_never_assigns_anyone_even_a_sticky_agent():
    a = choose_agent("manual", agents(1, 2), previous_agent_id=1, rr_pointer=2)
    assert (a.agent_id, a.rr_pointer, a.reason) == (None, 2, "manual")


def test_sticky_returns_the_contact_to_their_previous_agent_without_using_a_turn():
    a = choose_agent("round_robin", agents(1, 2, 3), previous_agent_id=3, rr_pointer=1)
    assert (a.agent_id, a.rr_pointer, a.reason) == (3, 1, "sticky")
    a = choose_agent("least_open", [AgentState(1), AgentState(2, open_count=5)], previous_agent_id=2)
    assert (a.agent_id, a.reason) == (2, "sticky")


def test_sticky_falls_back_to_the_strategy_when_the_previous_agent_cannot_take_it():
    away = [AgentState(1), AgentState(2, availability="away")]
    assert choose_agent("round_robin", away, previous_agent_id=2).agent_id == 1
    full = [AgentState(1), AgentState(2, capacity=1, open_count=1)]
    assert choose_agent("round_robin", full, previous_agent_id=2).agent_id == 1
    not_member = agents(1, 2)
    assert choose_agent("round_robin", not_member, previous_agent_id=7).reason == "round_robin"


def test_sticky_can_be_turned_off():
    a = choose_agent("round_robin", agents(1, 2), previous_agent_id=2, sticky=False)
    assert (a.agent_id, a.reason) == (1, "round_robin")


def test_unknown_strategy_is_an_error():
    import pytest

    with pytest.raises(ValueError, match="round_robin, least_open, manual"):
        choose_agent("random", agents(1))  # type: ignore[arg-type]


member_strategy = st.builds(
    AgentState,
    id=st.integers(1, 30),
    availability=st.sampled_from(["online", "away", "offline"]),
    capacity=st.one_of(st.none(), st.integers(0, 5)),
    open_count=st.integers(0, 6),
)


@given(
    st.lists(member_strategy, max_size=8, unique_by=lambda m: m.id),
    st.one_of(st.none(), st.integers(0, 31)),
)
def test_whoever_is_chosen_is_online_and_under_capacity(members, pointer):
    for strategy in ("round_robin", "least_open"):
        a = choose_agent(strategy, members, rr_pointer=pointer)
        eligible = {m.id for m in members if m.can_take_more}
        if eligible:
            assert a.agent_id in eligible
        else:
            assert a.agent_id is None


@given(st.lists(st.integers(1, 50), min_size=1, max_size=8, unique=True), st.integers(1, 5))
def test_round_robin_gives_each_online_agent_the_same_share_per_full_cycle(ids, cycles):
    chosen, _ = run_round_robin(agents(*ids), len(ids) * cycles)
    assert Counter(chosen) == {i: cycles for i in ids}
