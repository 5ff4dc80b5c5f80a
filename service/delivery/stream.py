"""Sending on one SMTP connection, in order; the crash guarantee of delivery lives here.

The invariant, per stream (one worker's connection to the server, reconnects included):

1. A follow-up is committed as `sending` (its attempt, Message-ID, stream and place in the
   stream) before its MAIL FROM, and in the same transaction as the outcome of the stream's
   previous message. So a stream has at most one follow-up `sending` at any moment: the one
   whose SMTP transaction is starting or under way.
2. Claimed is not sending: until that commit a follow-up keeps its status, so closing its
   interview, a cancel or a reply still stops it; the commit itself refuses a follow-up whose
   interview is no longer active.

So after a crash each dead stream leaves at most one follow-up `sending`; once its lease runs
out it becomes `uncertain` ("the server may have it"), for the user to check. A crash costs the
user at most one question per stream, and closing an interview names at most one follow-up per
worker as already on the wire.

The commit waits for the previous message's reply; the work that can overlap the server's does:
the next follow-up is claimed and rendered while the server takes in the current one's data.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy import Connection, exists

from service import events
from service.db import Database
from service.delivery.outcomes import Outcome, Recorder
from service.delivery.prepare import Ready
from service.errors import StateConflict
from service.models import FollowUp, InboxMessage, Interview, InterviewStatus, Kind, Status
from service.transport import DeliveryError, OutboxTransport, SendResult, SmtpTransport

log = logging.getLogger(__name__)

#: The guard that a follow-up's interview (if it has one) is still active and has no reply
#: recorded: closing the interview, or the company answering, wins. Notes to the user (about a
#: failure, a reply, a bounce) go regardless: they tell of what happened.
ACTIVE = (
    (FollowUp.kind == Kind.NOTE)
    | FollowUp.interview_id.is_(None)
    | (
        exists().where(
            Interview.id == FollowUp.interview_id, Interview.status == InterviewStatus.ACTIVE
        )
        & ~exists().where(
            InboxMessage.interview_id == FollowUp.interview_id, InboxMessage.kind == "reply"
        )
    )
)


class Stream:
    """Sends ready follow-ups one after another on one transport, keeping the invariant."""

    def __init__(
        self,
        db: Database,
        transport: SmtpTransport | OutboxTransport,
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
        #: One connection for the stream's commits (a transaction each): cheaper than sessions.
        self._conn: Connection | None = None

    def _transaction(self) -> _Committing:
        if self._conn is None:
            self._conn = self.db.engine.connect()
        return _Committing(self._conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self, items: Iterator[Ready]) -> DeliveryError | None:
        """Send every item, in order, until they run out or a stop is asked for; returns the
        error about the settings or the server that ended it early, if one did. Items not
        marked keep their claims (the caller gives the leases back)."""
        first = next(items, None)
        if first is None:
            return None
        try:
            # Connected before anything is marked: a server that cannot be reached (or a crash
            # while connecting) leaves the follow-ups claimed, never `sending`.
            self.transport.open()
        except DeliveryError as exc:
            return exc
        previous: Outcome | None = None
        upcoming: Iterator[Ready] = itertools.chain([first], items)
        while True:
            current = self._commit(previous, upcoming)
            if current is None:
                return None
            try:
                refused = self._hand_over(current)
            except DeliveryError as exc:
                if exc.kind == "setup" or exc.about_the_session:
                    # Nothing of this message reached the server: it is due again as it was.
                    self._release(current)
                    return exc
                previous = Outcome(current, exc, self.clock())
                upcoming = iter(()) if self._stopping() else items
                continue
            # The server takes in the data: meanwhile, claim and render what comes next.
            following = None if self._stopping() else next(items, None)
            previous = self._result(current, refused)
            if isinstance(previous.result, DeliveryError) and previous.result.kind == "setup":
                self._release(current)
                return previous.result
            upcoming = itertools.chain([following], items) if following is not None else iter(())

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    # --- the wire ----------------------------------------------------------------------------

    def _hand_over(self, item: Ready) -> dict[str, tuple[int, str]]:
        """Recipients and data, with one reconnect if a reused connection turns out to be
        closed before the data went out (some servers hang up after each message)."""
        try:
            self.transport.begin(item.outgoing)
            return self.transport.hand_over(item.outgoing)
        except DeliveryError as exc:
            lost = exc.code is None and exc.kind == "transient" and not exc.about_the_session
            if not (lost and self.transport.may_reconnect):
                raise
            log.info("follow-up %s: %s; reconnecting once", item.id, exc)
        self.transport.begin(item.outgoing)
        return self.transport.hand_over(item.outgoing)

    def _result(self, item: Ready, refused: dict[str, tuple[int, str]]) -> Outcome:
        result: SendResult | DeliveryError
        try:
            result = self.transport.result(refused)
            log.info(
                "sent follow-up %s (%s) to %s: %s", item.id, item.row.step, item.to, result.reply
            )
        except DeliveryError as exc:
            result = exc
        return Outcome(item, result, self.clock())

    # --- the database ------------------------------------------------------------------------

    def _commit(self, previous: Outcome | None, items: Iterator[Ready]) -> Ready | None:
        """Record `previous`'s outcome and mark the next item `sending`, in one transaction.
        Returns the item marked; items that can no longer go (cancelled meanwhile) are skipped.
        """
        notes = self.recorder.notes_for(previous) if previous is not None else []
        for item in items:
            now = self.clock()
            with self._transaction() as conn, events.batched(conn):
                if previous is not None:
                    self.recorder.record(conn, previous, notes)
                    previous, notes = None, []
                if self._mark(conn, item, now):
                    return item
        if previous is not None:
            with self._transaction() as conn:
                self.recorder.record(conn, previous, notes)
        return None

    def _mark(self, session: Connection, item: Ready, now: datetime) -> bool:
        """The guarded move to `sending`; False if the follow-up moved on since it was claimed
        (cancelled, closed, rejected), or its interview is no longer active."""
        self.seq += 1
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
                where=(ACTIVE,),
                interview_id=item.row.interview_id,
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

    def _release(self, item: Ready) -> None:
        """`item` was marked but its data never went out: due again as it was."""
        with self._transaction() as conn:
            self.recorder.release(conn, item, self.clock())


class _Committing:
    """`with` a transaction on the stream's connection: committed on success, else rolled back."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        self.transaction = self.conn.begin()
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        if kind is None:
            self.transaction.commit()
        else:
            self.transaction.rollback()
