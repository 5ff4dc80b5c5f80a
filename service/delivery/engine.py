"""One delivery pass: housekeeping, then claim, prepare and send until nothing is due.

Claims are taken in batches as the stream needs them, so claiming and rendering the next
follow-ups overlap the server's work on the current one. What does not go (review, a hold, a
broken template) is recorded per batch. A failure about the settings or the server is never
pinned on a message: a refused login pauses sending until the settings change or the worker
restarts; an unreachable server is tried again after a backoff. Either is logged once.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select

from service import events
from service.approval import ReviewRule
from service.config import Settings
from service.db import Database
from service.delivery import claims, strikes
from service.delivery.outcomes import Recorder, Summary
from service.delivery.prepare import Decision, Ready, load, prepare
from service.delivery.stream import Stream
from service.delivery.sweep import expire, recover_streams
from service.delivery.wake import next_wake
from service.errors import StateConflict
from service.models import FollowUp
from service.plan import Plan, load_plan
from service.rendering import Rendered, Templates
from service.transport import DeliveryError, OutboxTransport, SmtpTransport

log = logging.getLogger(__name__)


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
        self.actor = actor or events.actor_name("worker")
        #: This worker's stream: its sequence of messages on one connection (see stream.py).
        self.stream_name = f"{self.actor}/{uuid.uuid4().hex[:8]}"
        self.rng = rng or random.Random()
        self._templates = templates
        self.plan = plan or load_plan(settings.plan_path)
        #: Whether a follow-up needs approval is decided from these, when it would go out.
        self.rule = ReviewRule.of(settings.review, self.plan)
        self.transport = (
            SmtpTransport(settings.smtp) if settings.smtp else OutboxTransport(settings.outbox_dir)
        )
        #: Why sending is paused (a refused login): until the settings change or a restart.
        self.paused: str | None = None
        #: An unreachable server: when to try again, and how many times it failed in a row.
        self.retry_after: datetime | None = None
        self._failures = 0
        self._last_error: str | None = None
        #: Called with the time before each message of a pass (the worker's heartbeat: a long
        #: pass through a slow server still shows the worker alive).
        self.alive: Callable[[datetime], None] | None = None

    @property
    def templates(self) -> Templates:
        """The template set, made when first needed (an idle worker never needs it)."""
        if self._templates is None:
            # Its own, compiled once for this worker's settings; files re-checked once a second.
            self._templates = Templates.of(self.settings, recheck=1.0)
        return self._templates

    def run_once(
        self, clock: Callable[[], datetime], stop: threading.Event | None = None
    ) -> Summary:
        """Housekeeping, then send everything due, batch by batch, until nothing is left."""
        summary = Summary()
        now = clock()
        summary.flagged = recover_streams(self.db, now, self.settings.send_lease, actor=self.actor)
        summary.expired = expire(self.db, now, actor=self.actor)
        from service.digest import queue_digest

        queue_digest(self.settings, self.db, lambda: self.templates, now, actor=self.actor)
        sending = self.paused is None and (self.retry_after is None or now >= self.retry_after)
        me = self.settings.require_sender()
        recorder = Recorder(
            self.settings, lambda: self.templates, me, actor=self.actor, rng=self.rng,
            summary=summary,
        )  # fmt: skip
        claimed: list[int] = []
        stream = Stream(
            self.db, self.transport, recorder, actor=self.actor, name=self.stream_name,
            clock=clock, stop=stop,
        )  # fmt: skip
        try:
            while True:
                before = summary.handled
                error = stream.run(self._items(clock, stop, recorder, claimed, sending))
                # Recording outcomes may make more due (a note to the user about a failure).
                stopping = stop is not None and stop.is_set()
                if error or stopping or summary.handled == before:
                    break
        finally:
            stream.close()
            claims.release(self.db, claimed, self.actor)
            self.transport.close()
        self._after(error, clock())
        return summary

    def _items(
        self,
        clock: Callable[[], datetime],
        stop: threading.Event | None,
        recorder: Recorder,
        claimed: list[int],
        sending: bool,
    ) -> Iterator[Ready]:
        """Ready follow-ups, claimed and prepared a batch at a time as the stream asks."""
        me = self.settings.require_sender()
        while not (stop is not None and stop.is_set()):
            now = clock()
            limit = self.settings.batch_size
            if sending and self.settings.smtp and self.settings.max_per_hour:
                room = self.settings.max_per_hour - claims.sent_last_hour(self.db, now)
                limit, sending = (min(limit, room), True) if room > 0 else (limit, False)
            ids = claims.claim(
                self.db,
                now,
                limit=limit,
                actor=self.actor,
                lease=self.settings.send_lease,
                rule=self.rule,
                review_lead=self.settings.review_lead,
                sending=sending,
            )
            if not ids:
                return
            claimed.extend(ids)
            rows, peers = load(self.db, ids)
            prepared = prepare(
                rows, peers, settings=self.settings, templates=self.templates, rule=self.rule,
                me=me, now=now,
            )  # fmt: skip
            if prepared.decisions:
                budget = strikes.judge(self.db, prepared.decisions, self.settings.render_timeout)
                self._decide(prepared.decisions, recorder, clock(), budget)
            for ready in prepared.ready:
                if self.alive is not None:
                    self.alive(clock())
                yield ready

    def _decide(
        self,
        decisions: list[Decision],
        recorder: Recorder,
        now: datetime,
        budget: dict[int, tuple[str, int]],
    ) -> None:
        """Record what does not go now: to review, held, back to review, deferred or failed."""
        from service.digest import queue_digest
        from service.review import hold_for_review, requeue

        notes = {
            d.row.id: recorder.failure_notes(d.row, d.why, now)
            for d in decisions
            if d.action == "fail"
        }
        for d in decisions:
            if d.action == "gone":
                recorder.not_sent(d.row.id, d.why)
                continue
            # One transaction each: a row the database refuses stops only itself. Each move is
            # conditioned on the revision the decision was made from.
            revision = d.row.revision
            try:
                with self.db.transaction() as session:
                    if d.action == "fail":
                        recorder.fail(session, d.row, d.status, d.why, notes[d.row.id], now)
                    elif d.action == "defer":
                        kind, strike = budget[d.row.id]
                        recorder.defer(session, d.row, d.status, d.why, kind, strike, now)
                    elif d.action == "back":
                        requeue(
                            session, d.row, d.rendered, now, actor=self.actor, reason=d.why,
                            revision=revision,
                        )  # fmt: skip
                        recorder.summary.prepared += 1
                    else:
                        why = d.why if d.action == "hold" else None
                        text = cast(Rendered, d.rendered)  # "review" and "hold" carry their text
                        hold_for_review(
                            session, d.row, text, now, actor=self.actor, why=why,
                            revision=revision,
                        )  # fmt: skip
                        if why:
                            recorder.summary.held += 1
                        else:
                            recorder.summary.prepared += 1
            except StateConflict:  # rejected, cancelled or changed since it was rendered
                recorder.not_sent(d.row.id, _changed(self.db, d.row.id, d.status))
            except Exception as exc:  # the database refused it: say so, go on with the rest
                log.error("follow-up %s could not be recorded (%s): %s", d.row.id, d.action, exc)
        if any(d.action not in ("fail", "defer") for d in decisions):
            queue_digest(self.settings, self.db, lambda: self.templates, now, actor=self.actor)

    def _after(self, error: DeliveryError | None, now: datetime) -> None:
        """Pause, back off or recover after a pass, and say so once."""
        if error is None:
            if self._last_error is not None:
                log.info("the mail server works again: sending resumes")
            self._failures, self.retry_after, self._last_error = 0, None, None
            return
        if error.kind == "setup":
            self.paused = str(error)
            log.error(
                "sending is paused until the settings change or the worker restarts: %s", error
            )
            return
        self._failures += 1
        wait = min(
            self.settings.retry_max, self.settings.retry_min * 2 ** min(self._failures - 1, 20)
        )
        self.retry_after = now + wait
        if str(error) != self._last_error:
            log.error("cannot reach the mail server, trying again in %s: %s", _words(wait), error)
        self._last_error = str(error)

    def next_wake(self, now: datetime) -> datetime | None:
        """The next moment something becomes due (not before a backoff ends)."""
        wake = next_wake(self.db, self.settings, self.rule, now)
        if wake is not None and self.retry_after is not None and wake < self.retry_after:
            wake = self.retry_after
        return wake


def _changed(db: Database, followup_id: int, status: str) -> str:
    """What happened to a claimed follow-up meanwhile, in the words of the pass summary."""
    with db.reading() as session:
        current = session.scalar(select(FollowUp.status).where(FollowUp.id == followup_id))
    return "changed meanwhile" if current == status else f"{current} meanwhile"


def _words(wait: timedelta) -> str:
    seconds = int(wait.total_seconds())
    return f"{seconds // 60} min" if seconds >= 120 else f"{seconds} s"
