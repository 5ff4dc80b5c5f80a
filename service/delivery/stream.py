"""Sending on one SMTP connection, in order; the crash guarantee of delivery lives here.

The invariant, per stream (one worker's connection to the server, reconnects included):

1. A follow-up is committed as `sending` (its attempt, Message-ID, stream, place in the stream,
   and the bytes it sends) after the server accepted its envelope (MAIL FROM, RCPT TO) and
   before its DATA, in the same transaction as the outcome of the stream's previous message.
   So a stream has at most one follow-up `sending` at any moment: the one whose data is about
   to go or under way.
2. Claimed is not sending: until that commit a follow-up keeps its status, so closing its
   interview, a cancel, a reply or any change to it still stops it. The commit is conditioned
   on the status, attempts and claim it was made ready in, on its interview being active, and
   on the revision its text was rendered from: a follow-up changed since (edited, approved
   anew, re-timed, its interview or contact changed) is not marked. The envelope is then reset
   (RSET: nothing delivered) and the follow-up left for the next pass, rendered anew.
3. A failure before the data (a refused sender or recipient, a connection lost with the envelope
   and the one reconnect failing) is committed with the mark, in the same transaction; a failure
   of the session (connecting, logging in) records nothing: the follow-up waits as it was.

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

from sqlalchemy import Connection, exists, select

from service import events
from service.db import Database
from service.delivery.outcomes import Outcome, Recorder
from service.delivery.prepare import Ready
from service.errors import StateConflict
from service.models import FollowUp, InboxMessage, Interview, InterviewStatus, Kind, Status
from service.transport import DeliveryError, OutboxTransport, SendResult, SmtpTransport

log = logging.getLogger(__name__)

#: The most of a message kept as sent (`sent_bytes`, what `preview --raw` shows of it); a
#: larger one is sent all the same, and said to be too large to keep.
SENT_BYTES_MAX = 1024 * 1024

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
            current = next(upcoming, None)
            if current is None:
                self._settle(previous)
                return None
            try:
                refused = self._envelope(current)
            except DeliveryError as exc:
                if exc.kind == "setup" or exc.about_the_session:
                    # Nothing of this message reached the server: it is due again as it was.
                    self._settle(previous)
                    return exc
                # Refused before its data: marked and failed (or deferred) in one commit.
                self._commit(previous, current, Outcome(current, exc, self.clock()))
                previous = None
                upcoming = iter(()) if self._stopping() else items
                continue
            marked = self._commit(previous, current)
            previous = None
            if not marked:
                self.transport.abort()
                upcoming = iter(()) if self._stopping() else items
                continue
            try:
                self.transport.data(current.outgoing)
            except DeliveryError as exc:
                previous = Outcome(current, exc, self.clock())
                upcoming = iter(()) if self._stopping() else items
                continue
            # The server takes in the data: meanwhile, claim and render what comes next.
            following = None if self._stopping() else next(items, None)
            previous = self._result(current, refused)
            upcoming = itertools.chain([following], items) if following is not None else iter(())

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    # --- the wire ----------------------------------------------------------------------------

    def _envelope(self, item: Ready) -> dict[str, tuple[int, str]]:
        """Sender and recipients, with one reconnect if a reused connection turns out to be
        closed (some servers hang up after each message)."""
        try:
            return self.transport.envelope(item.outgoing)
        except DeliveryError as exc:
            lost = exc.code is None and exc.kind == "transient" and not exc.about_the_session
            if not (lost and self.transport.may_reconnect):
                raise
            log.info("follow-up %s: %s; reconnecting once", item.id, exc)
        return self.transport.envelope(item.outgoing)

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

    def _commit(self, previous: Outcome | None, item: Ready, failed: Outcome | None = None) -> bool:
        """Record `previous`'s outcome and mark `item` `sending` (with `failed`, its failure
        before the data, too), in one transaction. False if `item` may no longer go."""
        notes = self.recorder.notes_for(previous) if previous is not None else []
        own = self.recorder.notes_for(failed) if failed is not None else []
        now = self.clock()
        with self._transaction() as conn, events.batched(conn):
            if previous is not None:
                self.recorder.record(conn, previous, notes)
            refused = self._mark(conn, item, now)
            if refused is None and failed is not None:
                self.recorder.record(conn, failed, own)
        if refused is not None:
            self.recorder.not_sent(item.id, refused)
        return refused is None

    def _settle(self, previous: Outcome | None) -> None:
        """Record the last outcome of the stream, with nothing to mark after it."""
        if previous is not None:
            notes = self.recorder.notes_for(previous)
            with self._transaction() as conn, events.batched(conn):
                self.recorder.record(conn, previous, notes)

    def _mark(self, session: Connection, item: Ready, now: datetime) -> str | None:
        """The guarded move to `sending`, with the bytes about to go; returns why it was
        refused (the follow-up moved on since it was rendered), or None once marked."""
        self.seq += 1
        data = item.outgoing.data
        try:
            events.transition(
                session,
                item.id,
                [item.status],
                Status.SENDING,
                now,
                actor=self.actor,
                detail={"attempt": item.attempts + 1, "message_id": item.values["message_id"]},
                expect={
                    "attempts": item.attempts,
                    "claimed_by": self.actor,
                    "revision": item.revision,
                },
                where=(ACTIVE,),
                interview_id=item.row.interview_id,
                attempts=item.attempts + 1,
                send_from=item.status,
                stream=self.name,
                send_seq=self.seq,
                sending_started_at=now,
                retry_at=None,
                sent_bytes=data if len(data) <= SENT_BYTES_MAX else None,
                **item.values,
            )
        except StateConflict:
            return _why_refused(session, item)
        return None


def _why_refused(session: Connection, item: Ready) -> str:
    """Why a follow-up's `sending` mark was refused, in the words of the pass summary."""
    row = session.execute(
        select(FollowUp.status, FollowUp.revision, FollowUp.claimed_by).where(
            FollowUp.id == item.id
        )
    ).first()
    if row is None:
        return "deleted meanwhile"
    status, revision, claimed_by = row
    if status != item.status:
        return f"{status} meanwhile"
    if revision != item.revision:
        return "changed meanwhile"
    if claimed_by != item.row.claimed_by:
        return "taken by another worker meanwhile"
    return "stopped meanwhile: its interview is closed or the company replied"


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
