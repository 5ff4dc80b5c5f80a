"""When the worker should look again: the next moment anything becomes due.

Each question is its own MIN over an indexed column, so an idle worker stays cheap with many
follow-ups planned far ahead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute

from service.approval import ReviewRule
from service.config import Settings
from service.db import Database
from service.delivery.claims import sent_last_hour
from service.models import LIVE, FollowUp, Status


def next_wake(db: Database, settings: Settings, rule: ReviewRule, now: datetime) -> datetime | None:
    """The next moment something becomes due: a send, a retry, a review, an expiry, a lease."""
    planned = Status.PLANNED
    with db.reading() as session:

        def earliest(
            column: InstrumentedAttribute[Any], *conditions: ColumnElement[bool]
        ) -> datetime | None:
            return session.scalar(select(func.min(column)).where(*conditions))

        started = earliest(FollowUp.sending_started_at, FollowUp.status == Status.SENDING)
        review = earliest(FollowUp.due_at, FollowUp.status == planned, rule.sql())
        candidates = [
            earliest(FollowUp.due_at, FollowUp.status == planned, ~rule.sql()),
            earliest(FollowUp.due_at, FollowUp.status == Status.APPROVED),
            earliest(FollowUp.retry_at, FollowUp.status == Status.DEFERRED),
            earliest(
                FollowUp.expires_at, FollowUp.expires_at.is_not(None), FollowUp.status.in_(LIVE)
            ),
            # Another worker's claims, should it die holding them.
            earliest(FollowUp.claim_until, FollowUp.status.in_(LIVE), FollowUp.claim_until > now),
            started + settings.send_lease if started else None,
            review - settings.review_lead if review else None,
        ]
    times = [c for c in candidates if c is not None]
    if not times:
        return None
    wake = min(times)
    if settings.smtp and settings.max_per_hour and sent_last_hour(db, now) >= settings.max_per_hour:
        with db.reading() as session:
            oldest = session.scalar(
                select(func.min(FollowUp.sent_at)).where(
                    FollowUp.status == Status.SENT, FollowUp.sent_at > now - timedelta(hours=1)
                )
            )
        if oldest is not None:
            # Nothing more may go out before the oldest send of the hour drops out.
            wake = max(wake, oldest + timedelta(hours=1))
    return wake
