"""Helpers for tests that run the real worker as a separate process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from service.db import Database
from service.models import Contact, FollowUp, Interview


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
                    name=f"Person {n}",
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
                    review=False,
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
