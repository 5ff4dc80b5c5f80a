"""Workers as the others see them: one row per running worker, its heartbeat each pass, and why
its sending is paused, if it is (for `followup doctor` and `followup health`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from service.db import Database
from service.models import Worker


def beat(
    db: Database,
    name: str,
    started_at: datetime,
    now: datetime,
    paused: str | None,
    *,
    inbox_error: str | None = None,
) -> None:
    """Record that the worker is alive now, whether its sending is paused, and what keeps it
    from reading the mailbox, if anything."""
    with db.transaction() as session:
        row = session.get(Worker, name)
        if row is None:
            row = Worker(name=name, started_at=started_at, heartbeat_at=now)
            session.add(row)
        row.heartbeat_at = now
        row.inbox_error = inbox_error
        if paused != row.paused_reason:
            row.paused_reason, row.paused_at = paused, now if paused else None


def forget(db: Database, name: str) -> None:
    """A worker that stops cleanly leaves no row behind."""
    with db.transaction() as session:
        session.execute(delete(Worker).where(Worker.name == name))


def alive(db: Database, now: datetime, tick: timedelta) -> list[Worker]:
    """Workers that beat within the last three ticks."""
    with db.reading() as session:
        return list(session.scalars(select(Worker).where(Worker.heartbeat_at >= now - 3 * tick)))


def everyone(db: Database) -> list[Worker]:
    with db.reading() as session:
        return list(session.scalars(select(Worker).order_by(Worker.heartbeat_at.desc())))
