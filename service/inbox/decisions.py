"""Machine mail that concerns an interview and changes no follow-up by itself: a read receipt or a
calendar answer is written on the interview's history; a company system's decision ("we will not
move forward") holds the interview's remaining follow-ups for the user's review."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import events
from service.errors import TemplateError
from service.inbox.classify import Classification
from service.inbox.message import Incoming
from service.models import FollowUp, Kind, Status

if TYPE_CHECKING:
    from service.inbox.actions import Context

#: Follow-ups a decision holds: everything not yet on its way.
HOLDABLE = (Status.PLANNED, Status.APPROVED, Status.DEFERRED, Status.PENDING_REVIEW)


def note(
    session: Session,
    interview_id: int | None,
    message: Incoming,
    found: Classification,
    ctx: Context,
) -> list[str]:
    """Write a receipt's or calendar answer's line on the interview's history; nothing else."""
    if interview_id is None:
        return []
    events.record(
        session,
        ctx.now,
        f"{found.kind}_received",
        actor=ctx.actor,
        interview_id=interview_id,
        detail={"note": found.note, "message": message.describe()},
    )
    return [f"noted: {found.note}"]


def hold_remaining(
    session: Session,
    interview_id: int | None,
    message: Incoming,
    found: Classification,
    ctx: Context,
) -> list[str]:
    """A company system's decision: no person's answer, so nothing is cancelled; it is written
    on the interview's history and every follow-up not yet on its way waits for the user's review
    with the reason. Returns what was done, one line each."""
    if interview_id is None:
        return []
    from service import review
    from service.composer import compose

    why = f"the company's system wrote: {found.hiring_reason!r}"
    events.record(
        session,
        ctx.now,
        "decision_received",
        actor=ctx.actor,
        interview_id=interview_id,
        detail={"note": why, "hiring": found.hiring, "message": message.describe()},
    )
    rows = session.scalars(
        select(FollowUp)
        .where(
            FollowUp.interview_id == interview_id,
            FollowUp.status.in_(HOLDABLE),
            FollowUp.kind == Kind.FOLLOWUP,
        )
        .order_by(FollowUp.due_at, FollowUp.id)
    ).all()
    me = ctx.settings.require_sender()
    done = []
    for row in rows:
        try:
            rendered, _ = compose(session, row, ctx.templates, me)
        except TemplateError as exc:
            review.requeue(
                session, row, None, ctx.now, actor=ctx.actor, reason=f"{why}; {exc}"[:500]
            )
        else:
            review.hold_for_review(session, row, rendered, ctx.now, actor=ctx.actor, why=why)
        done.append(f"held follow-up {row.id} for your review ({why})")
    return done
