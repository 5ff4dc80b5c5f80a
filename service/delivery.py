"""Delivery: claims due follow-ups, sends them, and records each outcome; never twice, never lost.

The protocol for one follow-up: a guarded update commits it as `sending` (attempt number and
Message-ID included) before SMTP DATA; the outcome is committed after. A worker that dies in
between leaves it in `sending`; once its lease runs out it becomes `uncertain`, and only the user
decides whether it goes again.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from service import events
from service.approval import ReviewRule
from service.checks import check_followup
from service.composer import compose, context_for, outgoing, peers_of, thread_of
from service.config import Settings
from service.db import Database
from service.errors import FollowupError, StateConflict, TemplateError
from service.messages import OutgoingMessage, new_message_id
from service.models import LIVE, FollowUp, Interview, Kind, Reason, Status
from service.plan import Plan, load_plan
from service.rendering import Templates, templates_for
from service.retry import gave_up, next_attempt
from service.transport import (
    SESSION_PHASES,
    DeliveryError,
    OutboxTransport,
    SendResult,
    SmtpTransport,
)

log = logging.getLogger(__name__)

#: The template of the note to the user when a follow-up could not be delivered.
FAILED_NOTICE = "delivery_failed"


@dataclass
class Claim:
    """A follow-up this worker has committed as `sending`."""

    id: int
    interview_id: int | None
    attempt: int
    step: str
    to: str
    first_attempt_at: datetime
    outbox_name: str
    message: OutgoingMessage


@dataclass
class Transmission:
    """What happened on the wire for one batch."""

    outcomes: list[tuple[Claim, SendResult | DeliveryError, datetime]] = field(default_factory=list)
    unsent: list[Claim] = field(default_factory=list)
    transport_down: bool = False


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

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed + self.uncertain


def _stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()


def due_condition(now: datetime, rule: ReviewRule):
    """Follow-ups that may be claimed for sending at `now`."""
    return or_(
        and_(FollowUp.status == Status.PLANNED, ~rule.sql(), FollowUp.due_at <= now),
        and_(FollowUp.status == Status.APPROVED, FollowUp.due_at <= now),
        and_(FollowUp.status == Status.DEFERRED, FollowUp.retry_at <= now),
    )


class Delivery:
    """Sends what is due through SMTP, or into the outbox folder when SMTP is not configured."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        actor: str | None = None,
        rng: random.Random | None = None,
        templates: Templates | None = None,
        plan: Plan | None = None,
    ):
        self.settings = settings
        self.db = db
        self.plan = plan or load_plan(settings.plan_path)
        #: Whether a follow-up needs approval is decided from these, when it would go out.
        self.rule = ReviewRule.of(settings.review, self.plan)
        self.actor = actor or events.actor_name("worker")
        self.rng = rng or random.Random()
        self._templates = templates
        self.transport = (
            SmtpTransport(settings.smtp) if settings.smtp else OutboxTransport(settings.outbox_dir)
        )

    @property
    def templates(self) -> Templates:
        """The template set, made when first needed (an idle worker never needs it)."""
        if self._templates is None:
            self._templates = templates_for(self.settings)
        return self._templates

    # --- housekeeping ---------------------------------------------------------------------

    def flag_stuck(self, now: datetime) -> int:
        """`sending` for longer than the lease: the worker died mid-send; flag it, never resend."""
        cutoff = now - self.settings.send_lease
        with self.db.transaction() as session:
            ids = session.scalars(
                select(FollowUp.id).where(
                    FollowUp.status == Status.SENDING, FollowUp.sending_started_at < cutoff
                )
            ).all()
            for fid in ids:
                events.transition(
                    session,
                    fid,
                    [Status.SENDING],
                    Status.UNCERTAIN,
                    now,
                    actor=self.actor,
                    detail="found in `sending` after its lease: the worker stopped mid-send; "
                    "the server may or may not have it",
                    last_error="interrupted while sending: check your Sent folder, then "
                    "`followup retry ID` or `followup cancel ID`",
                )
                log.warning("follow-up %s was interrupted mid-send: marked uncertain", fid)
        return len(ids)

    def expire(self, now: datetime) -> int:
        """Live follow-ups past their expiry are too late to send."""
        with self.db.transaction() as session:
            rows = session.execute(
                select(FollowUp.id, FollowUp.status).where(
                    FollowUp.status.in_(LIVE), FollowUp.expires_at <= now
                )
            ).all()
            for fid, status in rows:
                reason = (
                    "not approved in time"
                    if status == Status.PENDING_REVIEW
                    else "too late to send"
                )
                events.transition(
                    session,
                    fid,
                    [status],
                    Status.EXPIRED,
                    now,
                    actor=self.actor,
                    detail=reason,
                    last_error=reason,
                    reason=Reason.LATE,
                )
        return len(rows)

    def sent_last_hour(self, session: Session, now: datetime) -> int:
        """Messages sent in the last hour, counting those on their way right now."""
        return session.scalar(
            select(func.count(FollowUp.id)).where(
                or_(
                    and_(
                        FollowUp.status == Status.SENT, FollowUp.sent_at > now - timedelta(hours=1)
                    ),
                    FollowUp.status == Status.SENDING,
                )
            )
        )

    # --- claiming -------------------------------------------------------------------------

    def claim(self, now: datetime, limit: int) -> list[Claim]:
        """Commit up to `limit` due follow-ups as `sending` in one transaction.

        Postgres skips rows other workers hold (FOR UPDATE SKIP LOCKED); SQLite's BEGIN
        IMMEDIATE lets one worker at a time in. Either way every row is guarded once more by
        status and attempt number in the UPDATE itself.
        """
        me = self.settings.require_sender()
        with self.db.transaction() as session:
            if self.settings.max_per_hour and self.settings.smtp:
                limit = min(limit, self.settings.max_per_hour - self.sent_last_hour(session, now))
                if limit <= 0:
                    return []
            rows = session.scalars(
                select(FollowUp)
                .where(due_condition(now, self.rule))
                .order_by(FollowUp.due_at, FollowUp.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=FollowUp)
                .options(
                    selectinload(FollowUp.contact),
                    selectinload(FollowUp.interview).selectinload(Interview.contacts),
                )
            ).all()
            if not rows:
                return []
            peers = peers_of(session, {r.interview_id for r in rows if r.interview_id is not None})
            claims, changes = [], []
            for row in rows:
                prepared = self._prepare(session, row, me, now, peers.get(row.interview_id, []))
                if prepared is not None:
                    claims.append(prepared[0])
                    changes.append(prepared[1])
            events.transition_many(
                session, changes, Status.SENDING, now, actor=self.actor, sync=False
            )
        return claims

    def _prepare(
        self, session: Session, row: FollowUp, me, now: datetime, peers: list[FollowUp]
    ) -> tuple[Claim, dict] | None:
        """Content, thread and Message-ID for one row about to be claimed; None if it cannot go.

        This is the gate of review: a follow-up goes out only with the text the user approved, or,
        when it needs no approval now (settings and plan as they are), with no finding that a
        careful person would stop at; otherwise it goes to the review queue instead.
        """
        from service.review import approval_still_valid, hold_for_review

        if row.approved_hash is not None and not approval_still_valid(
            session, row, self.templates, me, now, actor=self.actor, peers=peers
        ):
            return None
        if row.kind != Kind.NOTE and row.approved_hash is None:
            try:
                rendered, thread = compose(session, row, self.templates, me, peers)
            except TemplateError as exc:
                self.fail_unsendable(session, row, now, str(exc), status=row.status)
                return None
            if self.rule.of_row(row):
                hold_for_review(session, row, rendered, now, actor=self.actor)
                return None
            findings = check_followup(row, rendered)
            if findings:
                why = "; ".join(f.message for f in findings)
                hold_for_review(session, row, rendered, now, actor=self.actor, why=why)
                return None
            content = {
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "content_hash": rendered.content_hash,
                "source_hash": rendered.source_hash,
            }
        else:
            thread = thread_of(session, row, self.templates, me, peers)
            content = {
                "subject": row.subject,
                "body_text": row.body_text,
                "body_html": row.body_html,
                "content_hash": row.content_hash,
                "source_hash": row.source_hash,
            }
        change = {
            "id": row.id,
            "from": row.status,
            "expect_attempts": row.attempts,
            "interview_id": row.interview_id,
            "attempts": row.attempts + 1,
            **content,
            "message_id": row.message_id or new_message_id(me.domain),
            "in_reply_to": thread.in_reply_to,
            "references": " ".join(thread.references) or None,
            "sending_started_at": now,
            "claimed_by": self.actor,
            "first_attempt_at": row.first_attempt_at or now,
            "retry_at": None,
        }
        change["detail"] = {"attempt": row.attempts + 1, "message_id": change["message_id"]}
        # The loaded row follows the claim (without becoming dirty: the UPDATE does the writing),
        # so later rows of the batch see it in their thread: a status check due together with
        # its thank-you replies to it.
        followed = {k: change[k] for k in ("subject", "body_text", "body_html", "message_id")}
        followed |= {"in_reply_to": change["in_reply_to"], "references": change["references"]}
        followed |= {"status": Status.SENDING, "sending_started_at": now}
        for key, value in followed.items():
            set_committed_value(row, key, value)
        message = outgoing(row, self.settings, now)
        claim = Claim(
            id=row.id,
            interview_id=row.interview_id,
            attempt=row.attempts + 1,
            step=row.step,
            to=message.to.email,
            first_attempt_at=change["first_attempt_at"],
            outbox_name=f"{row.due_at:%Y%m%d-%H%M%S}-{row.id:06d}-{row.step}",
            message=message,
        )
        return claim, change

    # --- sending --------------------------------------------------------------------------

    def transmit(
        self, claims: list[Claim], clock: Callable[[], datetime], stop: threading.Event | None
    ) -> Transmission:
        """Hand each claimed message to the transport; network only, no database.

        Stops early when asked to, or when the server cannot be reached at all; the claims not
        attempted are returned in `unsent`.
        """
        done = Transmission()
        for index, claim in enumerate(claims):
            if _stopping(stop):
                done.unsent = claims[index:]
                break
            message = claim.message
            try:
                result = self.transport.send(
                    message.sender.email,
                    message.recipients(),
                    message.as_bytes(),
                    name=claim.outbox_name,
                )
            except DeliveryError as exc:
                done.outcomes.append((claim, exc, clock()))
                if exc.phase in SESSION_PHASES or exc.phase == "write":
                    # The server is unreachable or refuses us: the rest wait for a retry.
                    done.transport_down = True
                    done.outcomes.extend((rest, exc, clock()) for rest in claims[index + 1 :])
                    break
                continue
            except ValueError as exc:  # a header that would not serialise safely
                failure = DeliveryError("-", "compose", str(exc), kind="permanent")
                done.outcomes.append((claim, failure, clock()))
                continue
            done.outcomes.append((claim, result, clock()))
            log.info(
                "sent follow-up %s (%s) to %s: %s", claim.id, claim.step, claim.to, result.reply
            )
        return done

    def _transmit_into(self, box: dict, claims, clock, stop) -> None:
        try:
            box["done"] = self.transmit(claims, clock, stop)
        except Exception:
            log.exception("the sending thread failed")

    def record(self, done: Transmission, summary: Summary, now: datetime) -> None:
        """Commit the outcome of every attempt, and hand back what was never attempted."""
        sent = [(c, r, t) for c, r, t in done.outcomes if isinstance(r, SendResult)]
        self.record_sent(sent, summary)
        for claim, error, at in done.outcomes:
            if isinstance(error, DeliveryError):
                self.record_failure(claim, error, at, summary)
        if done.unsent:
            self.release(done.unsent, now)

    def release(
        self, claims: list[Claim], now: datetime, reason: str = "worker stopping before sending it"
    ) -> None:
        """Hand back claims that were never attempted; they go at the next pass."""
        with self.db.transaction() as session:
            for claim in claims:
                row = session.get(FollowUp, claim.id)
                back = (
                    Status.DEFERRED
                    if claim.attempt > 1
                    else (Status.APPROVED if row.approved_hash else Status.PLANNED)
                )
                events.transition(
                    session,
                    claim.id,
                    [Status.SENDING],
                    back,
                    now,
                    actor=self.actor,
                    kind="released",
                    detail=reason,
                    expect={"attempts": claim.attempt},
                    attempts=claim.attempt - 1,
                    sending_started_at=None,
                    claimed_by=None,
                    retry_at=now if back == Status.DEFERRED else None,
                )

    def record_sent(self, sent: list[tuple[Claim, SendResult, datetime]], summary: Summary) -> None:
        """Commit `sent` for messages the server accepted, all in one transaction."""
        if not sent:
            return
        changes = []
        for claim, result, now in sent:
            note = None
            if result.refused:
                note = "; ".join(f"{r} refused: {c} {m}" for r, (c, m) in result.refused.items())
            changes.append(
                {
                    "id": claim.id,
                    "from": Status.SENDING,
                    "expect_attempts": claim.attempt,
                    "interview_id": claim.interview_id,
                    "detail": {"reply": result.reply} | ({"refused": note} if note else {}),
                    "sent_at": now,
                    "server_reply": result.reply,
                    "last_error": note,
                }
            )
        with self.db.transaction() as session:
            try:
                with session.begin_nested():
                    events.transition_many(
                        session, changes, Status.SENT, sent[-1][2], actor=self.actor
                    )
            except StateConflict:
                # Some row moved on (flagged uncertain after a lease ran out): one by one.
                for (claim, _, now), change in zip(sent, changes, strict=True):
                    values = {k: change[k] for k in ("sent_at", "server_reply", "last_error")}
                    self._settle(session, claim, Status.SENT, now, change["detail"], **values)
        summary.sent += len(sent)

    def record_failure(
        self, claim: Claim, exc: DeliveryError, now: datetime, summary: Summary
    ) -> None:
        with self.db.transaction() as session:
            row = session.get(FollowUp, claim.id)
            if exc.kind == "uncertain":
                self._settle(session, claim, Status.UNCERTAIN, now, exc.reply, last_error=str(exc))
                summary.uncertain += 1
                log.warning("follow-up %s: %s", claim.id, exc)
                return
            if exc.kind == "transient" and not gave_up(
                claim.first_attempt_at, now, self.settings.retry_lifetime
            ):
                retry_at = next_attempt(
                    claim.attempt,
                    now,
                    minimum=self.settings.retry_min,
                    maximum=self.settings.retry_max,
                    rng=self.rng,
                )
                self._settle(
                    session,
                    claim,
                    Status.DEFERRED,
                    now,
                    {"error": str(exc), "retry_at": retry_at.isoformat()},
                    last_error=str(exc),
                    retry_at=retry_at,
                )
                summary.deferred += 1
                log.warning("follow-up %s deferred until %s: %s", claim.id, retry_at, exc)
                return
            reason = str(exc) if exc.kind == "permanent" else f"gave up after retrying: {exc}"
            if self._settle(
                session, claim, Status.FAILED, now, reason, last_error=reason, retry_at=None
            ):
                self._after_failure(session, row, now, reason)
            summary.failed += 1

    def _settle(
        self, session: Session, claim: Claim, to: str, now: datetime, detail, **values
    ) -> bool:
        """Commit the outcome of this worker's attempt; False if the row moved on meanwhile.

        `uncertain` is accepted as a starting state: another worker may have flagged our attempt
        when our lease ran out, and a real answer from the server is better than a guess.
        """
        try:
            events.transition(
                session,
                claim.id,
                [Status.SENDING, Status.UNCERTAIN],
                to,
                now,
                actor=self.actor,
                detail=detail,
                expect={"attempts": claim.attempt},
                **values,
            )
            return True
        except StateConflict as exc:
            log.error(
                "outcome %s of attempt %s of follow-up %s came too late: %s",
                to,
                claim.attempt,
                claim.id,
                exc,
            )
            events.record(
                session,
                now,
                "late_outcome",
                actor=self.actor,
                followup_id=claim.id,
                detail={"outcome": str(to), "attempt": claim.attempt, "detail": detail},
            )
            return False

    def fail_unsendable(
        self, session: Session, row: FollowUp, now: datetime, reason: str, *, status: str
    ) -> None:
        """Fail a follow-up that never reached SMTP (its template would not render)."""
        events.transition(
            session,
            row.id,
            [status],
            Status.FAILED,
            now,
            actor=self.actor,
            detail=reason,
            last_error=reason,
            retry_at=None,
        )
        self._after_failure(session, row, now, reason)

    def _after_failure(self, session: Session, row: FollowUp, now: datetime, reason: str) -> None:
        log.error("follow-up %s (%s) failed: %s", row.id, row.step, reason)
        if row.contact_id is not None:
            self.notify_user_of_failure(session, row, reason, now)

    def notify_user_of_failure(
        self, session: Session, row: FollowUp, reason: str, now: datetime
    ) -> None:
        """Queue a note to the user saying which follow-up failed and why."""
        me = self.settings.require_sender()
        context = context_for(row, me)
        context["failed"] = {
            "id": row.id,
            "step": row.step,
            "subject": row.subject or "",
            "to": f"{row.contact.name} <{row.contact.email}>",
            "error": reason,
        }
        try:
            rendered = self.templates.render(FAILED_NOTICE, context)
        except FollowupError as exc:
            log.error("cannot tell the user about failed follow-up %s: %s", row.id, exc)
            return
        notice = FollowUp.note_to_user(
            interview_id=row.interview_id,
            step=FAILED_NOTICE,
            about=str(row.id),
            template=FAILED_NOTICE,
            rendered=rendered,
            now=now,
        )
        existing = session.scalar(
            select(FollowUp.id).where(
                FollowUp.interview_id == row.interview_id,
                FollowUp.step == notice.step,
                FollowUp.recipient_key == notice.recipient_key,
            )
        )
        if existing is not None:
            return
        events.add_planned(
            session, notice, now, actor=self.actor, detail=f"tells you follow-up {row.id} failed"
        )

    # --- one pass -------------------------------------------------------------------------

    def run_once(
        self, clock: Callable[[], datetime], stop: threading.Event | None = None
    ) -> Summary:
        """Housekeeping, then send everything due, batch by batch, until nothing is left."""
        summary = Summary()
        now = clock()
        summary.flagged = self.flag_stuck(now)
        summary.expired = self.expire(now)
        from service.review import prepare_due

        summary.prepared = prepare_due(self, now)
        try:
            self._send_all_due(clock, summary, stop)
        finally:
            self.transport.close()
        return summary

    def _send_all_due(
        self, clock: Callable[[], datetime], summary: Summary, stop: threading.Event | None
    ) -> None:
        """Send batch after batch; the next batch is claimed while the current one is on the wire.

        The wire mostly waits for the server; claiming the next batch and recording the outcomes
        of the previous one mostly use the CPU, so they overlap. Only this thread touches the
        database (one connection, no lock waits); the sending thread only talks SMTP. At most
        two batches are between their claim and their recorded outcome, which bounds what a
        crash can leave `uncertain` (they are never resent by themselves).
        """
        claims = self.claim(clock(), self.settings.batch_size)
        done: Transmission | None = None
        while claims:
            box: dict[str, Transmission] = {}
            wire = threading.Thread(target=self._transmit_into, args=(box, claims, clock, stop))
            wire.start()
            try:
                if done is not None:  # the previous batch's outcomes, while this one is sent
                    self.record(done, summary, clock())
                    done = None
                upcoming = [] if _stopping(stop) else self.claim(clock(), self.settings.batch_size)
            except BaseException:
                wire.join()
                if "done" in box:  # what the server accepted is recorded, come what may
                    self.record(box["done"], summary, clock())
                raise
            wire.join()
            if "done" not in box:
                # The sending thread died of a bug: which messages went out is unknown, so the
                # batch stays `sending` and its lease turns it `uncertain` for the user.
                self.release(upcoming, clock(), "not sent: the batch before it was interrupted")
                raise FollowupError("sending stopped unexpectedly; see the log above")
            done = box["done"]
            if _stopping(stop) or done.transport_down:
                self.record(done, summary, clock())
                reason = "worker stopping" if _stopping(stop) else "the mail server is unreachable"
                self.release(upcoming, clock(), f"{reason}: not sent, goes at the next pass")
                return
            if not upcoming:
                # Recording may make more due (a note to the user about a failure).
                self.record(done, summary, clock())
                done = None
                upcoming = self.claim(clock(), self.settings.batch_size)
            claims = upcoming
        if done is not None:
            self.record(done, summary, clock())

    def next_wake(self, now: datetime) -> datetime | None:
        """The next moment something becomes due: a send, a retry, an expiry, a lease.

        Each question is its own MIN over an indexed column, so an idle worker stays cheap with
        many follow-ups planned far ahead.
        """
        planned, approved = Status.PLANNED, Status.APPROVED

        def earliest(session: Session, column, *conditions) -> datetime | None:
            return session.scalar(select(func.min(column)).where(*conditions))

        with self.db.transaction() as session:
            candidates = [
                earliest(session, FollowUp.due_at, FollowUp.status == planned, ~self.rule.sql()),
                earliest(session, FollowUp.due_at, FollowUp.status == approved),
                earliest(session, FollowUp.retry_at, FollowUp.status == Status.DEFERRED),
                earliest(
                    session,
                    FollowUp.expires_at,
                    FollowUp.expires_at.is_not(None),
                    FollowUp.status.in_(LIVE),
                ),
            ]
            started = earliest(
                session, FollowUp.sending_started_at, FollowUp.status == Status.SENDING
            )
            candidates.append(started + self.settings.send_lease if started else None)
            first = earliest(session, FollowUp.due_at, FollowUp.status == planned, self.rule.sql())
            candidates.append(first - self.settings.review_lead if first else None)
        times = [c for c in candidates if c is not None]
        if not times:
            return None
        wake = min(times)
        if self.settings.smtp and self.settings.max_per_hour:
            with self.db.transaction() as session:
                if self.sent_last_hour(session, now) >= self.settings.max_per_hour:
                    oldest = session.scalar(
                        select(func.min(FollowUp.sent_at)).where(
                            FollowUp.status == Status.SENT,
                            FollowUp.sent_at > now - timedelta(hours=1),
                        )
                    )
                    # Nothing more may go out before the oldest send of the hour drops out.
                    wake = max(wake, oldest + timedelta(hours=1))
        return wake
