"""The Sent folder: copies of sent follow-ups appended to it, and uncertain follow-ups looked up
in it.

After SMTP accepted a follow-up, the delivery code calls `queue_sent_copy` in the transaction
that records `sent`; the next inbox pass appends the copy (`flush_sent_copies`), so an IMAP
problem never fails or delays a follow-up; a failed append is retried with backoff and shown by
`doctor`. Providers that file SMTP mail in Sent themselves (Gmail, X-GM-EXT-1) get no copy.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from service import events
from service.config import ImapSettings, Settings
from service.db import Database
from service.errors import FollowupError, StateConflict
from service.inbox.reader import InboxUnavailable, Mailbox, retry_delay
from service.models import FollowUp, SentCopy, Status

log = logging.getLogger(__name__)

#: Copies appended per pass at most (the rest wait for the next one).
FLUSH_LIMIT = 50
#: The first retry of a failed append waits this long, doubling up to RETRY_MAX.
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=6)


def queue_sent_copy(
    session: Session | Connection,
    imap: ImapSettings | None,
    followup_id: int | None,
    message_id: str,
    raw: bytes,
    now: datetime,
) -> bool:
    """Remember a sent message for the Sent folder; False when no copy is wanted."""
    if imap is None or imap.sent == "off":
        return False
    session.execute(
        insert(cast(Table, SentCopy.__table__)).values(  # a mapped class's __table__ is a Table
            followup_id=followup_id,
            message_id=message_id,
            raw=raw,
            queued_at=now,
            attempts=0,
            next_try_at=now,
        )
    )
    return True


def flush_sent_copies(box: Mailbox, db: Database, now: datetime) -> int:
    """Append the queued copies that are due; returns how many were appended."""
    with db.transaction() as session:
        copies = session.scalars(
            select(SentCopy)
            .where(SentCopy.next_try_at <= now)
            .order_by(SentCopy.id)
            .limit(FLUSH_LIMIT)
        ).all()
    if not copies:
        return 0
    if box.settings.sent == "off" or box.saves_sent_mail:
        with db.transaction() as session:
            session.execute(delete(SentCopy).where(SentCopy.id.in_([c.id for c in copies])))
        return 0
    appended = 0
    for copy in copies:
        try:
            folder = box.sent_folder()
            if folder is None:
                raise FollowupError("no Sent folder found; name it in FOLLOWUP_IMAP_SENT")
            # A retry may follow an append that worked but was not recorded: look first.
            if copy.attempts == 0 or not box.contains(folder, copy.message_id):
                box.append(folder, copy.raw, copy.queued_at)
        except InboxUnavailable:
            raise
        except FollowupError as exc:
            _failed(db, copy, now, str(exc))
            continue
        with db.transaction() as session:
            session.execute(delete(SentCopy).where(SentCopy.id == copy.id))
        appended += 1
    return appended


def _failed(db: Database, copy: SentCopy, now: datetime, error: str) -> None:
    log.warning("inbox: copy of %s not appended to Sent: %s", copy.message_id, error)
    with db.transaction() as session:
        row = session.get(SentCopy, copy.id)
        if row is not None:
            row.attempts += 1
            row.last_error = error[:2000]
            row.next_try_at = now + retry_delay(row.attempts, RETRY_BASE, RETRY_MAX)


def pending_copies(db: Database) -> tuple[int, str | None]:
    """How many copies wait for the Sent folder, and the last error of a failed one."""
    with db.transaction() as session:
        count = session.scalar(select(func.count(SentCopy.id)))
        error = session.scalar(
            select(SentCopy.last_error)
            .where(SentCopy.last_error.is_not(None))
            .order_by(SentCopy.id.desc())
            .limit(1)
        )
    return count or 0, error


def find_in_sent(box: Mailbox, message_id: str) -> bool:
    """Whether the Sent folder holds the message with this Message-ID."""
    folder = box.sent_folder()
    return folder is not None and box.contains(folder, message_id)


def resolve_uncertain(
    settings: Settings, db: Database, now: datetime, *, imap: ImapSettings | None = None
) -> list[int]:
    """Look each uncertain follow-up up in the Sent folder: found means it went out (`sent`,
    event "found in the Sent folder"); not found leaves it to the user. Returns the ids found."""
    imap = imap or settings.imap
    if imap is None or imap.sent == "off":
        return []
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.id, FollowUp.message_id, FollowUp.sending_started_at).where(
                FollowUp.status == Status.UNCERTAIN, FollowUp.message_id.is_not(None)
            )
        ).all()
    if not rows:
        return []
    found = []
    actor = events.actor_name("inbox")
    with Mailbox(imap) as box:
        for fid, message_id, started in rows:
            if message_id is None or not find_in_sent(box, message_id):  # None: not selected
                continue
            try:
                with db.transaction() as session:
                    events.transition(
                        session,
                        fid,
                        [Status.UNCERTAIN],
                        Status.SENT,
                        now,
                        actor=actor,
                        kind="found_in_sent",
                        detail="found in the Sent folder",
                        sent_at=started or now,
                        last_error=None,
                    )
            except StateConflict:  # the user decided meanwhile (retry or cancel)
                continue
            found.append(fid)
            log.info("follow-up %s was found in the Sent folder: marked sent", fid)
    return found
