"""Claims: a worker leases the follow-ups it is about to work on. Claimed is not sending.

A claim is only a lease (`claimed_by`, `claim_until`): the follow-up keeps its status, so closing
its interview, a cancel or a reply still stops it, and a worker that dies holding it simply
lets the lease run out, after which any worker takes it. Postgres skips rows another worker is
claiming (FOR UPDATE SKIP LOCKED); SQLite lets one writer in at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select, update

from service.approval import ReviewRule
from service.db import Database
from service.models import FollowUp, Status


def to_send(now: datetime, rule: ReviewRule) -> ColumnElement[bool]:
    """Follow-ups that may go out now, as far as their status and time say."""
    return or_(
        and_(FollowUp.status == Status.PLANNED, ~rule.sql(), FollowUp.due_at <= now),
        and_(FollowUp.status == Status.APPROVED, FollowUp.due_at <= now),
        and_(FollowUp.status == Status.DEFERRED, FollowUp.retry_at <= now),
    )


def to_review(now: datetime, rule: ReviewRule, lead: timedelta) -> ColumnElement[bool]:
    """Follow-ups that need approval and enter the review window: to be rendered for review."""
    return and_(FollowUp.status == Status.PLANNED, rule.sql(), FollowUp.due_at <= now + lead)


def unclaimed(now: datetime) -> ColumnElement[bool]:
    return or_(FollowUp.claim_until.is_(None), FollowUp.claim_until <= now)


def claim(
    db: Database,
    now: datetime,
    *,
    limit: int,
    actor: str,
    lease: timedelta,
    rule: ReviewRule,
    review_lead: timedelta,
    sending: bool = True,
) -> list[int]:
    """Lease up to `limit` follow-ups that are due (to send, or to render for review), soonest
    first; returns their ids. With `sending` False only review work is taken."""
    wanted = to_review(now, rule, review_lead)
    if sending:
        wanted = or_(to_send(now, rule), wanted)
    with db.transaction() as session:
        ids = session.scalars(
            select(FollowUp.id)
            .where(wanted, unclaimed(now))
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if ids:
            session.execute(
                update(FollowUp)
                .where(FollowUp.id.in_(ids))
                .values(claimed_by=actor, claim_until=now + lease)
                .execution_options(synchronize_session=False)
            )
    return list(ids)


def release(db: Database, ids: list[int], actor: str) -> None:
    """Give back leases this worker will not use: the follow-ups are due again at once."""
    if not ids:
        return
    with db.transaction() as session:
        session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_(ids), FollowUp.claimed_by == actor, FollowUp.status != "sending")
            .values(claim_until=None)
            .execution_options(synchronize_session=False)
        )


def sent_last_hour(db: Database, now: datetime) -> int:
    """Messages sent in the last hour, counting those on their way right now."""
    with db.reading() as session:
        return session.execute(
            select(func.count(FollowUp.id)).where(
                or_(
                    and_(
                        FollowUp.status == Status.SENT, FollowUp.sent_at > now - timedelta(hours=1)
                    ),
                    FollowUp.status == Status.SENDING,
                )
            )
        ).scalar_one()
