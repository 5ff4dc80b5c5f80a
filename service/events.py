"""State changes: every status change is a guarded update plus an append-only event row."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from service import lifecycle
from service.errors import NotFound, StateConflict
from service.models import Event, FollowUp, Interview


def actor_name(role: str) -> str:
    """Who made a change: the command or worker, with host and pid."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def record(
    session: Session,
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
    session.execute(
        insert(Event).values(
            at=now,
            kind=kind,
            actor=actor,
            interview_id=interview_id,
            followup_id=followup_id,
            from_status=from_status,
            to_status=to_status,
            detail=text,
        )
    )


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
    session: Session,
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
    **values: Any,
) -> str:
    """Move a follow-up from one of `allowed` to `to`, or raise StateConflict; returns the old state.

    The UPDATE carries the guard (`WHERE id = ? AND status IN (...)`, plus any `expect` columns
    and `where` conditions), so two processes racing for the same row cannot both win.
    """
    allowed = [str(s) for s in allowed]
    for frm in allowed:
        if not lifecycle.allowed(frm, to):
            raise ValueError(f"{frm} -> {to} is not a move of the follow-up state machine")
    old = allowed[0]
    if len(allowed) > 1:
        # Lock the row first so the event records the state it really left.
        old = session.execute(
            select(FollowUp.status).where(FollowUp.id == followup_id).with_for_update()
        ).scalar_one_or_none()
    conditions = [FollowUp.id == followup_id, FollowUp.status.in_(allowed)]
    for column, value in (expect or {}).items():
        conditions.append(getattr(FollowUp, column) == value)
    conditions.extend(where)
    changed = session.execute(
        update(FollowUp)
        .where(*conditions)
        .values(status=str(to), updated_at=now, **values)
        .returning(FollowUp.interview_id)
        .execution_options(synchronize_session=False)
    ).all()
    if len(changed) != 1:
        current = session.execute(
            select(FollowUp.status).where(FollowUp.id == followup_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(f"follow-up {followup_id} does not exist: see `followup schedule --all`")
        raise StateConflict(
            f"follow-up {followup_id} is {current}, so it cannot become {to} "
            f"(only from {', '.join(allowed)})"
        )
    _sync_loaded(session, followup_id, {"status": str(to), "updated_at": now, **values})
    record(
        session,
        now,
        kind or str(to),
        actor=actor,
        interview_id=changed[0].interview_id,
        followup_id=followup_id,
        from_status=old,
        to_status=str(to),
        detail=detail,
    )
    return old


def _sync_loaded(session: Session, followup_id: int, values: dict[str, Any]) -> None:
    """Keep an already loaded FollowUp in step with the UPDATE that bypassed the ORM."""
    obj = session.identity_map.get(identity_key(FollowUp, followup_id))
    if obj is not None:
        for key, value in values.items():
            set_committed_value(obj, key, value)


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
    if result.rowcount != 1:
        current = session.execute(
            select(Interview.status).where(Interview.id == interview_id)
        ).scalar_one_or_none()
        if current is None:
            raise NotFound(
                f"interview {interview_id} does not exist: see `followup interview list`"
            )
        raise StateConflict(f"interview {interview_id} is already {current}")
    record(session, now, "interview_closed", actor=actor, interview_id=interview_id, to_status=to)


def transition_many(
    session: Session,
    changes: list[dict[str, Any]],
    to: str,
    now: datetime,
    *,
    actor: str,
    kind: str | None = None,
    sync: bool = True,
) -> None:
    """Many guarded transitions in two statements: one executemany UPDATE, one INSERT of events.

    Each change is {"id", "from", "expect_attempts", "detail", "interview_id", **values}, with the
    same value keys in every change; the guard is `id`, `status = from` and `attempts`. Callers hold the
    rows locked (FOR UPDATE / BEGIN IMMEDIATE), so a guard that misses is a bug, not a race: it
    raises and the whole transaction rolls back.
    """
    if not changes:
        return
    for c in changes:
        if not lifecycle.allowed(c["from"], to):
            raise ValueError(f"{c['from']} -> {to} is not a move of the follow-up state machine")
    table = FollowUp.__table__
    meta = {"id", "from", "expect_attempts", "detail", "interview_id"}
    keys = [k for k in changes[0] if k not in meta]
    statement = (
        table.update()
        .where(
            table.c.id == bindparam("g_id"),
            table.c.status == bindparam("g_from"),
            table.c.attempts == bindparam("g_attempts"),
        )
        .values(status=str(to), updated_at=now, **{k: bindparam(f"v_{k}") for k in keys})
    )
    params = [
        {"g_id": c["id"], "g_from": str(c["from"]), "g_attempts": c["expect_attempts"]}
        | {f"v_{k}": c[k] for k in keys}
        for c in changes
    ]
    result = session.execute(statement, params)
    if session.get_bind().dialect.supports_sane_multi_rowcount and result.rowcount != len(changes):
        raise StateConflict(
            f"{len(changes) - result.rowcount} of {len(changes)} follow-ups changed under a lock"
        )
    if sync:  # a caller that brought its loaded rows up to date itself skips this
        for c in changes:
            values = {"status": str(to), "updated_at": now} | {k: c[k] for k in keys}
            _sync_loaded(session, c["id"], values)
    session.execute(
        insert(Event),
        [
            {
                "at": now,
                "kind": kind or str(to),
                "actor": actor,
                "interview_id": c["interview_id"],
                "followup_id": c["id"],
                "from_status": str(c["from"]),
                "to_status": str(to),
                "detail": json.dumps(c["detail"], default=str, ensure_ascii=False),
            }
            for c in changes
        ],
    )
