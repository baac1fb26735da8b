"""The link's health, pure: when Redis counts as down, and when the next attempt may go."""

from __future__ import annotations

from chatactors.cluster.redis.health import FIRST_BACKOFF_S, MAX_BACKOFF_S, Attempt, Health

#: The longest backoff: no jitter (the jitter is a factor in [0.5, 1]).
WHOLE = 1.0


def test_up_lets_everything_through() -> None:
    health = Health()
    assert [health.attempt(now) for now in (0.0, 0.0, 1.0)] == [Attempt.ORDINARY] * 3
    assert health.succeeded() is None


def test_the_first_failure_makes_it_down_and_refuses_until_the_backoff() -> None:
    health = Health()
    assert health.failed(10.0, WHOLE, Attempt.ORDINARY)
    assert health.down
    assert health.attempt(10.0) is Attempt.REFUSED
    assert health.attempt(10.0 + FIRST_BACKOFF_S * 0.9) is Attempt.REFUSED
    # Once the backoff has passed: one probe, and nobody else while it is out.
    assert health.attempt(10.0 + FIRST_BACKOFF_S) is Attempt.PROBE
    assert health.attempt(10.0 + FIRST_BACKOFF_S) is Attempt.REFUSED
    assert health.attempt(20.0) is Attempt.REFUSED


def test_each_failed_probe_doubles_the_backoff_up_to_the_bound() -> None:
    health = Health()
    now = 0.0
    health.failed(now, WHOLE, Attempt.ORDINARY)
    for backoff in (0.05, 0.1, 0.2, 0.4, 0.8, MAX_BACKOFF_S, MAX_BACKOFF_S):
        assert health.attempt(now + backoff * 0.99) is Attempt.REFUSED
        now += backoff
        assert health.attempt(now) is Attempt.PROBE
        assert not health.failed(now, WHOLE, Attempt.PROBE)  # down already: not "newly"


def test_jitter_shortens_a_backoff_by_up_to_half() -> None:
    health = Health()
    health.failed(0.0, 0.5, Attempt.ORDINARY)
    assert health.attempt(FIRST_BACKOFF_S * 0.5) is Attempt.PROBE


def test_a_probe_that_succeeds_ends_the_outage() -> None:
    health = Health()
    health.failed(5.0, WHOLE, Attempt.ORDINARY)
    assert health.attempt(6.0) is Attempt.PROBE
    assert health.succeeded() == 5.0
    assert not health.down
    assert health.attempt(6.0) is Attempt.ORDINARY
    # A later outage starts again from the first backoff.
    health.failed(7.0, WHOLE, Attempt.ORDINARY)
    assert health.attempt(7.0 + FIRST_BACKOFF_S) is Attempt.PROBE


def test_failures_of_operations_already_under_way_change_nothing_more() -> None:
    health = Health()
    assert health.failed(0.0, WHOLE, Attempt.ORDINARY)
    # Operations that set out while Redis was up fail too, later: no new backoff.
    assert not health.failed(0.04, WHOLE, Attempt.ORDINARY)
    assert health.attempt(FIRST_BACKOFF_S) is Attempt.PROBE


def test_a_cancelled_probe_lets_the_next_operation_probe() -> None:
    health = Health()
    health.failed(0.0, WHOLE, Attempt.ORDINARY)
    assert health.attempt(1.0) is Attempt.PROBE
    health.abandoned(Attempt.PROBE)
    assert health.attempt(1.0) is Attempt.PROBE
    # An ordinary operation abandoned does not free a probe under way.
    health.abandoned(Attempt.ORDINARY)
    assert health.attempt(1.0) is Attempt.REFUSED
