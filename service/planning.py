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
    facts: InterviewFacts, plan: Plan, calendar: Calendar, now: datetime
) -> list[PlannedFollowUp]:
    """Every follow-up the plan asks for, each due inside the recipient's window.

    Everything is timed in the interview's zone, reminders to the user included: a reminder to
    phone HR is useful while HR is at work.
    A step whose time has passed goes out at the next open slot, unless that slot is more than its
    `expire_after` late, in which case it is planned as expired and never sent.
    Messages to one person go in the order of their ideal times (the plan's order breaks a tie),
    and one that would fall on or before the previous message to that person moves a business
    day after it: whatever the decision date says, the thank-you opens its thread alone.
    """
    now = require_aware(now, "now")
    require_aware(facts.starts_at, "starts_at")
    zone = facts.zone
    wanted: list[tuple[datetime, int, str, Step]] = []  # (ideal time, plan order, recipient, step)
    for index, step in enumerate(plan.steps):
        if applies(step, facts):
            ideal = calendar.next_open(step_target(step, facts, calendar, zone), zone)
            wanted.extend((ideal, index, key, step) for key in recipient_keys(step, facts))
    result = []
    latest: dict[str, datetime] = {}  # recipient -> due time of their last planned message
    for target, _, key, step in sorted(wanted, key=lambda w: (w[0], w[1])):
        previous = latest.get(key)
        if previous is not None and target <= previous:
            target = _day_after(previous, calendar, zone)
        expires = target + step.expire_after if step.expire_after else None
        status = Status.PLANNED
        due = target
        if target < now:
            due = calendar.next_open(now, zone)
            if previous is not None and due <= previous:
                due = _day_after(previous, calendar, zone)
            if expires is not None and expires <= due:
                # Too late by the time the window next opens: never sent.
                status, due = Status.EXPIRED, target
        if status == Status.PLANNED:
            latest[key] = due
        result.append(
            PlannedFollowUp(
                step=step.name,
                template=step.template,
                recipient_key=key,
                due_at=due,
                expires_at=expires,
                status=status,
            )
        )
    order = {s.name: n for n, s in enumerate(plan.steps)}
    return sorted(result, key=lambda p: (order[p.step], p.recipient_key))


def _day_after(previous: datetime, calendar: Calendar, zone: ZoneInfo) -> datetime:
    """A business day after a message to the same person: never two on one day."""
    return calendar.next_open(calendar.add_business_days(previous, 1, zone), zone)
