"""Who must approve what: whether a follow-up needs the user's approval, decided when it would go.

Review is never frozen into a follow-up when it is planned: it is read from the settings and the
plan in force at the moment the follow-up would be queued or sent, so turning review on covers
everything not yet sent, in a worker that is already running too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from service.models import FollowUp, Kind
from service.plan import Plan


class Reviewable(Protocol):
    """What the rule reads of a follow-up: a stored FollowUp or a listed one."""

    @property
    def kind(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def contact_id(self) -> int | None: ...


@dataclass(frozen=True)
class ReviewRule:
    """FOLLOWUP_REVIEW and the plan's per-step `review = true|false` overrides."""

    #: FOLLOWUP_REVIEW: mail to other people waits for approval.
    default: bool
    #: Steps whose plan entry says `review = true` (even mail to the user).
    always: frozenset[str] = frozenset()
    #: Steps whose plan entry says `review = false`.
    never: frozenset[str] = frozenset()

    @classmethod
    def of(cls, review: bool, plan: Plan | None) -> ReviewRule:
        steps = plan.steps if plan is not None else ()
        return cls(
            default=review,
            always=frozenset(s.name for s in steps if s.review is True),
            never=frozenset(s.name for s in steps if s.review is False),
        )

    def needs_review(self, kind: str, step: str, to_contact: bool) -> bool:
        """Whether a follow-up of this step, to a contact or to the user, waits for approval."""
        if kind == Kind.NOTE:
            return False  # the service's own notes to the user: a digest cannot wait for review
        if step in self.always:
            return True
        if step in self.never:
            return False
        return self.default and to_contact

    def of_row(self, row: Reviewable) -> bool:
        return self.needs_review(row.kind, row.step, row.contact_id is not None)

    def sql(self) -> ColumnElement[bool]:
        """The same decision as a SQL condition on the followups table."""
        followup = FollowUp.kind == Kind.FOLLOWUP
        forced = FollowUp.step.in_(sorted(self.always)) if self.always else false()
        if not self.default:
            return and_(followup, forced)
        exempt = FollowUp.step.not_in(sorted(self.never)) if self.never else true()
        return and_(followup, or_(forced, and_(FollowUp.contact_id.is_not(None), exempt)))
