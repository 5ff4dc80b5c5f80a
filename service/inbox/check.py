"""One pass over the mailbox: read each folder from its cursor, classify, match, act.

The cursor (UIDVALIDITY + last UID) moves in the same transaction as the actions of the
messages it covers, so a restart reads nothing twice and misses nothing. A first read, or a
read after UIDVALIDITY changed, looks at the last 30 days once; messages already recorded are
recognised by Message-ID.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from service import events
from service.config import ImapSettings, Settings
from service.db import Database, serialize
from service.errors import StateConflict, UsageError
from service.inbox.actions import Context, act, already_recorded
from service.inbox.classify import BOUNCE, REPLY, UNRELATED, Classification, add_details, classify
from service.inbox.match import Match, Matcher
from service.inbox.message import Incoming, parse_message
from service.inbox.reader import RESCAN, CommandFailed, InboxUnavailable, Mailbox
from service.models import InboxCursor

log = logging.getLogger(__name__)

#: Messages classified and acted on per transaction.
BATCH = 250


@dataclass
class InboxReport:
    """What one pass did."""

    configured: bool = True
    #: Messages read, per folder.
    read: dict[str, int] = field(default_factory=dict)
    #: One entry per message acted on: folder, uid, kind, reason, interview, follow-up, actions.
    acted: list[dict] = field(default_factory=list)
    skipped: int = 0
    #: Problems with single folders (the others were read).
    errors: list[str] = field(default_factory=list)
    sent_copies: int = 0

    @property
    def total(self) -> int:
        return sum(self.read.values())


def own_addresses(settings: Settings, imap: ImapSettings | None) -> frozenset[str]:
    """The user's own addresses: mail from them is never a reply."""
    found = set()
    if settings.sender is not None:
        found.add(settings.sender.email.lower())
    if imap is not None and "@" in imap.username:
        found.add(imap.username.lower())
    return frozenset(found)


class Connection:
    """A mailbox connection kept open from one pass to the next (the worker's: a quiet pass then
    costs an EXAMINE, not a TLS handshake and a login); reopened when it broke."""

    def __init__(self, imap: ImapSettings):
        self.imap = imap
        self.box: Mailbox | None = None

    def get(self) -> tuple[Mailbox, bool]:
        """The open mailbox, and whether it was already open before this call."""
        if self.box is not None:
            return self.box, True
        self.box = Mailbox(self.imap).open()
        return self.box, False

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None


def check_inbox(
    settings: Settings,
    db: Database,
    now: datetime,
    *,
    imap: ImapSettings | None = None,
    actor: str | None = None,
    connection: Connection | None = None,
) -> InboxReport:
    """One full pass: connect, read each folder, act, and append pending Sent copies.

    Without `connection`, it connects and logs out again; with one (kept by the caller across
    passes), it reuses it, and reconnects once if the server dropped it meanwhile. Raises
    InboxUnavailable when the server cannot be reached or logged into (the caller backs off,
    see `reader.retry_delay`); returns `configured=False` when no IMAP host is set.
    """
    imap = imap or (connection.imap if connection else settings.imap)
    if imap is None:
        return InboxReport(configured=False)
    ctx = Context(settings, now, actor or events.actor_name("inbox"))
    if connection is None:
        with Mailbox(imap) as box:
            return _pass(box, imap, db, ctx, own_addresses(settings, imap))
    box, reused = connection.get()
    try:
        return _pass(box, imap, db, ctx, own_addresses(settings, imap))
    except InboxUnavailable:
        connection.close()
        if not reused:
            raise
    # The server closed the idle connection (IMAP servers may after 30 minutes): once more.
    box, _ = connection.get()
    try:
        return _pass(box, imap, db, ctx, own_addresses(settings, imap))
    except InboxUnavailable:
        connection.close()
        raise


def _pass(
    box: Mailbox, imap: ImapSettings, db: Database, ctx: Context, mine: frozenset[str]
) -> InboxReport:
    report = InboxReport()
    for folder in imap.folders:
        try:
            report.read[folder] = read_folder(box, folder, db, ctx, mine, report)
        except CommandFailed as exc:
            log.error("inbox: %s", exc)
            report.errors.append(str(exc))
    from service.inbox.sent import flush_sent_copies

    report.sent_copies = flush_sent_copies(box, db, ctx.now)
    return report


def require_imap(settings: Settings) -> ImapSettings:
    """The IMAP settings, or a clear error saying how to set them."""
    imap = settings.imap
    if imap is None:
        raise UsageError(
            "FOLLOWUP_IMAP_HOST is not set: set it (and FOLLOWUP_IMAP_USERNAME/PASSWORD) in .env "
            "to let followup read replies; see .env.example"
        )
    return imap


def read_folder(
    box: Mailbox,
    folder: str,
    db: Database,
    ctx: Context,
    mine: frozenset[str],
    report: InboxReport,
) -> int:
    """Read one folder from its cursor; returns how many messages were read."""
    uidvalidity, uidnext = box.examine(folder)
    with db.transaction() as session:
        cursor = session.scalar(select(InboxCursor).where(InboxCursor.folder == folder))
        known = cursor is not None and cursor.uidvalidity == uidvalidity
        last = cursor.last_uid if known and cursor is not None else 0
    if known and uidnext is not None and uidnext - 1 <= last:
        return 0  # a quiet folder: nothing new since the last pass
    if known:
        uids = box.uids_after(last)
    else:
        why = "first read" if cursor is None else f"UIDVALIDITY changed ({cursor.uidvalidity})"
        log.info("inbox: %s of %s: reading the last %s days", why, folder, RESCAN.days)
        uids = box.uids_since((ctx.now - RESCAN).date())
    if not uids:
        _save_cursor(db, folder, uidvalidity, (uidnext or 1) - 1, ctx.now)
        return 0
    count = 0
    matcher = None
    batch: list[tuple[int, bytes]] = []
    for item in box.fetch(uids):
        batch.append(item)
        if len(batch) >= BATCH:
            matcher = _process(batch, folder, uidvalidity, db, ctx, mine, report, matcher)
            count += len(batch)
            batch = []
    if batch:
        _process(batch, folder, uidvalidity, db, ctx, mine, report, matcher)
        count += len(batch)
    if uidnext is not None and uids[-1] < uidnext - 1:  # expunged at the end: never read again
        _save_cursor(db, folder, uidvalidity, uidnext - 1, ctx.now)
    return count


def _save_cursor(db: Database, folder: str, uidvalidity: int, last_uid: int, now: datetime) -> None:
    with db.transaction() as session:
        _move_cursor(session, folder, uidvalidity, last_uid, now)


def _move_cursor(
    session: Session, folder: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    cursor = session.scalar(select(InboxCursor).where(InboxCursor.folder == folder))
    if cursor is None:
        session.add(
            InboxCursor(folder=folder, uidvalidity=uidvalidity, last_uid=last_uid, checked_at=now)
        )
    elif cursor.uidvalidity != uidvalidity or cursor.last_uid < last_uid:
        cursor.uidvalidity, cursor.last_uid, cursor.checked_at = uidvalidity, last_uid, now


def _parse_all(
    batch: list[tuple[int, bytes]], folder: str, report: InboxReport
) -> list[tuple[int, Incoming]]:
    parsed: list[tuple[int, Incoming]] = []
    for uid, raw in batch:
        try:
            parsed.append((uid, parse_message(raw)))
        except Exception as exc:  # MessageError, or a parser bug: the cursor moves past it
            log.warning("inbox: skipping %s UID %s: %s", folder, uid, exc)
            report.skipped += 1
    return parsed


def _process(
    batch: list[tuple[int, bytes]],
    folder: str,
    uidvalidity: int,
    db: Database,
    ctx: Context,
    mine: frozenset[str],
    report: InboxReport,
    matcher: Matcher | None,
) -> Matcher:
    """Classify, match and act on a batch, and move the cursor past it, in one transaction.

    The matcher (the contacts of active interviews, Message-IDs looked up) is made for the
    first batch of a folder and kept for the others; returned for the next batch."""
    parsed = _parse_all(batch, folder, report)
    with db.transaction() as session:
        # One inbox reader at a time (several workers on Postgres): the second one sees the
        # first one's cursor and records, and skips what they cover.
        serialize(session, "inbox")
        cursor = session.scalar(select(InboxCursor).where(InboxCursor.folder == folder))
        if cursor is not None and cursor.uidvalidity == uidvalidity:
            parsed = [(uid, m) for uid, m in parsed if uid > cursor.last_uid]
        seen = already_recorded(session, [m.key for _, m in parsed])
        if matcher is None:
            matcher = Matcher(session)
        matcher.session = session
        matcher.prime(m for _, m in parsed)
        for uid, message in parsed:
            if message.key in seen:
                continue
            seen.add(message.key)
            entry = _handle(session, matcher, message, folder, uid, ctx, mine, report)
            if entry is not None:
                report.acted.append(entry)
        _move_cursor(session, folder, uidvalidity, batch[-1][0], ctx.now)
    return matcher


def _handle(
    session: Session,
    matcher: Matcher,
    message: Incoming,
    folder: str,
    uid: int,
    ctx: Context,
    mine: frozenset[str],
    report: InboxReport,
) -> dict | None:
    """Classify, match and act on one message; a message that breaks a rule is logged once and
    skipped (the cursor moves past it: never a crash loop), and a race with the worker is
    retried once."""
    try:
        found = classify(message, mine)
        if found.kind == UNRELATED:
            return None
        kind = found.kind
        if kind == BOUNCE and found.bounce is not None:  # a bounce always has one
            match = matcher.match_bounce(found.bounce)
        else:
            match = matcher.match(message)
        if not match.matched:
            return None
        add_details(message, found, ctx.now)
    except Exception as exc:  # a message no rule foresaw: skip it, keep reading
        log.error("inbox: cannot read %s UID %s (%s): %s", folder, uid, message.key, exc,
                  exc_info=log.isEnabledFor(logging.DEBUG))  # fmt: skip
        report.skipped += 1
        return None
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _act_on(session, message, found, match, folder, uid, ctx)
        except StateConflict as exc:
            if attempt == 2:
                log.error("inbox: %s UID %s: %s", folder, uid, exc)
        except Exception as exc:  # a bug: skip the message rather than stop reading for good
            log.error("inbox: cannot act on %s UID %s (%s): %s", folder, uid, message.key, exc,
                      exc_info=log.isEnabledFor(logging.DEBUG))  # fmt: skip
            report.skipped += 1
            return None
    return None


def _act_on(
    session: Session,
    message: Incoming,
    found: Classification,
    match: Match,
    folder: str,
    uid: int,
    ctx: Context,
) -> dict:
    outcome = act(session, message, found, match, ctx, folder=folder, uid=uid)
    log.info(
        "inbox: %s from %s (%s): %s", found.kind, message.sender, message.subject,
        "; ".join(outcome.actions) or f"recorded, not acted on: {outcome.why}",
    )  # fmt: skip
    return {
        "folder": folder,
        "uid": uid,
        "message_id": message.message_id,
        "from": message.sender,
        "subject": message.subject,
        "kind": found.kind,
        "reason": f"{found.reason}; {match.reason}",
        "interview_id": match.interview_id,
        "followup_id": match.followup_id,
        "hiring": found.hiring if found.kind == REPLY else None,
        "return_date": found.return_date.isoformat() if found.return_date else None,
        "failed_recipients": found.bounce.failed_addresses if found.bounce else [],
        "actions": outcome.actions,
        "acted": outcome.acted,
        "why": outcome.why,
        "inbox_id": outcome.inbox_id,
    }
