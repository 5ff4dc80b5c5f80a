"""`followup inbox classify`: saved messages (.eml files) classified and matched offline,
against the database, exactly as a pass over the mailbox would, without changing anything.

Every file gets a result: one that cannot be read (not a message, too big, unreadable, or a rule
crashed on it) gets the kind `error` and the reason, and the others are still read."""

from __future__ import annotations

import logging
from datetime import datetime

from service.bounds import read_message_file
from service.config import Settings
from service.db import Database
from service.errors import FollowupError, UsageError
from service.inbox.authority import judge
from service.inbox.check import own_addresses
from service.inbox.classify import BOUNCE, REPLY, UNRELATED, add_details, classify, decision
from service.inbox.match import Matcher
from service.inbox.message import Incoming, parse_message

log = logging.getLogger(__name__)

#: The kind of a file that cannot be read or classified (only in `inbox classify`'s output).
ERROR = "error"


def error_result(name: str, reason: str) -> dict:
    """The result of a file that cannot be read: its reason, every other field empty."""
    return {
        "file": name,
        "kind": ERROR,
        "reason": reason,
        "interview_id": None,
        "followup_id": None,
        "how": None,
        "hiring": None,
        "return_date": None,
        "failed_recipients": [],
        "delayed": False,
        "from": None,
        "subject": None,
        "message_id": None,
        "acted": False,
        "why": "the file cannot be read",
    }


def read_files(paths: list[str]) -> list[tuple[str, Incoming | str]]:
    """Parse every file first: (name, message), or (name, why it cannot be read)."""
    parsed: list[tuple[str, Incoming | str]] = []
    for name in paths:
        try:
            parsed.append((name, parse_message(read_message_file(name))))
        except FollowupError as exc:  # MessageError, or the file's UsageError
            parsed.append((name, str(exc).removeprefix(f"{name}: ")))
    return parsed


def classify_files(settings: Settings, db: Database, paths: list[str], now: datetime) -> list[dict]:
    """One result per file, in order: file, kind, reason, interview_id, followup_id, hiring,
    return_date, failed_recipients (and from, subject, message_id, how); `acted` and `why`: whether
    reading it in the mailbox would change anything (service.inbox.authority), and why; kind
    `error` for a file that cannot be read or classified."""
    messages = read_files(paths)
    try:
        imap = settings.imap
    except UsageError:
        imap = None
    mine = own_addresses(settings, imap)
    results = []
    with db.reading() as session:
        matcher = Matcher(session)
        matcher.prime(m for _, m in messages if isinstance(m, Incoming))
        for name, message in messages:
            if not isinstance(message, Incoming):
                results.append(error_result(name, message))
                continue
            try:
                results.append(_classify_one(name, message, matcher, mine, now))
            except Exception as exc:  # a message no rule foresaw: say so, read the others
                log.debug("cannot classify %s", name, exc_info=True)
                results.append(error_result(name, f"a rule failed on it: {exc}"[:500]))
        session.rollback()
    return results


def _classify_one(
    name: str, message: Incoming, matcher: Matcher, mine: frozenset[str], now: datetime
) -> dict:
    found = classify(message, mine)
    if found.kind == UNRELATED:
        match = None
    elif found.kind == BOUNCE and found.bounce is not None:  # a bounce always has one
        match = matcher.match_bounce(found.bounce)
    else:
        match = matcher.match(message)
    add_details(message, found, now)
    verdict = judge(matcher.session, message, found, match)
    kind = found.kind
    reason = found.reason
    if match is not None:
        reason = f"{reason}; {match.reason}"
        if kind == REPLY and not match.matched:
            kind = UNRELATED
    return {
        "file": name,
        "kind": kind,
        "reason": reason,
        "interview_id": match.interview_id if match else None,
        "followup_id": match.followup_id if match else None,
        "how": match.how if match and match.matched else None,
        "hiring": found.hiring if kind == REPLY or decision(found) else None,
        "return_date": found.return_date.isoformat() if found.return_date else None,
        "failed_recipients": found.bounce.failed_addresses if found.bounce else [],
        "delayed": bool(found.bounce and not found.bounce.permanent),
        "from": message.sender,
        "subject": message.subject,
        "message_id": message.message_id,
        "acted": verdict.acts,
        "why": verdict.why,
    }
