"""Interviews: record, change and close them, keeping their planned follow-ups in step."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service import events
from service.calendar import Calendar
from service.config import Settings
from service.db import Database
from service.errors import NotFound, UsageError
from service.models import LIVE, Contact, FollowUp, Interview, InterviewStatus, Status
from service.plan import Plan, load_plan
from service.planning import InterviewFacts, plan_followups
from service.validation import (
    check_zone,
    clean_line,
    clean_text,
    parse_date,
    parse_duration,
    parse_local_datetime,
    parse_mailbox,
)

#: Follow-ups a change to the interview may re-time (any LIVE one it may cancel).
RETIMABLE = (Status.PLANNED, Status.PENDING_REVIEW, Status.APPROVED)


@dataclass(frozen=True)
class ContactInput:
    name: str
    email: str
    title: str = ""
    phone: str = ""


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
    contacts: list[ContactInput] | None = None
    changed: list[str] = field(default_factory=list)


def parse_contact(value: str) -> ContactInput:
    """Parse `Name <email>` optionally followed by `| title | phone`."""
    clean_line(value, "--contact", max_len=600)
    parts = [p.strip() for p in value.split("|")]
    if len(parts) > 3:
        raise UsageError(
            f"--contact {value!r}: use 'Name <email>' or 'Name <email> | title | phone'"
        )
    box = parse_mailbox(parts[0], "--contact")
    if not box.name:
        raise UsageError(
            f"--contact {value!r} has no name: use 'Name <email>' so the greeting is right"
        )
    title = (
        clean_line(parts[1], "--contact title", max_len=200, required=False)
        if len(parts) > 1
        else ""
    )
    phone = (
        clean_line(parts[2], "--contact phone", max_len=50, required=False)
        if len(parts) > 2
        else ""
    )
    return ContactInput(box.name, box.email, title, phone)


def parse_input(
    *,
    company: str | None = None,
    role: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    duration: str | None = None,
    location: str | None = None,
    notes: str | None = None,
    questions: tuple[str, ...] | list[str] | None = None,
    decision_date: str | None = None,
    contacts: tuple[str, ...] | list[str] | None = None,
    existing: Interview | None = None,
) -> InterviewInput:
    """Check raw text from the CLI (or a form); any problem raises UsageError before anything is written."""
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
        data.duration = parse_duration(clean_line(duration, "--duration", max_len=20), "--duration")
        if not timedelta(minutes=1) <= data.duration <= timedelta(hours=24):
            raise UsageError(f"--duration {duration!r} must be between 1 minute and 24 hours")
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
    return data


def facts_of(interview: Interview) -> InterviewFacts:
    return InterviewFacts(
        starts_at=interview.starts_at,
        duration=timedelta(minutes=interview.duration_minutes),
        zone=ZoneInfo(interview.timezone),
        has_questions=bool(interview.questions),
        decision_date=interview.decision_date,
        contact_keys=tuple(f"contact:{c.id}" for c in interview.contacts if not c.removed),
    )


class Planner:
    """The plan and calendar in force, loaded once per command."""

    def __init__(self, settings: Settings, plan: Plan | None = None):
        self.settings = settings
        self.plan = plan or load_plan(settings.plan_path)
        self.calendar = Calendar(self.plan.window, settings.holidays)

    def sync(self, session: Session, interview: Interview, now: datetime, actor: str) -> None:
        """Bring the interview's follow-ups in line with the plan: add, re-time, cancel."""
        planned = plan_followups(
            facts_of(interview), self.plan, self.calendar, now, review_default=self.settings.review
        )
        existing = {
            (f.step, f.recipient_key): f
            for f in session.scalars(select(FollowUp).where(FollowUp.interview_id == interview.id))
        }
        for item in planned:
            row = existing.pop((item.step, item.recipient_key), None)
            if row is None:
                row = FollowUp(
                    interview_id=interview.id,
                    contact_id=None if item.recipient_key == "me" else int(item.recipient_key[8:]),
                    recipient_key=item.recipient_key,
                    step=item.step,
                    template=item.template,
                    due_at=item.due_at,
                    status=str(item.status),
                    review=item.review,
                    expires_at=item.expires_at,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                events.add_planned(
                    session, row, now, actor=actor, detail={"due_at": item.due_at.isoformat()}
                )
                continue
            if row.status not in RETIMABLE:
                continue
            if item.status == Status.EXPIRED:
                events.transition(
                    session,
                    row.id,
                    RETIMABLE,
                    Status.EXPIRED,
                    now,
                    actor=actor,
                    detail="too late after the interview changed",
                )
            elif row.due_at != item.due_at or row.expires_at != item.expires_at:
                events.transition(
                    session,
                    row.id,
                    [row.status],
                    row.status,
                    now,
                    actor=actor,
                    kind="retimed",
                    detail={"from": row.due_at.isoformat(), "to": item.due_at.isoformat()},
                    due_at=item.due_at,
                    expires_at=item.expires_at,
                    template=item.template,
                )
        for row in existing.values():
            if row.status in LIVE:
                events.transition(
                    session,
                    row.id,
                    LIVE,
                    Status.CANCELLED,
                    now,
                    actor=actor,
                    detail="no longer in the plan for this interview",
                )


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


def _set_contacts(session: Session, interview: Interview, contacts: list[ContactInput]) -> None:
    by_email = {c.email.lower(): c for c in interview.contacts}
    for position, given in enumerate(contacts):
        row = by_email.pop(given.email.lower(), None)
        if row is None:
            row = Contact(interview=interview, email=given.email)
            session.add(row)
        row.position, row.name, row.email = position, given.name, given.email
        row.title, row.phone, row.removed = given.title, given.phone, False
    for row in by_email.values():
        row.removed = True
        row.position = 1000 + row.position
    session.flush()
    session.refresh(interview, ["contacts"])


def add_interview(
    db: Database, planner: Planner, data: InterviewInput, now: datetime, *, actor: str
) -> int:
    """Record an interview with its contacts and plan its follow-ups; returns its id."""
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
    if not data.contacts:
        raise UsageError(
            "--contact is missing: give at least one, e.g. --contact 'Jane Roe <jane@acme.example>'"
        )
    with db.transaction() as session:
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
        session.add(interview)
        session.flush()
        _set_contacts(session, interview, data.contacts)
        events.record(session, now, "interview_added", actor=actor, interview_id=interview.id)
        planner.sync(session, interview, now, actor)
        return interview.id


def update_interview(
    db: Database,
    planner: Planner,
    interview_id: int,
    data: InterviewInput,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Change an active interview; pending follow-ups are re-timed, added or cancelled to match."""
    with db.transaction() as session:
        interview = _get(session, interview_id)
        if interview.status != InterviewStatus.ACTIVE:
            raise UsageError(
                f"interview {interview_id} is closed ({interview.status}): it cannot change"
            )
        if data.timezone and data.starts_at is None:
            # Same wall-clock time, new zone: the user corrected the zone, not the time.
            wall = interview.starts_at.astimezone(ZoneInfo(interview.timezone)).replace(tzinfo=None)
            data.starts_at = parse_local_datetime(
                wall.isoformat(" "), ZoneInfo(data.timezone), "--tz"
            )
        _apply(interview, data)
        if data.contacts is not None:
            if not data.contacts:
                raise UsageError("--contact: an interview needs at least one contact")
            _set_contacts(session, interview, data.contacts)
        interview.updated_at = now
        events.record(session, now, "interview_updated", actor=actor, interview_id=interview.id)
        planner.sync(session, interview, now, actor)


def close_interview(
    db: Database, interview_id: int, outcome: str, now: datetime, *, actor: str
) -> int:
    """Close an interview with an outcome and cancel what has not gone out; returns how many."""
    if outcome not in InterviewStatus.outcomes():
        raise UsageError(f"--outcome {outcome!r}: use offer, rejected or withdrawn")
    with db.transaction() as session:
        events.set_interview_status(
            session, interview_id, [InterviewStatus.ACTIVE], outcome, now, actor=actor
        )
        return cancel_live(
            session, interview_id, now, actor=actor, reason=f"interview closed: {outcome}"
        )


def cancel_live(
    session: Session, interview_id: int, now: datetime, *, actor: str, reason: str
) -> int:
    """Cancel every follow-up of the interview that has not gone out yet."""
    ids = session.scalars(
        select(FollowUp.id).where(FollowUp.interview_id == interview_id, FollowUp.status.in_(LIVE))
    ).all()
    for fid in ids:
        events.transition(session, fid, LIVE, Status.CANCELLED, now, actor=actor, detail=reason)
    return len(ids)


def _get(session: Session, interview_id: int) -> Interview:
    interview = session.get(Interview, interview_id, options=[selectinload(Interview.contacts)])
    if interview is None:
        raise NotFound(f"interview {interview_id} does not exist: see `followup interview list`")
    return interview


def get_interview(db: Database, interview_id: int) -> tuple[Interview, list[FollowUp]]:
    """An interview with its contacts and all its follow-ups."""
    with db.transaction() as session:
        interview = _get(session, interview_id)
        followups = session.scalars(
            select(FollowUp)
            .where(FollowUp.interview_id == interview_id)
            .options(selectinload(FollowUp.contact), selectinload(FollowUp.interview))
            .order_by(FollowUp.due_at, FollowUp.id)
        ).all()
        return interview, list(followups)


def list_interviews(db: Database) -> list[Interview]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Interview)
                .options(selectinload(Interview.contacts))
                .order_by(Interview.starts_at)
            )
        )


def list_followups(db: Database, *, include_all: bool = False) -> list[FollowUp]:
    """Upcoming follow-ups by due time; with include_all, every follow-up ever planned."""
    query = select(FollowUp).options(
        selectinload(FollowUp.contact), selectinload(FollowUp.interview)
    )
    if not include_all:
        query = query.where(FollowUp.status.in_(LIVE + (Status.SENDING, Status.UNCERTAIN)))
    with db.transaction() as session:
        return list(session.scalars(query.order_by(FollowUp.due_at, FollowUp.id)))
