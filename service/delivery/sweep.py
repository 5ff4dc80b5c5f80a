"""Housekeeping before each pass: streams whose worker died, and follow-ups that are too late.

A stream is dead when none of its `sending` follow-ups moved for FOLLOWUP_SEND_LEASE. By the
stream invariant (see stream.py) only its first such follow-up can have reached the server: it
becomes `uncertain`, for the user to check; the others never sent their data and are due again.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import events
from service.db import Database
from service.models import LIVE, FollowUp, Reason, Status

log = logging.getLogger(__name__)

#: What the user reads on a follow-up its worker stopped sending.
INTERRUPTED = (
    "interrupted while sending: the server may have it; check your Sent folder, then "
    "`followup retry ID` or `followup cancel ID`"
)


def recover_streams(db: Database, now: datetime, lease: timedelta, *, actor: str) -> int:
    """Settle the `sending` follow-ups of dead streams; returns how many became uncertain."""
    cutoff = now - lease
    flagged = 0
    with db.reading() as session:  # the common case: nothing is stuck, and nothing is locked
        stuck = session.scalar(
            select(FollowUp.id)
            .where(FollowUp.status == Status.SENDING, FollowUp.sending_started_at < cutoff)
            .limit(1)
        )
    if stuck is None:
        return 0
    with db.transaction() as session:
        rows = session.execute(
            select(
                FollowUp.id,
                FollowUp.stream,
                FollowUp.send_seq,
                FollowUp.sending_started_at,
                FollowUp.send_from,
                FollowUp.attempts,
            )
            .where(FollowUp.status == Status.SENDING)
            .with_for_update()
        ).all()
        streams: dict[str | None, list] = defaultdict(list)
        for row in rows:
            streams[row.stream].append(row)
        for stream, members in streams.items():
            if max(r.sending_started_at for r in members) >= cutoff:
                continue  # alive (or only just quiet): its worker is still on it
            members.sort(key=lambda r: (r.send_seq or 0, r.id))
            first, rest = members[0], members[1:]
            if stream is None:  # from before streams existed: nothing can be told apart
                for r in members:
                    flagged += _flag(session, r.id, now, actor)
                continue
            flagged += _flag(session, first.id, now, actor)
            for r in rest:
                events.transition(
                    session,
                    r.id,
                    [Status.SENDING],
                    r.send_from or Status.PLANNED,
                    now,
                    actor=actor,
                    kind="released",
                    detail=f"its stream {stream} stopped before its data went out: due again",
                    attempts=max(0, r.attempts - 1),
                    send_from=None,
                    stream=None,
                    send_seq=None,
                    sending_started_at=None,
                    claim_until=None,
                )
    return flagged


def _flag(session: Session, followup_id: int, now: datetime, actor: str) -> int:
    events.transition(
        session,
        followup_id,
        [Status.SENDING],
        Status.UNCERTAIN,
        now,
        actor=actor,
        detail="found in `sending` after its lease: its worker stopped while sending it; "
        "the server may or may not have it",
        last_error=INTERRUPTED,
        reason=Reason.INTERRUPTED,
    )
    log.warning("follow-up %s was interrupted mid-send: marked uncertain", followup_id)
    return 1


def expire(db: Database, now: datetime, *, actor: str) -> int:
    """Live follow-ups past their expiry are too late to send."""
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.id, FollowUp.status).where(
                FollowUp.status.in_(LIVE), FollowUp.expires_at <= now
            )
        ).all()
        for fid, status in rows:
            reason = (
                "not approved in time" if status == Status.PENDING_REVIEW else "too late to send"
            )
            events.transition(
                session,
                fid,
                [status],
                Status.EXPIRED,
                now,
                actor=actor,
                detail=reason,
                last_error=reason,
                reason=Reason.LATE,
            )
    return len(rows)
