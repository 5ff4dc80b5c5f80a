"""Outcomes: what the server's answer (or its silence) makes of a follow-up, and the note to the
user when one could not be delivered.

- accepted: `sent`, the server's words kept;
- a temporary failure (4xx, a dropped connection before the data): `deferred`, retried with
  backoff until FOLLOWUP_RETRY_LIFETIME, then `failed`;
- a permanent failure (5xx): `failed`, the server's words kept, and the user is told;
- no answer after the data went out: `uncertain`, the server may have it; never resent by itself.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from service import events
from service.composer import context_for
from service.config import Settings
from service.delivery.prepare import Ready
from service.errors import FollowupError, StateConflict
from service.models import FollowUp, Reason, Status
from service.rendering import Templates
from service.retry import gave_up, next_attempt
from service.transport import DeliveryError, SendResult
from service.validation import Mailbox

log = logging.getLogger(__name__)

#: The template of the note to the user when a follow-up could not be delivered.
FAILED_NOTICE = "delivery_failed"


@dataclass
class Outcome:
    item: Ready
    result: SendResult | DeliveryError
    at: datetime


@dataclass
class Summary:
    """What one pass did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    uncertain: int = 0
    expired: int = 0
    flagged: int = 0
    prepared: int = 0
    held: int = 0
    #: Claimed and made ready, then changed, decided or closed by someone else: not sent.
    changed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed + self.uncertain


class Recorder:
    """Commits outcomes (in the caller's transaction) and counts them."""

    def __init__(
        self,
        settings: Settings,
        templates: Callable[[], Templates],
        me: Mailbox,
        *,
        actor: str,
        rng: random.Random,
        summary: Summary,
    ):
        self.settings, self.templates, self.me = settings, templates, me
        self.actor, self.rng, self.summary = actor, rng, summary

    def verdict(self, outcome: Outcome) -> tuple[str, dict, object]:
        """(status, values, event detail) for an attempt's result."""
        result, at, item = outcome.result, outcome.at, outcome.item
        if isinstance(result, SendResult):
            note = "; ".join(f"{r} refused: {c} {m}" for r, (c, m) in result.refused.items())
            detail = {"reply": result.reply} | ({"refused": note} if note else {})
            values = {"sent_at": at, "server_reply": result.reply, "last_error": note or None}
            return Status.SENT, values, detail
        if result.kind == "uncertain":
            values = {"last_error": str(result), "reason": Reason.CONNECTION_LOST}
            return Status.UNCERTAIN, values, result.reply
        first = item.values["first_attempt_at"]
        if result.kind in ("transient", "setup") and not gave_up(
            first, at, self.settings.retry_lifetime
        ):
            retry_at = next_attempt(
                item.attempts + 1,
                at,
                minimum=self.settings.retry_min,
                maximum=self.settings.retry_max,
                rng=self.rng,
            )
            detail = {"error": str(result), "retry_at": retry_at.isoformat()}
            return Status.DEFERRED, {"last_error": str(result), "retry_at": retry_at}, detail
        reason = str(result) if result.kind == "permanent" else f"gave up after retrying: {result}"
        return Status.FAILED, {"last_error": reason, "retry_at": None}, reason

    def notes_for(self, outcome: Outcome) -> list[FollowUp]:
        """The note telling the user a follow-up failed, rendered before any transaction."""
        status, values, _ = self.verdict(outcome)
        if status != Status.FAILED:
            return []
        return self.failure_notes(outcome.item.row, values["last_error"], outcome.at)

    def failure_notes(self, row: FollowUp, reason: str, now: datetime) -> list[FollowUp]:
        if row.contact is None:
            return []  # a note to the user about a note to the user helps nobody
        context = context_for(row, self.me, language=self.settings.language)
        context["failed"] = {
            "id": row.id,
            "step": row.step,
            "subject": row.subject or "",
            "to": f"{row.contact.name} <{row.contact.email}>",
            "error": reason,
        }
        try:
            rendered = self.templates().render(FAILED_NOTICE, context)
        except FollowupError as exc:
            log.error("cannot tell the user about failed follow-up %s: %s", row.id, exc)
            return []
        return [
            FollowUp.note_to_user(
                interview_id=row.interview_id,
                step=FAILED_NOTICE,
                about=str(row.id),
                template=FAILED_NOTICE,
                rendered=rendered,
                now=now,
            )
        ]

    def record(
        self, session: Session | Connection, outcome: Outcome, notes: list[FollowUp]
    ) -> None:
        """Commit one attempt's outcome (with its notes) in the caller's transaction."""
        status, values, detail = self.verdict(outcome)
        item = outcome.item
        moved = False
        # `uncertain` is accepted as a starting state: another worker may have flagged this
        # attempt when its lease ran out, and the server's real answer beats a guess.
        starts = [Status.SENDING] + ([Status.UNCERTAIN] if status != Status.UNCERTAIN else [])
        for start in starts:
            try:
                events.transition(
                    session,
                    item.id,
                    [start],
                    status,
                    outcome.at,
                    actor=self.actor,
                    detail=detail,
                    expect={"attempts": item.attempts + 1},
                    interview_id=item.row.interview_id,
                    **values,
                )
                moved = True
                break
            except StateConflict as exc:
                conflict = exc
        if not moved:
            log.error("outcome %s of follow-up %s came too late: %s", status, item.id, conflict)
            events.record(
                session,
                outcome.at,
                "late_outcome",
                actor=self.actor,
                followup_id=item.id,
                detail={"outcome": str(status), "attempt": item.attempts + 1, "detail": detail},
            )
            return
        self._count(status, item, detail)
        if status == Status.SENT and self.settings.imap is not None:
            from service.inbox.sent import queue_sent_copy

            # The next inbox pass appends it to the Sent folder: IMAP never delays a send.
            queue_sent_copy(
                session, self.settings.imap, item.id, item.values["message_id"],
                item.outgoing.data, outcome.at,
            )  # fmt: skip
        self.add_notes(session, notes, outcome.at)

    def _count(self, status: str, item: Ready, detail: object) -> None:
        if status == Status.SENT:
            self.summary.sent += 1
        elif status == Status.DEFERRED:
            self.summary.deferred += 1
            log.warning("follow-up %s deferred: %s", item.id, detail)
        elif status == Status.UNCERTAIN:
            self.summary.uncertain += 1
            log.warning("follow-up %s: %s", item.id, detail)
        else:
            self.summary.failed += 1
            log.error("follow-up %s (%s) failed: %s", item.id, item.row.step, detail)

    def add_notes(
        self, session: Session | Connection, notes: list[FollowUp], now: datetime
    ) -> None:
        if not notes:
            return
        if not isinstance(session, Session):  # the stream's connection: an ORM session on it
            with Session(bind=session) as orm:
                self.add_notes(orm, notes, now)
                orm.flush()
            return
        for note in notes:
            exists = session.scalar(
                select(FollowUp.id).where(
                    FollowUp.interview_id == note.interview_id,
                    FollowUp.step == note.step,
                    FollowUp.recipient_key == note.recipient_key,
                )
            )
            if exists is None:
                events.add_planned(session, note, now, actor=self.actor, detail="a note to you")

    def not_sent(self, followup_id: int, why: str) -> None:
        """A claimed follow-up that someone changed or decided meanwhile: an outcome, not an
        error. It is left as it is; the next pass takes it the normal way."""
        self.summary.changed += 1
        log.info("follow-up %s %s: not sent", followup_id, why)

    def defer(
        self, session: Session, row: FollowUp, status: str, reason: str, kind: str,
        strikes: int, now: datetime,
    ) -> None:  # fmt: skip
        """A claimed follow-up whose render ran over the CPU budget: tried again after a backoff
        (a busy machine passes; a runaway template fails at its third strike: strikes.py)."""
        retry_at = next_attempt(
            strikes + 1, now, minimum=self.settings.retry_min, maximum=self.settings.retry_max,
            rng=self.rng,
        )  # fmt: skip
        events.transition(
            session,
            row.id,
            [status],
            Status.DEFERRED,
            now,
            actor=self.actor,
            kind=kind,
            detail={"error": reason, "retry_at": retry_at.isoformat()},
            expect={"revision": row.revision},
            last_error=reason,
            retry_at=retry_at,
            claim_until=None,
        )
        self.summary.deferred += 1
        log.warning("follow-up %s (%s) deferred: %s", row.id, row.step, reason)

    def fail(
        self, session: Session, row: FollowUp, status: str, reason: str, notes: list[FollowUp],
        now: datetime,
    ) -> None:  # fmt: skip
        """A claimed follow-up that cannot be made into a message (its template is broken),
        unless it changed since it was rendered."""
        events.transition(
            session,
            row.id,
            [status],
            Status.FAILED,
            now,
            actor=self.actor,
            detail=reason,
            expect={"revision": row.revision},
            last_error=reason,
            retry_at=None,
            claim_until=None,
        )
        self.summary.failed += 1
        log.error("follow-up %s (%s) failed: %s", row.id, row.step, reason)
        self.add_notes(session, notes, now)
