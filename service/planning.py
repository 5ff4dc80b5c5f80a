"""Planning: turns an interview and a plan into dated follow-ups; a pure function of its inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from service.calendar import Calendar, add_calendar_days
from service.models import Status
from service.plan import Offset, Plan, Step
from service.validation import local_to_utc, require_aware

ME = "me"


@dataclass(frozen=True)
class InterviewFacts:
    """What planning needs to know about an interview."""

    starts_at: datetime
    duration: timedelta
    zone: ZoneInfo
    has_questions: bool
    decision_date: date | None
    #: Recipient keys of the interview's contacts in the order given ("contact:<id>").
    contact_keys: tuple[str, ...]

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + self.duration


@dataclass(frozen=True)
class PlannedFollowUp:
    step: str
    template: str
    recipient_key: str
    due_at: datetime
    review: bool
    expires_at: datetime | None
    status: str  # planned, or expired when it is already too late


def recipient_keys(step: Step, facts: InterviewFacts) -> tuple[str, ...]:
    if step.to == "me":
        return (ME,)
    if step.to == "first":
        return facts.contact_keys[:1]
    return facts.contact_keys


def applies(step: Step, facts: InterviewFacts) -> bool:
    """Whether the step's condition holds for this interview."""
    return {
        "always": True,
        "questions": facts.has_questions,
        "decision_date": facts.decision_date is not None,
        "no_decision_date": facts.decision_date is None,
    }[step.when]


def apply_offset(anchor: datetime, offset: Offset, calendar: Calendar, zone: ZoneInfo) -> datetime:
    """anchor + offset: elapsed time, wall-clock days, or business days in zone."""
    if offset.kind == "elapsed":
        return anchor + timedelta(seconds=offset.amount)
    if offset.kind == "days":
        return add_calendar_days(anchor, offset.amount, zone)
    return calendar.add_business_days(anchor, offset.amount, zone)


def step_target(step: Step, facts: InterviewFacts, calendar: Calendar, zone: ZoneInfo) -> datetime:
    """When the step would ideally go out, before the window moves it."""
    if step.after_decision_date is not None and facts.decision_date is not None:
        # Anchored at the interview's end time of day, on the decision date.
        end_wall = facts.ends_at.astimezone(facts.zone).time().replace(tzinfo=None)
        anchor = local_to_utc(datetime.combine(facts.decision_date, end_wall), facts.zone)
        return apply_offset(anchor, step.after_decision_date, calendar, zone)
    return apply_offset(facts.ends_at, step.after, calendar, zone)


def plan_followups(
    facts: InterviewFacts,
    plan: Plan,
    calendar: Calendar,
    now: datetime,
    *,
    review_default: bool,
) -> list[PlannedFollowUp]:
    """Every follow-up the plan asks for, each due inside the recipient's window.

    Everything is timed in the interview's zone, reminders to the user included: a reminder to
    phone HR is useful while HR is at work.
    A step whose time has passed goes out at the next open slot, unless that slot is more than its
    `expire_after` late, in which case it is planned as expired and never sent.
    """
    now = require_aware(now, "now")
    require_aware(facts.starts_at, "starts_at")
    result = []
    for step in plan.steps:
        if not applies(step, facts):
            continue
        for key in recipient_keys(step, facts):
            zone = facts.zone
            target = calendar.next_open(step_target(step, facts, calendar, zone), zone)
            expires = target + step.expire_after if step.expire_after else None
            status = Status.PLANNED
            due = target
            if target < now:
                due = calendar.next_open(now, zone)
                if expires is not None and expires <= due:
                    # Too late by the time the window next opens: never sent.
                    status, due = Status.EXPIRED, target
            review = review_default if step.review is None else step.review
            if key == ME:
                review = False if step.review is None else step.review
            result.append(
                PlannedFollowUp(
                    step=step.name,
                    template=step.template,
                    recipient_key=key,
                    due_at=due,
                    review=review,
                    expires_at=expires,
                    status=status,
                )
            )
    return result
