"""LeaseTimer: the pure arithmetic of renewing a lease and of giving it up in time."""

from __future__ import annotations

import pytest

from chatactors.cluster.lease import DRIFT_FACTOR, LeaseTimer


def test_the_lease_is_trusted_until_a_margin_before_redis_expires_it() -> None:
    timer = LeaseTimer(sent_at=100.0, ttl_s=10.0)
    # Redis expires it no earlier than 110 (it received the claim after 100).
    assert timer.valid_until == pytest.approx(110.0 - 10.0 * DRIFT_FACTOR)
    assert timer.valid_until < 110.0
    assert timer.is_valid(109.0)
    assert not timer.is_valid(timer.valid_until)


def test_renewal_is_due_well_before_expiry_leaving_room_for_retries() -> None:
    timer = LeaseTimer(sent_at=0.0, ttl_s=9.0)
    assert timer.renew_at == pytest.approx(3.0)
    attempts_before_expiry = (timer.valid_until - timer.renew_at) / timer.retry_interval_s
    assert attempts_before_expiry >= 4


def test_a_renewal_counts_from_when_it_was_sent_and_never_moves_back() -> None:
    timer = LeaseTimer(sent_at=0.0, ttl_s=9.0).renewed(sent_at=3.0)
    assert timer.sent_at == 3.0
    assert timer.valid_until == pytest.approx(3.0 + 9.0 * (1 - DRIFT_FACTOR))
    # A late answer to an older renewal must not shorten a newer one.
    assert timer.renewed(sent_at=2.0).sent_at == 3.0
