"""Retry policy: waits grow, stay in bounds, spread out, and stop after the lifetime."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from service.retry import gave_up, next_attempt

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
MAX = timedelta(hours=1)


def waits(attempt: int, n: int = 300, *, minimum=MIN, maximum=MAX, seed: int = 0) -> list:
    rng = random.Random(seed)
    return [
        next_attempt(attempt, NOW, minimum=minimum, maximum=maximum, rng=rng) - NOW
        for _ in range(n)
    ]


@pytest.mark.parametrize("attempt", [1, 2, 3, 5, 8, 12, 50, 1100, 100_000])
@pytest.mark.parametrize(
    "minimum, maximum",
    [
        (MIN, MAX),
        (timedelta(seconds=1), timedelta(seconds=1)),
        (timedelta(seconds=30), timedelta(days=1)),
    ],
)
def test_wait_is_always_within_minimum_and_maximum_and_in_the_future(attempt, minimum, maximum):
    for wait in waits(attempt, 200, minimum=minimum, maximum=maximum):
        assert timedelta(0) < wait
        assert minimum <= wait <= maximum


def test_upper_bound_doubles_with_each_attempt_until_capped():
    # Attempt n waits at most minimum * 2**n: 2, 4, 8, 16, 32 minutes, then the 1 h cap.
    for attempt, bound in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (7, 60), (20, 60)]:
        observed = waits(attempt, 2000)
        assert max(observed) <= timedelta(minutes=bound)
        # The jitter really reaches up towards the bound (and is not stuck at the minimum).
        assert max(observed) > timedelta(minutes=bound) * 0.9
        assert min(observed) < MIN + (timedelta(minutes=bound) - MIN) * 0.1


def test_first_retry_comes_soon():
    assert all(w <= 2 * MIN for w in waits(1, 500))


def test_jitter_spreads_retries_out():
    # Many follow-ups failing together must not all come back in the same second.
    same_pass = waits(4, 100, seed=1)
    assert len({w.total_seconds() for w in same_pass}) == 100
    # Different random sources give different times; the same seed gives the same ones.
    by_seed = {tuple(waits(4, 5, seed=seed)) for seed in range(20)}
    assert len(by_seed) == 20
    assert waits(4, 5, seed=3) == waits(4, 5, seed=3)


def test_gives_up_after_the_lifetime_only():
    lifetime = timedelta(days=3)
    first = NOW - lifetime
    assert not gave_up(first, NOW - timedelta(seconds=1), lifetime)
    assert not gave_up(first, first, lifetime)
    assert not gave_up(first, first + timedelta(days=2, hours=23, minutes=59), lifetime)
    assert gave_up(first, NOW, lifetime)
    assert gave_up(first, NOW + timedelta(seconds=1), lifetime)
    assert gave_up(first, NOW + timedelta(days=30), lifetime)


def test_a_follow_up_never_tried_has_not_given_up():
    assert not gave_up(None, NOW, timedelta(days=3))
    assert not gave_up(None, NOW + timedelta(days=365), timedelta(seconds=1))
