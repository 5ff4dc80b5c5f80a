"""Keeps an interview's stored follow-ups in line with its plan, and says what that changed.

Planning itself (service.planning) is a pure function; this is where its result meets the
database: new follow-ups are added, pending ones re-timed, ones the plan no longer calls for
cancelled, and ones a mistaken change had cancelled or expired are restored when it is corrected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import events
from service.calendar import Calendar
from service.config import Settings
from service.models import LIVE, FollowUp, Interview, Kind, Reason, Status
from service.plan import Plan, load_plan
from service.planning import ME, InterviewFacts, PlannedFollowUp, plan_followups

#: Follow-ups a change to the interview may re-time (any LIVE one it may cancel).
RETIMABLE = (Status.PLANNED, Status.PENDING_REVIEW, Status.APPROVED)
#: Stored text and approval, cleared when a follow-up is restored: it is written afresh.
_FRESH: dict[str, Any] = dict(
    subject=None,
    body_text=None,
    body_html=None,
    content_hash=None,
    source_hash=None,
    approved_hash=None,
    approved_at=None,
    queued_at=None,
    digest_notified_at=None,
    last_error=None,
    reason=None,
)


@dataclass(frozen=True)
class Change:
    """One change to an interview's schedule, as `interview update` reports it."""

    followup_id: int | None
    step: str
    to: str
    #: "added" | "retimed" | "expired" | "cancelled" | "restored"
    action: str
    before: datetime | None
    after: datetime | None

    def describe(self, zone: ZoneInfo) -> str:
        def when(moment: datetime | None) -> str:
            return moment.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") if moment else "-"

        label = f"{self.step} to {self.to}" + (
            f" (#{self.followup_id})" if self.followup_id else ""
        )
        if self.action == "retimed":
            return f"re-timed  {label}: {when(self.before)} -> {when(self.after)}"
        if self.action == "expired":
            return f"expires   {label}: too late for the interview's date, never sent"
        if self.action == "cancelled":
            return f"cancelled {label}: no longer in the plan for this interview"
        return f"{self.action:<9} {label}: due {when(self.after)}"


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

    def sync(
        self, session: Session, interview: Interview, now: datetime, actor: str
    ) -> list[Change]:
        """Bring the interview's follow-ups in line with the plan; returns what changed."""
        planned = plan_followups(facts_of(interview), self.plan, self.calendar, now)
        names = {f"contact:{c.id}": f"{c.name} <{c.email}>" for c in interview.contacts}
        names[ME] = "you"
        existing = {
            (f.step, f.recipient_key): f
            for f in session.scalars(
                select(FollowUp).where(
                    FollowUp.interview_id == interview.id, FollowUp.kind == Kind.FOLLOWUP
                )
            )
        }
        changes = []
        for item in planned:
            to = names.get(item.recipient_key, item.recipient_key)
            row = existing.pop((item.step, item.recipient_key), None)
            if row is None:
                row = self._add(session, interview, item, now, actor)
                action = "added" if item.status == Status.PLANNED else "expired"
                changes.append(Change(row.id, item.step, to, action, None, item.due_at))
                continue
            before = row.due_at
            change = self._update(session, row, item, now, actor)
            if change is not None:
                changes.append(Change(row.id, row.step, to, change, before, item.due_at))
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
                    last_error=None,
                    reason=Reason.SCHEDULE,
                )
                to = names.get(row.recipient_key, row.recipient_key)
                changes.append(Change(row.id, row.step, to, "cancelled", row.due_at, None))
        return changes

    def _add(
        self,
        session: Session,
        interview: Interview,
        item: PlannedFollowUp,
        now: datetime,
        actor: str,
    ) -> FollowUp:
        row = FollowUp(
            interview_id=interview.id,
            contact_id=None if item.recipient_key == ME else int(item.recipient_key[8:]),
            recipient_key=item.recipient_key,
            step=item.step,
            kind=Kind.FOLLOWUP,
            template=item.template,
            due_at=item.due_at,
            status=str(item.status),
            expires_at=item.expires_at,
            attempts=0,
            created_at=now,
            updated_at=now,
            reason=Reason.SCHEDULE if item.status == Status.EXPIRED else None,
        )
        events.add_planned(
            session, row, now, actor=actor, detail={"due_at": item.due_at.isoformat()}
        )
        return row

    def _update(
        self, session: Session, row: FollowUp, item: PlannedFollowUp, now: datetime, actor: str
    ) -> str | None:
        """Re-time, expire or restore one stored follow-up; returns the action, if any."""
        timing: dict[str, Any] = {
            "due_at": item.due_at,
            "expires_at": item.expires_at,
            "template": item.template,
        }
        if row.status in RETIMABLE:
            if item.status == Status.EXPIRED:
                events.transition(
                    session,
                    row.id,
                    RETIMABLE,
                    Status.EXPIRED,
                    now,
                    actor=actor,
                    detail="too late for the interview's date after it changed",
                    last_error=None,
                    reason=Reason.SCHEDULE,
                    **timing,
                )
                return "expired"
            if row.due_at == item.due_at and row.expires_at == item.expires_at:
                return None
            shown_before = _minute(row.due_at)
            events.transition(
                session,
                row.id,
                [row.status],
                row.status,
                now,
                actor=actor,
                kind="retimed",
                detail={"from": row.due_at.isoformat(), "to": item.due_at.isoformat()},
                **timing,
            )
            # Stored to the second, but listed only when the minute a person is shown moves.
            return "retimed" if _minute(item.due_at) != shown_before else None
        undone = row.status in (Status.EXPIRED, Status.CANCELLED) and row.reason == Reason.SCHEDULE
        if undone and item.status == Status.PLANNED:
            events.transition(
                session,
                row.id,
                [row.status],
                Status.PLANNED,
                now,
                actor=actor,
                kind="restored",
                detail="the interview changed again and calls for it",
                **timing,
                **_FRESH,
            )
            return "restored"
        return None


def _minute(moment: datetime) -> datetime:
    """The moment as `Change.describe` shows it: to the minute (every zone's offset is whole
    minutes today, so the UTC minute moves exactly when the local one does)."""
    return moment.replace(second=0, microsecond=0)
