"""Helpers for tests that run the real worker as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from service.db import Database
from service.models import Contact, FollowUp, Interview

FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jon")
LAST = ("Roe", "Lee", "Diaz", "Khan", "Moss", "Ng", "Ortiz", "Park", "Quist", "Reyes")


def person_name(n: int) -> str:
    """A realistic name for contact n (a name with digits would be held for review)."""
    return f"{FIRST[n % 10]} {LAST[n // 10 % 10]}"


def seed_due(
    db_url: str,
    count: int,
    *,
    due: datetime | None = None,
    step: str = "thank_you",
    per_interview: int = 2,
) -> None:
    """`count` thank-yous due at `due` (default: now), two interviewers an interview."""
    now = datetime.now(UTC)
    due = due or now - timedelta(seconds=1)
    db = Database(db_url)
    with db.transaction() as session:
        for first in range(0, count, per_interview):
            interview = Interview(
                company=f"Company {first}",
                role="Staff Engineer",
                starts_at=now - timedelta(hours=1),
                duration_minutes=45,
                timezone="UTC",
                location="",
                notes="",
                questions=[],
                status="active",
                created_at=now,
                updated_at=now,
            )
            session.add(interview)
            session.flush()
            contacts = [
                Contact(
                    interview_id=interview.id,
                    position=n,
                    name=person_name(n),
                    email=f"p{n}@acme.example",
                    title="",
                    phone="",
                    removed=False,
                )
                for n in range(first, min(count, first + per_interview))
            ]
            session.add_all(contacts)
            session.flush()
            session.add_all(
                FollowUp(
                    interview_id=interview.id,
                    contact_id=c.id,
                    recipient_key=f"contact:{c.id}",
                    step=step,
                    template="thank_you",
                    due_at=due,
                    status="planned",
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                for c in contacts
            )
    db.dispose()


def statuses(db_url: str) -> Counter:
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.status, func.count()).group_by(FollowUp.status)
        ).all()
    db.dispose()
    return Counter(dict(rows))


def message_ids(db_url: str) -> dict[str, tuple[int, str]]:
    """Message-ID -> (follow-up id, status)."""
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(select(FollowUp.message_id, FollowUp.id, FollowUp.status)).all()
    db.dispose()
    return {mid: (fid, status) for mid, fid, status in rows if mid}


def worker_env(db_url: str, smtp_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        FOLLOWUP_DATABASE_URL=db_url,
        FOLLOWUP_FROM="Ada Candidate <ada@candidate.example>",
        FOLLOWUP_TIMEZONE="UTC",
        FOLLOWUP_MAX_PER_HOUR="0",
        FOLLOWUP_LOG_LEVEL="WARNING",
        **smtp_env,
    )
    env.update(extra)
    return env


def start_worker(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "service", "worker", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class LogReader:
    """Collects a worker's stderr lines in a thread, so a test can wait for what it logs."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    closed = False

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def count(self, fragment: str) -> int:
        return self.text.count(fragment)

    def wait_for(self, fragment: str, times: int = 1, timeout: float = 30) -> None:
        """Until `fragment` has been logged `times` times in all; fails with the log otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while "".join(self.lines).count(fragment) < times:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(
                        f"the worker did not log {fragment!r} {times} time(s); its log:\n"
                        + "".join(self.lines)
                    )
                self._changed.wait(left)

    def finish(self, timeout: float = 20) -> str:
        """After the process ended: everything it logged."""
        self._thread.join(timeout)
        return self.text
