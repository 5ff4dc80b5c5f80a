"""The worker's eyes: the mailbox read before each pass claims anything to send, with a kept
connection, a backoff when the server cannot be reached, and each problem logged once."""

from __future__ import annotations

import logging
from datetime import datetime

from service.config import Settings
from service.db import Database
from service.inbox.check import Connection, InboxReport, check_inbox
from service.inbox.reader import InboxUnavailable, retry_delay
from service.inbox.sent import resolve_uncertain

log = logging.getLogger(__name__)


class InboxWatch:
    """Reads the mailbox for the worker; never lets a mailbox problem stop sending."""

    def __init__(self, settings: Settings, db: Database, actor: str):
        self.settings, self.db, self.actor = settings, db, actor
        self.connection = Connection(settings.imap) if settings.imap is not None else None
        self.failures = 0
        self.retry_at: datetime | None = None
        #: What is wrong with the mailbox right now, in words (None: nothing, or no mailbox).
        self.error: str | None = None

    def check(self, now: datetime) -> InboxReport | None:
        """One look at the mailbox, unless it is off or backing off; None when not looked."""
        if self.connection is None or (self.retry_at is not None and now < self.retry_at):
            return None
        try:
            report = check_inbox(
                self.settings, self.db, now, actor=self.actor, connection=self.connection
            )
            resolve_uncertain(self.settings, self.db, now)
        except InboxUnavailable as exc:
            self._failed(str(exc), now)
            return None
        except Exception as exc:  # a mailbox problem must never stop sending
            self._failed(f"the inbox check failed: {exc}", now)
            return None
        if self.error is not None:
            log.info("the mailbox can be read again")
        self.failures, self.retry_at, self.error = 0, None, None
        for item in report.acted:
            log.info(
                "inbox: %s from %s (%r): %s",
                item["kind"],
                item["from"],
                item["subject"],
                "; ".join(item["actions"]) or "recorded",
            )
        return report

    def _failed(self, error: str, now: datetime) -> None:
        self.failures += 1
        wait = retry_delay(self.failures, self.settings.tick)
        self.retry_at = now + wait
        if error != self.error:
            log.error("cannot read the mailbox (trying again in %s): %s", wait, error)
        self.error = error
        return None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
