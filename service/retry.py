"""Retry policy: when a temporarily failed follow-up is tried again, and when to give up."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_attempt(
    attempt: int,
    now: datetime,
    *,
    minimum: timedelta,
    maximum: timedelta,
    rng: random.Random,
) -> datetime:
    """Exponential backoff with jitter, always between `minimum` and `maximum`.

    Attempt n waits a random time between `minimum` and `minimum * 2**n` (capped at `maximum`),
    so retries spread out instead of hammering a struggling server in step.
    """
    low = minimum.total_seconds()
    # The exponent is capped: 2.0**1024 overflows a float, and a long retry lifetime with a
    # short maximum wait can reach that many attempts.
    high = min(maximum.total_seconds(), low * 2 ** min(max(1, attempt), 64))
    return now + timedelta(seconds=rng.uniform(low, max(low, high)))


def gave_up(first_attempt_at: datetime | None, now: datetime, lifetime: timedelta) -> bool:
    """Whether a follow-up first tried at first_attempt_at has been retried long enough."""
    return first_attempt_at is not None and now - first_attempt_at >= lifetime
