"""Interviews: record, change and close them, keeping their planned follow-ups in step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service import events, underway
from service.contacts import (
    ContactInput,
    alike_warnings,
    edit_contacts,
    live_contacts,
    parse_assignment,
    parse_contact,
    store_contacts,
)
from service.db import Database
from service.errors import NotFound, UsageError
from service.models import LIVE, FollowUp, Interview, InterviewStatus, Reason, Status
from service.planner import Change, Planner
from service.validation import (
    check_zone,
    clean_line,
    clean_text,
    parse_date,
    parse_duration,
    parse_local_datetime,
)


@dataclass
class InterviewInput:
    """Checked values for a new interview, or the fields to change (None = leave as is)."""

    company: str | None = None
    role: str | None = None
    starts_at: datetime | None = None
    duration: timedelta | None = None
    timezone: str | None = None
    location: str | None = None
    notes: str | None = None
    questions: list[str] | None = None
    decision_date: date | None = None
    clear_decision_date: bool = False
    #: The whole new contact list (`--contact` on update replaces them all).
    contacts: list[ContactInput] | None = None
    add_contacts: list[ContactInput] = field(default_factory=list)
    remove_contacts: list[str] = field(default_factory=list)
    topics: list[tuple[str, str]] = field(default_factory=list)
    greetings: list[tuple[str, str]] = field(default_factory=list)
    #: The language of its follow-ups ("de"); clear_language: back to the user's own.
    language: str | None = None
    clear_language: bool = False

    @property
    def changes_contacts(self) -> bool:
        return bool(
            self.contacts is not None
            or self.add_contacts
            or self.remove_contacts
            or self.topics
            or self.greetings
        )


@dataclass
class Outcome:
    """What recording or changing an interview did."""

    interview_id: int
    changes: list[Change]
    #: Things the user should know, e.g. two thank-you notes that would read alike.
    warnings: list[str] = field(default_factory=list)


def parse_input(
    *,
    company: str | None = None,
    role: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    duration: str | None = None,
    location: str | None = None,
    notes: str | None = None,
    questions: Sequence[str] | None = None,
    decision_date: str | None = None,
    contacts: Sequence[str] | None = None,
    add_contacts: Sequence[str] = (),
    remove_contacts: Sequence[str] = (),
    topics: Sequence[str] = (),
    greetings: Sequence[str] = (),
    language: str | None = None,
    existing: Interview | None = None,
) -> InterviewInput:
    """Check raw text from the CLI (or a form); any problem raises UsageError before anything is
    written."""
    data = InterviewInput()
    if company is not None:
        data.company = clean_line(company, "--company", max_len=200)
    if role is not None:
        data.role = clean_line(role, "--role", max_len=200)
    if tz is not None:
        data.timezone = check_zone(tz, "--tz").key
    zone_name = data.timezone or (existing.timezone if existing else None)
    if at is not None:
        if zone_name is None:
            raise UsageError(
                "--tz is missing: give the interview's time zone, e.g. --tz Europe/Berlin"
            )
        data.starts_at = parse_local_datetime(at, ZoneInfo(zone_name), "--at")
    if duration is not None:
        data.duration = parse_interview_duration(duration)
    if location is not None:
        data.location = clean_line(location, "--location", max_len=300, required=False)
    if notes is not None:
        data.notes = clean_text(notes, "--notes")
    if questions is not None:
        data.questions = [clean_text(q, "--question", max_len=2000) for q in questions]
        data.questions = [q for q in data.questions if q]
    if decision_date is not None:
        if decision_date.strip().lower() in ("", "none"):
            data.clear_decision_date = True
        else:
            data.decision_date = parse_date(decision_date, "--decision-date")
    if contacts is not None:
        data.contacts = [parse_contact(c) for c in contacts]
        emails = [c.email.lower() for c in data.contacts]
        if len(set(emails)) != len(emails):
            raise UsageError("--contact: the same address is given twice")
    data.add_contacts = [parse_contact(c, "--add-contact") for c in add_contacts]
    data.remove_contacts = [
        clean_line(a, "--remove-contact", max_len=254).lower() for a in remove_contacts
    ]
    data.topics = [parse_assignment(t, "--topic") for t in topics]
    data.greetings = [parse_assignment(g, "--greeting") for g in greetings]
    if language is not None:
        if language.strip().lower() in ("", "none", "default"):
            data.clear_language = True
        else:
            from service.languages import check_language

            data.language = check_language(language, "--language")
    return data


def parse_interview_duration(value: str) -> timedelta:
    """`--duration`: a number with a unit (a bare number is ambiguous), 1 minute to 24 hours."""
    value = clean_line(value, "--duration", max_len=20)
    if value.isdecimal():
        raise UsageError(
            f"--duration {value!r} has no unit: write {value}m for minutes or {value}h for hours"
        )
    length = parse_duration(value, "--duration")
    if not timedelta(minutes=1) <= length <= timedelta(hours=24):
        raise UsageError(f"--duration {value!r} must be between 1 minute and 24 hours")
    return length


def _apply(interview: Interview, data: InterviewInput) -> None:
    for name in ("company", "role", "starts_at", "timezone", "location", "notes", "questions"):
        value = getattr(data, name)
        if value is not None:
            setattr(interview, name, value)
    if data.duration is not None:
        interview.duration_minutes = max(1, int(data.duration.total_seconds() // 60))
    if data.decision_date is not None:
        interview.decision_date = data.decision_date
    if data.clear_decision_date:
        interview.decision_date = None
    if data.language is not None or data.clear_language:
        interview.language = data.language
    if interview.decision_date is not None:
        day = interview.starts_at.astimezone(ZoneInfo(interview.timezone)).date()
        if interview.decision_date < day:
            raise UsageError(
                f"--decision-date {interview.decision_date} is before the interview "
                f"({day}): give the date they said they would decide by"
            )


def add_interview(
    db: Database, planner: Planner, data: InterviewInput, now: datetime, *, actor: str
) -> Outcome:
    """Record an interview with its contacts and plan its follow-ups."""
    with db.transaction() as session:
        return record(session, planner, data, now, actor=actor)


def record(
    session: Session, planner: Planner, data: InterviewInput, now: datetime, *, actor: str
) -> Outcome:
    """add_interview in the caller's transaction."""
    missing = [
        flag
        for flag, value in (
            ("--company", data.company),
            ("--role", data.role),
            ("--at", data.starts_at),
            ("--tz", data.timezone),
        )
        if value is None
    ]
    if missing:
        raise UsageError(
            f"{', '.join(missing)} missing: `followup interview add --help` shows them"
        )
    if not (data.contacts or data.add_contacts):
        raise UsageError(
            "--contact is missing: give at least one, e.g. --contact 'Jane Roe <jane@acme.example>'"
        )
    contacts = edit_contacts(
        [],
        replace_all=(data.contacts or []) + data.add_contacts,
        topics=data.topics,
        greetings=data.greetings,
    )
    interview = new_interview(data, now)
    session.add(interview)
    session.flush()
    store_contacts(session, interview, contacts)
    events.record(session, now, "interview_added", actor=actor, interview_id=interview.id)
    changes = planner.sync(session, interview, now, actor)
    return Outcome(interview.id, changes, alike_warnings(contacts))


def new_interview(data: InterviewInput, now: datetime) -> Interview:
    """An Interview made from checked input (not yet stored)."""
    interview = Interview(
        company=data.company,
        role=data.role,
        starts_at=data.starts_at,
        timezone=data.timezone,
        duration_minutes=60,
        location="",
        notes="",
        questions=[],
        status=InterviewStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    _apply(interview, data)
    return interview


def update_interview(
    db: Database,
    planner: Planner,
    interview_id: int,
    data: InterviewInput,
    now: datetime,
    *,
    actor: str,
    dry_run: bool = False,
) -> Outcome:
    """Change an active interview; its follow-ups are re-timed, added, cancelled or restored to
    match. With dry_run, nothing is written: the outcome says what would change."""
    with db.transaction() as session:
        outcome = change(session, planner, _get(session, interview_id), data, now, actor=actor)
        if dry_run:
            session.rollback()
        return outcome


def change(
    session: Session,
    planner: Planner,
    interview: Interview,
    data: InterviewInput,
    now: datetime,
    *,
    actor: str,
) -> Outcome:
    """update_interview in the caller's transaction."""
    if interview.status != InterviewStatus.ACTIVE:
        raise UsageError(
            f"interview {interview.id} is closed ({interview.status}): it cannot change"
        )
    # Locks the interview's follow-ups: a worker about to mark one `sending` waits for this
    # change, then finds its revision moved and renders it anew. One already on its way cannot
    # change: the rest take the change, and the user is told which one went as it was.
    busy = underway.sending_of_interview(session, interview.id)
    if data.timezone and data.starts_at is None:
        # Same wall-clock time, new zone: the user corrected the zone, not the time.
        wall = interview.starts_at.astimezone(ZoneInfo(interview.timezone)).replace(tzinfo=None)
        data.starts_at = parse_local_datetime(wall.isoformat(" "), ZoneInfo(data.timezone), "--tz")
    _apply(interview, data)
    warnings: list[str] = []
    if data.changes_contacts:
        contacts = edit_contacts(
            live_contacts(interview),
            replace_all=data.contacts,
            add=data.add_contacts,
            remove=data.remove_contacts,
            topics=data.topics,
            greetings=data.greetings,
        )
        store_contacts(session, interview, contacts)
        warnings = alike_warnings(contacts)
    warnings += [
        f"{underway.on_its_way(f, planner.settings.timezone, now)}: it goes as it was; "
        "the change applies to the rest"
        for f in busy
    ]
    interview.updated_at = now
    events.record(session, now, "interview_updated", actor=actor, interview_id=interview.id)
    changes = planner.sync(session, interview, now, actor)
    # What its follow-ups would say (a greeting, a topic, a name) or when may have changed.
    events.touch_interview(session, interview.id, now)
    return Outcome(interview.id, changes, warnings)


@dataclass
class Closed:
    """What closing an interview did."""

    cancelled: int
    #: Follow-ups whose SMTP transaction had already begun: they may still arrive.
    on_the_wire: list[int]
    #: For each of them, `underway.on_its_way`: what the user is told.
    notes: list[str] = field(default_factory=list)


def close_interview(
    db: Database,
    interview_id: int,
    outcome: str,
    now: datetime,
    *,
    actor: str,
    zone: tzinfo = UTC,
) -> Closed:
    """Close an interview with an outcome and cancel everything that has not started to go
    out, claimed follow-ups included; says which (at most one per worker) was on the wire."""
    with db.transaction() as session:
        return close(session, interview_id, outcome, now, actor=actor, zone=zone)


def close(
    session: Session,
    interview_id: int,
    outcome: str,
    now: datetime,
    *,
    actor: str,
    zone: tzinfo = UTC,
) -> Closed:
    """close_interview in the caller's transaction."""
    if outcome not in InterviewStatus.outcomes():
        raise UsageError(f"--outcome {outcome!r}: use offer, rejected, withdrawn or cancelled")
    events.set_interview_status(
        session, interview_id, [InterviewStatus.ACTIVE], outcome, now, actor=actor
    )
    count = cancel_live(
        session,
        interview_id,
        now,
        actor=actor,
        detail=f"interview closed: {outcome}",
        reason=Reason.CLOSED,
    )
    sending = session.scalars(
        select(FollowUp)
        .where(FollowUp.interview_id == interview_id, FollowUp.status == Status.SENDING)
        .execution_options(populate_existing=True)
    ).all()
    notes = [underway.on_its_way(f, zone, now) for f in sending]
    return Closed(count, [f.id for f in sending], notes)


def cancel_live(
    session: Session, interview_id: int, now: datetime, *, actor: str, detail: str, reason: str
) -> int:
    """Cancel every follow-up of the interview that has not started to go out, claimed ones
    included. The rows are locked first: a worker about to start one waits for this, then
    finds it cancelled."""
    rows = session.execute(
        select(FollowUp.id, FollowUp.status)
        .where(FollowUp.interview_id == interview_id, FollowUp.status.in_(LIVE))
        .with_for_update()
    ).all()
    for fid, status in rows:
        events.transition(
            session,
            fid,
            [status],
            Status.CANCELLED,
            now,
            actor=actor,
            detail=detail,
            last_error=None,  # an earlier error is not why it is cancelled
            reason=reason,
        )
    return len(rows)


def _get(session: Session, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id, options=[selectinload(Interview.contacts)])
    if interview is None:
        raise NotFound(f"interview {interview_id} does not exist: see `followup interview list`")
    return interview


def get_interview(db: Database, interview_id: int) -> tuple[Interview, list[FollowUp]]:
    """An interview with its contacts and all its follow-ups."""
    with db.reading() as session:
        interview = _get(session, interview_id)
        followups = session.scalars(
            select(FollowUp)
            .where(FollowUp.interview_id == interview_id)
            .options(selectinload(FollowUp.contact), selectinload(FollowUp.interview))
            .order_by(FollowUp.due_at, FollowUp.id)
        ).all()
        return interview, list(followups)


def replies(db: Database, interview_id: int) -> list:
    """The replies recorded for the interview (by mail, or by hand), oldest first."""
    from service.models import InboxMessage

    with db.reading() as session:
        return list(
            session.scalars(
                select(InboxMessage)
                .where(InboxMessage.interview_id == interview_id, InboxMessage.kind == "reply")
                .order_by(InboxMessage.processed_at, InboxMessage.id)
            )
        )
