"""The sign-in throttle on its own: budgets, growing delays, promised slots, forgetting."""

from __future__ import annotations

from inbox.web.login_throttle import (
    ADDRESS,
    CLIENT,
    PAIR,
    WINDOW,
    LoginThrottle,
    delay_after,
    normalised,
    seconds,
)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, clock: Clock, address: str, client: str, times: int) -> None:
    """`times` wrong passwords, each as soon as it is admitted."""
    for _ in range(times):
        wait = throttle.admit(address, client)
        clock.now += wait
        assert wait == 0 or throttle.admit(address, client) == 0


def test_delays_start_after_the_budget_double_and_stop_at_the_cap() -> None:
    assert [delay_after(n, PAIR) for n in range(4)] == [0.0] * 4
    assert [delay_after(n, PAIR) for n in range(5, 10)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delay_after(40, PAIR) == PAIR.cap and delay_after(10_000, ADDRESS) == ADDRESS.cap
    assert delay_after(CLIENT.free - 1, CLIENT) == 0.0
    assert [seconds(w) for w in (0.01, 1.0, 1.2, 59.9)] == [1, 1, 2, 60]
    assert normalised("  Ana@Example.COM\t") == "ana@example.com"


def test_an_attempt_is_counted_when_admitted_so_parallel_guesses_wait_too() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(PAIR.free):
        assert throttle.admit("ana@example.com", "10.0.0.1") == 0
    # Five attempts in flight, none answered yet: the sixth waits all the same.
    assert throttle.admit("ana@example.com", "10.0.0.1") == 1.0
    clock.now += 0.25
    assert throttle.admit("ana@example.com", "10.0.0.1") == 0.75


def test_a_right_password_forgives_the_pairs_own_failures_but_not_other_clients() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    fail(throttle, clock, "ana@example.com", "10.0.0.9", ADDRESS.free - 3)  # an attacker
    fail(throttle, clock, "ana@example.com", "10.0.0.1", 2)  # the owner mistypes
    assert throttle.admit("ana@example.com", "10.0.0.1") == 0
    throttle.succeeded("ana@example.com", "10.0.0.1")
    # The owner's three attempts are taken back; the attacker's seven still count.
    fail(throttle, clock, "ana@example.com", "10.0.0.2", 2)
    assert throttle.admit("ana@example.com", "10.0.0.3") == 0  # the tenth failure on the address
    assert throttle.admit("ana@example.com", "10.0.0.4") > 0


def test_a_refused_client_without_failures_keeps_its_promised_slot() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for host in range(ADDRESS.free):  # many hosts, one guess each: only the address count grows
        assert throttle.admit("ana@example.com", f"10.0.1.{host}") == 0
    wait = throttle.admit("ana@example.com", "owner")
    assert wait == 1.0
    clock.now += wait
    assert throttle.admit("ana@example.com", "10.0.2.1") == 0  # another host takes the open slot
    assert throttle.admit("ana@example.com", "10.0.2.2") == 2.0  # and moves the address's delay on
    assert throttle.admit("ana@example.com", "owner") == 0  # the owner's promise holds
    throttle.succeeded("ana@example.com", "owner")


def test_a_failing_client_gets_no_promise() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for host in range(ADDRESS.free):
        throttle.admit("ana@example.com", f"10.0.1.{host}")
    assert throttle.admit("ana@example.com", "10.0.1.0") == 1.0  # it failed here already
    clock.now += 1.0
    assert throttle.admit("ana@example.com", "10.0.2.1") == 0
    assert throttle.admit("ana@example.com", "10.0.1.0") == 2.0  # no slot kept for it


def test_counts_are_forgotten_after_the_window_and_memory_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock, max_keys=40)
    fail(throttle, clock, "ana@example.com", "10.0.0.1", PAIR.free)
    assert throttle.admit("ana@example.com", "10.0.0.1") > 0
    clock.now += WINDOW + 1
    assert throttle.admit("ana@example.com", "10.0.0.1") == 0
    for n in range(200):
        throttle.admit(f"user{n}@example.com", f"10.9.{n}.1")
    assert len(throttle._counts) <= 40
