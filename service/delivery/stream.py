"""Sending on one SMTP connection, in order; the crash guarantee of delivery lives here.

The invariant, per stream (one worker's connection to the server, reconnects included):

1. A follow-up is committed as `sending`, with its attempt, its Message-ID, the stream and its
   place in the stream, before its MAIL FROM. Claimed is not sending: until that commit the
   follow-up keeps its status, and closing the interview, a cancel or a reply still stops it.
2. Its data (DATA) goes out only after the outcome of the stream's previous message is
   committed.

So after a crash, of a stream's follow-ups still `sending`, only the first (lowest place) can
have reached the server: it becomes `uncertain` ("the server may have it"); the others never sent
their data and are simply due again. A crash costs the user at most one question per stream.

One commit per message carries both the outcome of the previous message and the `sending` mark
of the next, and it is made while the server works on the current message's MAIL FROM; the
next message is prepared while the server works on the current one's data.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from service import events
from service.db import Database
from service.delivery.outcomes import Outcome, Recorder
from service.delivery.prepare import Ready
from service.errors import StateConflict
from service.models import FollowUp, Interview, InterviewStatus, Status
from service.transport import DeliveryError, SendResult

log = logging.getLogger(__name__)


class Stream:
    """Sends ready follow-ups one after another on one transport, keeping the invariant."""

    def __init__(
        self,
        db: Database,
        transport,
        recorder: Recorder,
        *,
        actor: str,
        name: str,
        clock: Callable[[], datetime],
        stop: threading.Event | None = None,
    ):
        self.db, self.transport, self.recorder = db, transport, recorder
        self.actor, self.name, self.clock, self.stop = actor, name, clock, stop
        self.seq = 0

    def run(self, items: Iterator[Ready]) -> DeliveryError | None:
        """Send every item, in order, until they run out or a stop is asked for; returns the
        error about the settings or the server that ended it early, if one did. Items not
        started keep their claims (the caller gives the leases back)."""
        previous: Outcome | None = None
        first = next(items, None)
        if first is None:
            return None
        try:
            # Connected before anything is marked: a server that cannot be reached (or a crash
            # while connecting) leaves the follow-ups claimed, never `sending`.
            self.transport.open()
        except DeliveryError as exc:
            return exc
        current = self._commit(None, itertools.chain([first], items))
        while current is not None:
            try:
                self.transport.begin(current.outgoing)
            except DeliveryError as exc:
                # Nothing of this message reached the server: it is due again as it was.
                self._release(previous, [current])
                return exc
            following = self._commit(previous, iter(()) if self._stopping() else items)
            previous = self._exchange(current)
            if isinstance(previous.result, DeliveryError) and previous.result.kind == "setup":
                self._release(None, [current] + ([following] if following else []))
                return previous.result
            current = following
        if previous is not None:
            self._commit(previous, iter(()))
        return None

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    # --- the wire ----------------------------------------------------------------------------

    def _exchange(self, item: Ready) -> Outcome:
        """Recipients, data and the server's verdict, with one reconnect if a reused connection
        was closed before the data went out."""
        for attempt in (1, 2):
            try:
                refused = self.transport.hand_over(item.outgoing)
                result: SendResult | DeliveryError = self.transport.result(refused)
                log.info("sent follow-up %s (%s) to %s: %s", item.id, item.row.step, item.to,
                         result.reply)  # fmt: skip
            except DeliveryError as exc:
                # Lost (no reply at all) before the data went out, on a connection that had
                # carried mail: the server may just have closed it. One new connection.
                lost = exc.code is None and exc.phase in ("mail", "rcpt", "data")
                retry = attempt == 1 and lost and exc.kind == "transient"
                if retry and self.transport.may_reconnect and self._reconnected(item, exc):
                    continue
                result = exc
            return Outcome(item, result, self.clock())
        raise AssertionError("unreachable")

    def _reconnected(self, item: Ready, exc: DeliveryError) -> bool:
        log.info("follow-up %s: %s; reconnecting once", item.id, exc)
        try:
            self.transport.begin(item.outgoing)
        except DeliveryError:
            return False
        return True

    # --- the database ------------------------------------------------------------------------

    def _commit(self, previous: Outcome | None, items: Iterator[Ready]) -> Ready | None:
        """Record `previous`'s outcome and mark the next item `sending`, in one transaction.
        Returns the item marked; items that can no longer go (cancelled meanwhile) are skipped.
        """
        notes = self.recorder.notes_for(previous) if previous is not None else []
        for item in items:
            now = self.clock()
            with self.db.transaction() as session:
                if previous is not None:
                    self.recorder.record(session, previous, notes)
                    previous, notes = None, []
                if self._mark(session, item, now):
                    return item
        if previous is not None:
            with self.db.transaction() as session:
                self.recorder.record(session, previous, notes)
        return None

    def _mark(self, session, item: Ready, now: datetime) -> bool:
        """The guarded move to `sending`; False if the follow-up moved on since it was claimed
        (cancelled, closed, rejected), or its interview is no longer active."""
        self.seq += 1
        active = FollowUp.interview_id.is_(None) | FollowUp.interview_id.in_(
            Interview.__table__.select()
            .with_only_columns(Interview.id)
            .where(Interview.status == InterviewStatus.ACTIVE)
        )
        try:
            events.transition(
                session,
                item.id,
                [item.status],
                Status.SENDING,
                now,
                actor=self.actor,
                detail={"attempt": item.attempts + 1, "message_id": item.values["message_id"]},
                expect={"attempts": item.attempts, "claimed_by": self.actor},
                where=[active],
                attempts=item.attempts + 1,
                send_from=item.status,
                stream=self.name,
                send_seq=self.seq,
                sending_started_at=now,
                retry_at=None,
                **item.values,
            )
        except StateConflict as exc:
            log.info("follow-up %s not sent: %s", item.id, exc)
            return False
        return True

    def _release(self, previous: Outcome | None, items: list[Ready]) -> None:
        """Record `previous`; `items` were marked but their data never went out: due again."""
        notes = self.recorder.notes_for(previous) if previous is not None else []
        with self.db.transaction() as session:
            if previous is not None:
                self.recorder.record(session, previous, notes)
            for item in items:
                self.recorder.release(session, item, self.clock())
