"""State changes: every status change is a guarded update plus an append-only event row."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from service import lifecycle
from service.errors import NotFound, StateConflict
from service.models import LIVE, Event, FollowUp, Interview


def actor_name(role: str) -> str:
    """Who made a change: the command or worker, with host and pid."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def record(
    session: Session | Connection,
    now: datetime,
    kind: str,
    *,
    actor: str,
    interview_id: int | None = None,
    followup_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    detail: Any = None,
) -> None:
    """Append one event row."""
    if detail is None:
        text = ""
    elif isinstance(detail, str):
        text = detail
    else:
        text = json.dumps(detail, default=str, ensure_ascii=False)
    row = {
        "at": now,
        "kind": kind,
        "actor": actor,
        "interview_id": interview_id,
        "followup_id": followup_id,
        "from_status": from_status,
        "to_status": to_status,
        "detail": text,
    }
    connection = _connection(session)
    pending = connection.info.get(_BATCH)
    if pending is not None:
        pending.append(row)
    else:
        connection.execute(_INSERT_EVENT, row)


_BATCH = "followup_event_batch"


@contextlib.contextmanager
def batched(session: Session | Connection) -> Iterator[None]:
    """Event rows recorded inside go in with one INSERT at the end (the same transaction)."""
    connection = _connection(session)
    pending: list[dict[str, Any]] = []
    connection.info[_BATCH] = pending
    try:
        yield
    finally:
        del connection.info[_BATCH]
    if pending:
        connection.execute(_INSERT_EVENT, pending)


#: Statements are built once and reused: building one costs more than running it.
_INSERT_EVENT = insert(cast(Table, Event.__table__))  # a mapped class's __table__ is a Table
_UPDATES: dict[tuple[Any, ...], Update] = {}


def _update(
    allowed: tuple[str, ...], keys: tuple[str, ...], expect: tuple[str, ...], where: tuple[Any, ...]
) -> Update:
    """The guarded UPDATE for this shape of transition, built once."""
    shape = (allowed, keys, expect, where)
    statement = _UPDATES.get(shape)
    if statement is None:
        table = cast(Table, FollowUp.__table__)
        guard = table.c.status == allowed[0] if len(allowed) == 1 else table.c.status.in_(allowed)
        conditions = [table.c.id == bindparam("g_id"), guard]
        conditions += [table.c[k] == bindparam(f"g_{k}") for k in expect]
        conditions += list(where)
        values: dict[str, Any] = {k: bindparam(f"v_{k}") for k in keys}
        # Every move is a change to what the follow-up would send, or when: its revision moves
        # (the worker's `sending` mark is conditioned on the revision it rendered).
        values["revision"] = table.c.revision + 1
        statement = table.update().where(*conditions).values(values).returning(table.c.revision)
        _UPDATES[shape] = statement
    return statement


def add_planned(
    session: Session, row: FollowUp, now: datetime, *, actor: str, detail: Any = None
) -> None:
    """Store a new follow-up and log its `planned` event (its first state change)."""
    session.add(row)
    session.flush()
    record(
        session,
        now,
        "planned",
        actor=actor,
        interview_id=row.interview_id,
        followup_id=row.id,
        to_status=row.status,
        detail=detail,
    )


def transition(
    session: Session | Connection,
    followup_id: int,
    allowed: Iterable[str],
    to: str,
    now: datetime,
    *,
    actor: str,
    kind: str | None = None,
    detail: Any = None,
    expect: dict[str, Any] | None = None,
    where: Iterable[Any] = (),
    interview_id: int | None = None,
    **values: Any,
) -> str:
    """Move a follow-up from one of `allowed` to `to`, or raise StateConflict; returns the old state.

    The UPDATE carries the guard (`WHERE id = ? AND status IN (...)`, plus any `expect` columns
    and `where` conditions), so two processes racing for the same row cannot both win. It also
    moves the row's `revision`: whoever rendered the row before this move (the worker) finds out.
    `interview_id`, when the caller knows it, saves looking it up for the event row.
    """
    allowed = [str(s) for s in allowed]
    for frm in allowed:
        if not lifecycle.allowed(frm, to):
            raise ValueError(f"{frm} -> {to} is not a move of the follow-up state machine")
    old = allowed[0]
    if len(allowed) > 1:
        # Lock the row first so the event records the state it really left.
        locked = session.execute(
            select(FollowUp.status).where(FollowUp.id == followup_id).with_for_update()
        ).scalar_one_or_none()
        if locked is not None and locked in allowed:
            old, allowed = locked, [locked]
    values = {"status": str(to), "updated_at": now, **values}
    expect = expect or {}
    statement = _update(tuple(allowed), tuple(values), tuple(expect), tuple(where))
    params = {"g_id": followup_id} | {f"g_{k}": v for k, v in expect.items()}
    params |= {f"v_{k}": v for k, v in values.items()}
    revision = _connection(session).execute(statement, params).scalar_one_or_none()
    if revision is None:
        current = session.execute(
            select(FollowUp.status).where(FollowUp.id == followup_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup schedule --all`")
        raise StateConflict(
            f"follow-up {followup_id} is {current}, so it cannot become {to} "
            f"(only from {', '.join(allowed)})"
        )
    loaded = _sync_loaded(session, followup_id, values | {"revision": revision})
    if interview_id is None:
        interview_id = (
            loaded.interview_id if loaded is not None else _interview_of(session, followup_id)
        )
    record(
        session,
        now,
        kind or str(to),
        actor=actor,
        interview_id=interview_id,
        followup_id=followup_id,
        from_status=old,
        to_status=str(to),
        detail=detail,
    )
    return old


def _interview_of(session: Session | Connection, followup_id: int) -> int | None:
    return session.execute(
        select(FollowUp.interview_id).where(FollowUp.id == followup_id)
    ).scalar_one_or_none()


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def _sync_loaded(
    session: Session | Connection, followup_id: int, values: dict[str, Any]
) -> FollowUp | None:
    """Keep an already loaded FollowUp in step with the UPDATE that bypassed the ORM."""
    if not isinstance(session, Session):
        return None  # a plain connection loads no objects
    obj = session.identity_map.get(identity_key(FollowUp, followup_id))
    if obj is not None:
        for key, value in values.items():
            set_committed_value(obj, key, value)
    return obj


def touch_interview(session: Session | Connection, interview_id: int, now: datetime) -> int:
    """The interview or one of its contacts changed: every live follow-up of it moves its
    revision, so a worker about to send one with text made from the old values does not.
    Returns how many moved."""
    result = _connection(session).execute(
        _TOUCH, {"t_interview": interview_id, "t_now": now, "t_live": [str(s) for s in LIVE]}
    )
    return cast(CursorResult[Any], result).rowcount  # an UPDATE's result has a rowcount


_FOLLOWUPS = cast(Table, FollowUp.__table__)
_TOUCH = (
    _FOLLOWUPS.update()
    .where(
        _FOLLOWUPS.c.interview_id == bindparam("t_interview"),
        _FOLLOWUPS.c.status.in_(bindparam("t_live", expanding=True)),
    )
    .values(revision=_FOLLOWUPS.c.revision + 1, updated_at=bindparam("t_now"))
)


def set_interview_status(
    session: Session,
    interview_id: int,
    allowed: Iterable[str],
    to: str,
    now: datetime,
    *,
    actor: str,
) -> None:
    """Guarded status change of an interview, with its event."""
    allowed = [str(s) for s in allowed]
    result = session.execute(
        update(Interview)
        .where(Interview.id == interview_id, Interview.status.in_(allowed))
        .values(status=str(to), updated_at=now, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:  # an UPDATE's result has a rowcount
        current = session.execute(
            select(Interview.status).where(Interview.id == interview_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(
                f"interview {interview_id} does not exist: see `followup interview list`"
            )
        raise StateConflict(f"interview {interview_id} is already {current}")
    record(session, now, "interview_closed", actor=actor, interview_id=interview_id, to_status=to)
