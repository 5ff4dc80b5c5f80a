"""Follow-ups already on their way: the one wording that refuses a change to them."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.errors import StateConflict
from service.models import FollowUp, Status

#: Its SMTP transaction is under way (the worker's `sending` mark), or it went out.
UNDERWAY = (Status.SENDING, Status.SENT, Status.BOUNCED)


def on_its_way(row: FollowUp, zone: tzinfo = UTC, now: datetime | None = None) -> str:
    """Why a change to this follow-up is refused: where it went and when, in the user's zone
    (with the date when that is not today)."""
    to = row.contact.email if row.contact is not None else "you"
    moment = (row.sent_at or row.sending_started_at or row.updated_at).astimezone(zone)
    today = (now or moment).astimezone(zone).date()
    when = f"{moment:%H:%M}" if moment.date() == today else f"{moment:%a %Y-%m-%d %H:%M}"
    if row.status == Status.SENDING:
        return f"follow-up {row.id} is already on its way to {to}; sent at {when}"
    return f"follow-up {row.id} has already gone to {to}; sent at {when}"


def find(session: Session, followup_id: int) -> FollowUp | None:
    """The follow-up as the database has it now, if it is on its way or gone."""
    return session.scalar(
        select(FollowUp)
        .where(FollowUp.id == followup_id, FollowUp.status.in_(UNDERWAY))
        .options(selectinload(FollowUp.contact))
        .execution_options(populate_existing=True)
    )


def refuse(session: Session, followup_id: int, zone: tzinfo, now: datetime) -> None:
    """Raise StateConflict with `on_its_way` when the follow-up is on its way or gone."""
    row = find(session, followup_id)
    if row is not None:
        raise StateConflict(on_its_way(row, zone, now))


def sending_of_interview(session: Session, interview_id: int) -> list[FollowUp]:
    """The interview's follow-ups inside their SMTP transaction. Every follow-up of the interview
    is locked first: a worker about to mark one `sending` waits for the caller's change."""
    rows = session.scalars(
        select(FollowUp)
        .where(FollowUp.interview_id == interview_id)
        .order_by(FollowUp.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return [r for r in rows if r.status == Status.SENDING]
