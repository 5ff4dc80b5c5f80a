"""Storing an import in the caller's transaction: new interviews in bulk, a newer version of an
invitation (same UID, higher SEQUENCE) as an update, a cancelled one by closing its interview.

New interviews are written a chunk at a time with multi-row inserts (their follow-ups planned by
the same pure function `interview add` uses), so that 10,000 rows of a spreadsheet are stored in
seconds; updates and cancellations go through the same functions as `interview update` and
`interview close`, so every rule (re-timing, cancelling, restoring) is the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from service import interviews
from service.contacts import ContactInput, alike_warnings, edit_contacts
from service.errors import UsageError
from service.importing.records import ImportedInterview
from service.models import (
    Base,
    Contact,
    Event,
    FollowUp,
    Interview,
    InterviewStatus,
    Kind,
    Reason,
    Status,
)
from service.planner import Planner
from service.planning import ME, InterviewFacts, PlannedFollowUp, plan_followups

#: New interviews written per batch of inserts.
CHUNK = 500


@dataclass
class Stored:
    """What the import did with one interview it read."""

    source: str
    #: "added" | "updated" | "cancelled" | "unchanged"
    action: str
    interview_id: int | None
    uid: str | None = None
    #: (step, to, due) of each follow-up planned, for "added"; the changes, for "updated".
    planned: list[tuple[str, str, datetime]] = field(default_factory=list)
    changes: list = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)


class Store:
    """Stores what an import reads, in the session's transaction; each result goes to `report`
    as soon as it is known (nothing piles up in memory, however long the file)."""

    def __init__(
        self,
        session: Session,
        planner: Planner,
        now: datetime,
        *,
        actor: str,
        report: Callable[[Stored], None],
    ):
        self.session, self.planner, self.now, self.actor = session, planner, now, actor
        self.report = report
        self.counts: Counter[str] = Counter()
        #: Interviews an update changed: approved text about them may have to be seen again.
        self.updated: list[int] = []
        self._new: list[tuple[ImportedInterview, list[ContactInput]]] = []
        self._new_uids: set[str] = set()

    def _done(self, stored: Stored) -> None:
        self.counts[stored.action] += 1
        if stored.action == "updated" and stored.interview_id is not None:
            self.updated.append(stored.interview_id)
        self.report(stored)

    def add(self, item: ImportedInterview) -> None:
        if item.uid is not None and item.uid in self._new_uids:
            self.flush()  # the same invitation again (its update): the first must exist first
        existing = None
        if item.uid is not None:
            existing = self.session.scalar(
                select(Interview).where(Interview.source_uid == item.uid)
            )
        if existing is not None:
            self._done(self._again(existing, item))
            return
        if item.cancelled:
            self._done(
                Stored(item.source, "unchanged", None, item.uid,
                       message="a cancellation of an invitation never imported: nothing to do")
            )  # fmt: skip
            return
        contacts = list(item.contacts)
        if not contacts:
            raise UsageError(f"{item.source}: no contact to follow up with")
        edit_contacts([], replace_all=contacts)  # the same address twice is refused
        self._new.append((item, contacts))
        if item.uid is not None:
            self._new_uids.add(item.uid)
        if len(self._new) >= CHUNK:
            self.flush()

    def finish(self) -> Counter[str]:
        """Write what is left; returns how many were added, updated, cancelled, unchanged."""
        self.flush()
        return self.counts

    # --- a version of an invitation already imported ---------------------------------------

    def _again(self, interview: Interview, item: ImportedInterview) -> Stored:
        seen = interview.source_sequence or 0
        if item.sequence <= seen:
            said = "the same version" if item.sequence == seen else f"older than version {seen}"
            return Stored(item.source, "unchanged", interview.id, item.uid,
                          message=f"SEQUENCE {item.sequence} is {said}: nothing changed")  # fmt: skip
        if interview.status != InterviewStatus.ACTIVE:
            return Stored(item.source, "unchanged", interview.id, item.uid,
                          message=f"the interview is closed ({interview.status}): nothing changed")  # fmt: skip
        interview.source_sequence = item.sequence
        if item.cancelled:
            closed = interviews.close(
                self.session,
                interview.id,
                InterviewStatus.CANCELLED,
                self.now,
                actor=self.actor,
                zone=self.planner.settings.timezone,
            )
            return Stored(item.source, "cancelled", interview.id, item.uid,
                          message=f"the invitation was cancelled: {closed.cancelled} follow-up(s) cancelled")  # fmt: skip
        data = item.to_input()
        data.contacts = _keep_what_the_user_added(interview, data.contacts or [])
        outcome = interviews.change(
            self.session, self.planner, interview, data, self.now, actor=self.actor
        )
        return Stored(item.source, "updated", interview.id, item.uid,
                      changes=outcome.changes, warnings=outcome.warnings)  # fmt: skip

    # --- new interviews, in bulk -----------------------------------------------------------

    def flush(self) -> None:
        """Write the new interviews read so far: a multi-row insert per table."""
        if not self._new:
            return
        batch, self._new, self._new_uids = self._new, [], set()
        now, session = self.now, self.session
        ids = _insert(session, Interview, [_interview_row(item, now) for item, _ in batch])
        contact_rows, owners = [], []
        for interview_id, (_, contacts) in zip(ids, batch, strict=True):
            for position, c in enumerate(contacts):
                contact_rows.append(_contact_row(interview_id, position, c))
                owners.append(interview_id)
        contact_ids = _insert(session, Contact, contact_rows)
        people: dict[int, list[tuple[int, dict[str, Any]]]] = {i: [] for i in ids}
        for interview_id, contact_id, row in zip(owners, contact_ids, contact_rows, strict=True):
            people[interview_id].append((contact_id, row))
        followups, stored = [], []  # a chunk's worth
        for interview_id, (item, contacts) in zip(ids, batch, strict=True):
            keys = tuple(f"contact:{cid}" for cid, _ in people[interview_id])
            names = {
                f"contact:{cid}": f"{r['name']} <{r['email']}>" for cid, r in people[interview_id]
            }
            names[ME] = "you"
            planned = plan_followups(
                _facts(item, keys), self.planner.plan, self.planner.calendar, now
            )
            followups += [_followup_row(interview_id, p, now) for p in planned]
            stored.append(
                Stored(
                    item.source,
                    "added",
                    interview_id,
                    item.uid,
                    planned=[(p.step, names[p.recipient_key], p.due_at) for p in planned
                             if p.status == Status.PLANNED],
                    warnings=list(item.warnings) + alike_warnings(contacts),
                )
            )  # fmt: skip
        followup_ids = _insert(session, FollowUp, followups)
        events = [_event(now, "interview_added", self.actor, i, None, None) for i in ids]
        events += [
            _event(now, "planned", self.actor, row["interview_id"], fid, row["status"])
            for fid, row in zip(followup_ids, followups, strict=True)
        ]
        _bulk(session, _table(Event), events)
        for one in stored:
            self._done(one)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)  # a mapped class's __table__ is a Table


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows in one executemany with ids reserved beforehand; returns the ids, in order.

    (RETURNING in row order would make SQLite insert row by row.) On SQLite the transaction
    holds the write lock (BEGIN IMMEDIATE), so the next ids are free; Postgres hands them out
    from the table's sequence.
    """
    if not rows:
        return []
    table = _table(model)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(
            session.execute(
                text(
                    f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            ).scalars()
        )
    else:
        start = (session.execute(select(func.max(table.c.id))).scalar() or 0) + 1
        ids = list(range(start, start + len(rows)))
    _bulk(session, table, [{"id": i, **row} for i, row in zip(ids, rows, strict=True)])
    return ids


def _bulk(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """One executemany straight to the driver, values already in the database's own form.

    SQLAlchemy's per-value type processing costs more than the insert itself at this scale;
    the conversions here are the ones its types would make (UTC datetimes, JSON, booleans).
    """
    if not rows:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    columns = list(rows[0])
    mark = "%s" if postgres else "?"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    convert = [_converter(table.c[c].type, postgres) for c in columns]
    values = [tuple(f(row[c]) for f, c in zip(convert, columns, strict=True)) for row in rows]
    connection.exec_driver_sql(sql, values)


def _converter(kind: TypeEngine[Any], postgres: bool) -> Callable[[Any], Any]:
    """How a value of this column type goes to the driver."""
    import json
    from datetime import UTC, date

    from sqlalchemy import JSON, Boolean, Date

    from service.models import UTCDateTime

    def same(value: Any) -> Any:
        return value

    if isinstance(kind, UTCDateTime):
        if postgres:
            return same
        return lambda v: None if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(kind, JSON):
        if postgres:
            from psycopg.types.json import Json

            return lambda v: None if v is None else Json(v)
        return lambda v: None if v is None else json.dumps(v)
    if isinstance(kind, Date) and not postgres:
        return lambda v: v.isoformat() if isinstance(v, date) else v
    if isinstance(kind, Boolean) and not postgres:
        return lambda v: None if v is None else int(v)
    return same


def _interview_row(item: ImportedInterview, now: datetime) -> dict:
    minutes = int(item.duration.total_seconds() // 60) if item.duration else 60
    return {
        "company": item.company,
        "role": item.role,
        "starts_at": item.starts_at,
        "duration_minutes": max(1, minutes),
        "timezone": item.timezone,
        "location": item.location or "",
        "notes": item.notes or "",
        "questions": list(item.questions),
        "decision_date": item.decision_date,
        "language": item.language,
        "status": InterviewStatus.ACTIVE,
        "created_at": now,
        "updated_at": now,
        "closed_at": None,
        "source_uid": item.uid,
        "source_sequence": item.sequence if item.uid is not None else None,
    }


def _contact_row(interview_id: int, position: int, c: ContactInput) -> dict:
    return {
        "interview_id": interview_id,
        "position": position,
        "name": c.name,
        "email": c.email,
        "title": c.title,
        "phone": c.phone,
        "topic": c.topic,
        "greeting": c.greeting or None,
        "removed": False,
    }


def _facts(item: ImportedInterview, keys: tuple[str, ...]) -> InterviewFacts:
    return InterviewFacts(
        starts_at=item.starts_at,
        duration=item.duration or timedelta(minutes=60),
        zone=ZoneInfo(item.timezone),
        has_questions=bool(item.questions),
        decision_date=item.decision_date,
        contact_keys=keys,
    )


def _followup_row(interview_id: int, p: PlannedFollowUp, now: datetime) -> dict:
    return {
        "interview_id": interview_id,
        "contact_id": None if p.recipient_key == ME else int(p.recipient_key[8:]),
        "recipient_key": p.recipient_key,
        "step": p.step,
        "kind": Kind.FOLLOWUP,
        "template": p.template,
        "due_at": p.due_at,
        "status": str(p.status),
        "reason": Reason.SCHEDULE if p.status == Status.EXPIRED else None,
        "expires_at": p.expires_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _event(
    now: datetime,
    kind: str,
    actor: str,
    interview_id: int,
    followup_id: int | None,
    to_status: str | None,
) -> dict:
    return {
        "at": now,
        "kind": kind,
        "actor": actor,
        "interview_id": interview_id,
        "followup_id": followup_id,
        "from_status": None,
        "to_status": to_status,
        "detail": "imported",
    }


def _keep_what_the_user_added(
    interview: Interview, given: list[ContactInput]
) -> list[ContactInput]:
    """An updated invitation's attendees, keeping the topics and greetings the user set."""
    mine = {c.email.lower(): c for c in interview.contacts if not c.removed}
    kept = []
    for c in given:
        old = mine.get(c.email.lower())
        if old is not None:
            c = ContactInput(c.name, c.email, c.title or old.title, c.phone or old.phone,
                             old.topic or "", old.greeting or "")  # fmt: skip
        kept.append(c)
    return kept
