"""The follow-up schedule as an iCalendar file, for the user's own calendar app.

Each follow-up is one event with a stable UID; its SEQUENCE counts the changes to the follow-up
(each is a row in the event log), so importing a newer export updates the calendar's entries
instead of duplicating them, and a follow-up dropped from the plan is sent as cancelled.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from service.db import Database
from service.formatting import local
from service.models import LIVE, FollowUp, Interview, Status
from service.models import Event as LogEvent

#: How long each entry lasts in the calendar: a sending is a moment, shown as a short block.
ENTRY_LENGTH = timedelta(minutes=15)
#: Follow-ups that will not go out after all: exported as cancelled while their time is ahead.
WITHDRAWN = (Status.CANCELLED, Status.REJECTED, Status.EXPIRED)
STATUS_WORDS: dict[str, str] = {
    Status.PLANNED: "planned",
    Status.PENDING_REVIEW: "waiting for your review",
    Status.APPROVED: "approved, goes out on time",
    Status.DEFERRED: "the mail server asked to try again later: it will be",
    Status.CANCELLED: "cancelled",
    Status.REJECTED: "rejected in review",
    Status.EXPIRED: "expired",
}


def uid_for(followup_id: int, domain: str) -> str:
    """The calendar UID of a follow-up: the same in every export."""
    return f"followup-{followup_id}@{domain}"


def load_schedule(db: Database, now: datetime) -> tuple[list[FollowUp], dict[int, int]]:
    """The follow-ups to export (live ones, and withdrawn ones still ahead) with their SEQUENCE."""
    changes = (
        select(LogEvent.followup_id, func.count().label("n"))
        .where(LogEvent.followup_id.is_not(None))
        .group_by(LogEvent.followup_id)
        .subquery()
    )
    query = (
        select(FollowUp, changes.c.n)
        .outerjoin(changes, changes.c.followup_id == FollowUp.id)
        .where(
            FollowUp.interview_id.is_not(None),
            or_(
                FollowUp.status.in_(LIVE),
                and_(FollowUp.status.in_(WITHDRAWN), FollowUp.due_at >= now),
            ),
        )
        .options(
            selectinload(FollowUp.contact),
            selectinload(FollowUp.interview).selectinload(Interview.contacts),
        )
        .order_by(FollowUp.due_at, FollowUp.id)
    )
    with db.transaction() as session:
        rows = session.execute(query).all()
    # The first event is the planning itself: a follow-up never changed has SEQUENCE 0.
    return [row for row, _ in rows], {row.id: max(0, (n or 1) - 1) for row, n in rows}


def calendar_bytes(
    followups: Iterable[FollowUp],
    sequences: Mapping[int, int],
    *,
    domain: str,
    user_zone: ZoneInfo,
    now: datetime,
) -> bytes:
    """An iCalendar file (RFC 5545) with one event per follow-up."""
    if not domain:
        raise ValueError("a UID domain is needed (the sender's domain)")
    calendar = Calendar()
    calendar.add("prodid", "-//followup//follow-up schedule//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Follow-ups")
    for followup in followups:
        interview = followup.interview
        if interview is None:
            continue  # notes to the user about no interview (the review digest)
        calendar.add_component(
            _event(followup, interview, sequences.get(followup.id, 0), domain, user_zone, now)
        )
    return calendar.to_ical()


def _event(
    f: FollowUp,
    interview: Interview,
    sequence: int,
    domain: str,
    user_zone: ZoneInfo,
    now: datetime,
) -> Event:
    at = f.retry_at if f.status == Status.DEFERRED and f.retry_at else f.due_at
    summary = _summary(f, interview)
    event = Event()
    event.add("uid", uid_for(f.id, domain))
    event.add("dtstamp", now)
    event.add("sequence", sequence)
    event.add("dtstart", at)
    event.add("dtend", at + ENTRY_LENGTH)
    event.add("summary", summary)
    event.add("description", _description(f, interview, at, user_zone))
    event.add("status", "CANCELLED" if f.status in WITHDRAWN else "CONFIRMED")
    # An entry about an email going out does not make the user busy.
    event.add("transp", "TRANSPARENT")
    if f.contact is None and f.status not in WITHDRAWN:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", timedelta(0))
        event.add_component(alarm)
    return event


def _summary(f: FollowUp, interview: Interview) -> str:
    step = f.step.replace("_", " ")
    if f.contact is not None:
        return f"Follow-up to {f.contact.name} ({interview.company}): {step}"
    if f.step == "call_reminder":
        return f"Call {interview.company} about the {interview.role} role"
    return f"Reminder ({interview.company}): {step}"


def _description(f: FollowUp, interview: Interview, at: datetime, user_zone: ZoneInfo) -> str:
    zone = ZoneInfo(interview.timezone)
    lines = [
        f"Step: {f.step}",
        f"Interview: {interview.role} at {interview.company}, "
        f"{local(interview.starts_at, zone)} {interview.timezone}",
    ]
    if f.contact is not None:
        title = f", {f.contact.title}" if f.contact.title else ""
        lines += [
            f"To: {f.contact.name} <{f.contact.email}>{title}",
            f"Goes out: {local(at, user_zone)} your time ({user_zone.key}); "
            f"{local(at, zone)} for {f.contact.name} ({interview.timezone})",
        ]
    else:
        lines.append(
            f"To: you, at {local(at, user_zone)} ({user_zone.key}); "
            f"{local(at, zone)} at {interview.company} ({interview.timezone})"
        )
        people = [c for c in interview.contacts if not c.removed]
        lines += [
            f"Call: {c.name}{f', {c.title}' if c.title else ''}: {c.phone or 'no number'}"
            for c in people
        ]
    lines.append(f"Status: {STATUS_WORDS.get(f.status, f.status)}")
    return "\n".join(lines)
