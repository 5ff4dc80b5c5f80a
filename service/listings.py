"""Listings: follow-ups and interviews read as plain rows, filtered and streamed, so that a
listing of 100,000 follow-ups takes as little memory as one of ten."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, and_, or_, select

from service.db import Database
from service.models import LIVE, Contact, FollowUp, Interview, Status

#: Rows fetched from the database at a time.
CHUNK = 1000
#: What `schedule` shows without --all or --status: what may still happen.
UPCOMING = (*LIVE, Status.SENDING, Status.UNCERTAIN)


@dataclass(slots=True)
class Listed:
    """A follow-up as listings show it: its own fields, its interview's and its contact's."""

    id: int
    interview_id: int | None
    company: str | None
    timezone: str | None
    kind: str
    step: str
    template: str
    contact_id: int | None
    contact_name: str | None
    contact_email: str | None
    due_at: datetime
    status: str
    attempts: int
    expires_at: datetime | None
    retry_at: datetime | None
    sent_at: datetime | None
    message_id: str | None
    subject: str | None
    last_error: str | None
    reason: str | None

    @classmethod
    def of(cls, f: FollowUp) -> Listed:
        """The same view of a loaded follow-up (its interview and contact loaded too)."""
        interview, contact = f.interview, f.contact
        return cls(
            f.id,
            f.interview_id,
            interview.company if interview else None,
            interview.timezone if interview else None,
            f.kind,
            f.step,
            f.template,
            f.contact_id,
            contact.name if contact else None,
            contact.email if contact else None,
            f.due_at,
            f.status,
            f.attempts,
            f.expires_at,
            f.retry_at,
            f.sent_at,
            f.message_id,
            f.subject,
            f.last_error,
            f.reason,
        )


_COLUMNS = (
    FollowUp.id,
    FollowUp.interview_id,
    Interview.company,
    Interview.timezone,
    FollowUp.kind,
    FollowUp.step,
    FollowUp.template,
    FollowUp.contact_id,
    Contact.name,
    Contact.email,
    FollowUp.due_at,
    FollowUp.status,
    FollowUp.attempts,
    FollowUp.expires_at,
    FollowUp.retry_at,
    FollowUp.sent_at,
    FollowUp.message_id,
    FollowUp.subject,
    FollowUp.last_error,
    FollowUp.reason,
)


def followups(
    db: Database,
    *,
    statuses: Sequence[str] | None = UPCOMING,
    since: datetime | None = None,
    interview_id: int | None = None,
    limit: int | None = None,
    after: tuple[datetime, int] | None = None,
) -> Iterator[Listed]:
    """Follow-ups by due time, streamed; `statuses` None means every one ever planned.

    `after` (due time, id) of the last one seen gives the next page.
    """
    query: Select = (
        select(*_COLUMNS)
        .outerjoin(Interview, FollowUp.interview_id == Interview.id)
        .outerjoin(Contact, FollowUp.contact_id == Contact.id)
        .order_by(FollowUp.due_at, FollowUp.id)
    )
    if statuses is not None:
        query = query.where(FollowUp.status.in_([str(s) for s in statuses]))
    if since is not None:
        query = query.where(FollowUp.due_at >= since)
    if interview_id is not None:
        query = query.where(FollowUp.interview_id == interview_id)
    if after is not None:
        due, last_id = after
        query = query.where(
            or_(FollowUp.due_at > due, and_(FollowUp.due_at == due, FollowUp.id > last_id))
        )
    if limit is not None:
        query = query.limit(limit)
    with db.reading() as session:
        for row in session.execute(query.execution_options(yield_per=CHUNK)):
            yield Listed(*row)


@dataclass(slots=True)
class ListedContact:
    """A current contact as a listing shows it (plain columns: no ORM object per row)."""

    id: int
    interview_id: int
    name: str
    email: str
    title: str
    phone: str
    topic: str
    greeting: str | None
    removed: bool = False


_CONTACT_COLUMNS = (
    Contact.id,
    Contact.interview_id,
    Contact.name,
    Contact.email,
    Contact.title,
    Contact.phone,
    Contact.topic,
    Contact.greeting,
)


@dataclass(slots=True)
class ListedInterview:
    id: int
    company: str
    role: str
    starts_at: datetime
    duration_minutes: int
    timezone: str
    location: str
    notes: str
    questions: list
    decision_date: date | None
    status: str
    language: str | None
    contacts: list[ListedContact]


def interviews(
    db: Database,
    *,
    statuses: Sequence[str] | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> Iterator[ListedInterview]:
    """Interviews by start time, with their current contacts, streamed a chunk at a time."""
    query = select(
        Interview.id,
        Interview.company,
        Interview.role,
        Interview.starts_at,
        Interview.duration_minutes,
        Interview.timezone,
        Interview.location,
        Interview.notes,
        Interview.questions,
        Interview.decision_date,
        Interview.status,
        Interview.language,
    ).order_by(Interview.starts_at, Interview.id)
    if statuses is not None:
        query = query.where(Interview.status.in_([str(s) for s in statuses]))
    if since is not None:
        query = query.where(Interview.starts_at >= since)
    if limit is not None:
        query = query.limit(limit)
    with db.reading() as session:
        result = session.execute(query.execution_options(yield_per=CHUNK))
        for chunk in result.partitions():
            ids = [row.id for row in chunk]
            people: dict[int, list[ListedContact]] = {i: [] for i in ids}
            with db.reading() as inner:
                for contact in inner.execute(
                    select(*_CONTACT_COLUMNS)
                    .where(Contact.interview_id.in_(ids), Contact.removed.is_(False))
                    .order_by(Contact.interview_id, Contact.position)
                ):
                    people[contact.interview_id].append(ListedContact(*contact))
            for row in chunk:
                yield ListedInterview(**row._asdict(), contacts=people[row.id])
