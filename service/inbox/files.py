"""`followup inbox classify`: saved messages (.eml files) classified and matched offline,
against the database, exactly as a pass over the mailbox would, without changing anything."""

from __future__ import annotations

from datetime import datetime

from service.bounds import read_message_file
from service.config import Settings
from service.db import Database
from service.errors import UsageError
from service.inbox.authority import judge
from service.inbox.check import own_addresses
from service.inbox.classify import BOUNCE, REPLY, UNRELATED, add_details, classify
from service.inbox.match import Matcher
from service.inbox.message import Incoming, MessageError, parse_message


def read_files(paths: list[str]) -> list[tuple[str, Incoming]]:
    """Parse every file first: one that is not a message is a usage error, named in one line."""
    parsed = []
    for name in paths:
        raw = read_message_file(name)
        try:
            parsed.append((name, parse_message(raw)))
        except MessageError as exc:
            raise UsageError(f"{name}: {exc}") from None
    return parsed


def classify_files(settings: Settings, db: Database, paths: list[str], now: datetime) -> list[dict]:
    """One result per file: file, kind, reason, interview_id, followup_id, hiring, return_date,
    failed_recipients (and from, subject, message_id, how); `acted` and `why`: whether reading it
    in the mailbox would change anything (service.inbox.authority), and why."""
    messages = read_files(paths)
    try:
        imap = settings.imap
    except UsageError:
        imap = None
    mine = own_addresses(settings, imap)
    results = []
    with db.reading() as session:
        matcher = Matcher(session)
        matcher.prime(m for _, m in messages)
        for name, message in messages:
            found = classify(message, mine)
            if found.kind == UNRELATED:
                match = None
            elif found.kind == BOUNCE and found.bounce is not None:  # a bounce always has one
                match = matcher.match_bounce(found.bounce)
            else:
                match = matcher.match(message)
            add_details(message, found, now)
            verdict = judge(session, message, found, match)
            kind = found.kind
            reason = found.reason
            if match is not None:
                reason = f"{reason}; {match.reason}"
                if kind == REPLY and not match.matched:
                    kind = UNRELATED
            results.append(
                {
                    "file": name,
                    "kind": kind,
                    "reason": reason,
                    "interview_id": match.interview_id if match else None,
                    "followup_id": match.followup_id if match else None,
                    "how": match.how if match and match.matched else None,
                    "hiring": found.hiring if kind == REPLY else None,
                    "return_date": found.return_date.isoformat() if found.return_date else None,
                    "failed_recipients": found.bounce.failed_addresses if found.bounce else [],
                    "delayed": bool(found.bounce and not found.bounce.permanent),
                    "from": message.sender,
                    "subject": message.subject,
                    "message_id": message.message_id,
                    "acted": verdict.acts,
                    "why": verdict.why,
                }
            )
        session.rollback()
    return results
