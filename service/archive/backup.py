"""Backups and restores: a consistent copy while the worker runs, written atomically, and a
restore into an empty database (or, with --force, into one backed up first).

A SQLite database is copied with SQLite's online backup API (a page-by-page snapshot that
concurrent writers do not spoil). Postgres, which has no such file, is backed up as the portable
export (service.archive.portable), which `restore` (or `load`) reads back into either kind.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import or_, select, text
from sqlalchemy.exc import DBAPIError

from service import events
from service.archive import portable, reading, scrub
from service.db import Database, error_line, migrate, sqlite_file
from service.errors import UsageError
from service.models import LIVE, FollowUp, Kind, Reason, Status
from service.outfile import out_file

SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class Result:
    path: Path
    what: str


def default_path(db: Database, folder: Path, now: datetime) -> Path:
    """Where a backup goes unless told: `folder`, named by the moment (UTC) and kind."""
    suffix = "db" if db.is_sqlite else "jsonl"
    return folder / f"followup-backup-{now:%Y%m%d-%H%M%S}.{suffix}"


def backup(db: Database, out: Path, now: datetime, *, force: bool = False) -> Result:
    """A consistent copy of the database in `out`, written atomically: a new file, or (with
    `force`) one that replaces a regular file; never a device, FIFO or symbolic link."""
    with out_file(out, force=force) as tmp:
        path = sqlite_file(db.url)
        if path is not None:
            source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            scrub.sqlite_copy(tmp)  # no approve link, no web secret in the copy
            what = "SQLite online backup, approve links and web secrets left out"
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                # A follow-up being sent is in the backup as such: a restore holds it.
                counts = portable.export(db, fh, now, allow_sending=True)
            what = f"portable export ({sum(counts.values())} rows)"
    return Result(out, what)


def kind_of(path: Path) -> str:
    """'sqlite' or 'export' by the file's first bytes; a usage error for anything else."""
    with reading.open_source(str(path)) as fh:
        head = fh.read(64)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") and b"followup-export" in head:
        return "export"
    raise UsageError(f"{path} is neither a followup backup nor a followup export")


@dataclass
class Restored:
    #: The database's previous content, kept before a forced restore.
    kept: Result | None
    #: Follow-ups held as uncertain: due since the backup, they may have gone out meanwhile.
    held: list[int]
    #: False for an export without a trailer (format 1): whether it was whole is not known.
    checked: bool = True


def restore(
    db: Database,
    source: Path,
    now: datetime,
    *,
    keep_in: Path,
    actor: str,
    force: bool = False,
    accept_untrailed: bool = False,
) -> Restored:
    """Put a backup (SQLite file or portable export) into the database.

    The database must be empty; with `force`, it is first backed up into the folder `keep_in`,
    and replaced in the transaction that loads the backup (a refused file changes nothing). A
    backup is a moment of the past: what was due since then and not sent in it (or being sent
    when it was taken) may have gone out from the old database meanwhile, so it is held as
    `uncertain` for the user (or the Sent folder) to decide, never sent again blindly.
    """
    kind = kind_of(source)
    migrate(db)  # a new database gets its tables; an old one is brought up to date
    replace = not portable.is_empty(db)
    if replace and not force:
        raise UsageError(
            "the database is not empty: restore into a new one, or give --force (which "
            "keeps a backup of it first)"
        )
    with contextlib.ExitStack() as stack:
        if kind == "export":
            export, untrailed = source, accept_untrailed
        else:  # read as a database of its own, through the portable format (checked first)
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            export, untrailed = _as_export(source, folder, now), False
        kept = None
        if replace:
            keep_in.mkdir(parents=True, exist_ok=True)
            kept = backup(db, default_path(db, keep_in, now), now)
        with reading.open_source(str(export)) as fh:
            loaded = portable.load(
                db,
                fh,
                str(source),
                allow_sending=True,
                accept_untrailed=untrailed,
                replace=replace,
            )
    return Restored(kept, hold_due(db, now, actor=actor), loaded.checked)


def _as_export(source: Path, folder: Path, now: datetime) -> Path:
    """A SQLite backup as a portable export in `folder` (so it goes into SQLite and Postgres
    alike, and an older schema is migrated first); a damaged file is a UsageError."""
    copy = folder / "restore.db"
    export = folder / "restore.jsonl"
    try:
        with (
            sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src,
            sqlite3.connect(copy) as dst,
        ):
            src.backup(dst)
        with sqlite3.connect(copy) as conn:
            found = conn.execute("PRAGMA quick_check").fetchone()
        if found != ("ok",):
            raise sqlite3.DatabaseError(str(found[0]) if found else "quick_check found nothing")
        old = Database(f"sqlite:///{copy}")
        try:
            with old.reading() as session:
                revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            portable.check_schema(revision, str(source))
            migrate(old)
            with export.open("w", encoding="utf-8") as fh:
                portable.export(old, fh, now, allow_sending=True)
        finally:
            old.dispose()
    except (sqlite3.DatabaseError, DBAPIError) as exc:
        raise UsageError(
            f"{source} is a damaged backup ({error_line(exc)}): nothing was restored"
        ) from None
    return export


def hold_due(db: Database, now: datetime, *, actor: str) -> list[int]:
    """Follow-ups (to contacts) that were due by `now`, or being sent, and are not sent in the
    restored data: marked uncertain (reason `restored`). Notes to the user are left to go."""
    maybe_gone = (*LIVE, Status.SENDING)
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.id, FollowUp.status, FollowUp.interview_id)
            .where(
                FollowUp.kind == Kind.FOLLOWUP,
                FollowUp.status.in_(maybe_gone),
                or_(
                    FollowUp.due_at <= now,
                    FollowUp.status.in_((Status.DEFERRED, Status.SENDING)),
                ),
            )
            .order_by(FollowUp.id)
        ).all()
        for fid, status, interview_id in rows:
            events.transition(
                session,
                fid,
                [status],
                Status.UNCERTAIN,
                now,
                actor=actor,
                kind="restore",
                detail=f"restored from a backup while {status}: it was due since the backup was "
                "taken and may have gone out from the old database meanwhile",
                interview_id=interview_id,
                reason=Reason.RESTORED,
                send_seq=None,
                sending_started_at=None,
                claim_until=None,
                claimed_by=None,
            )
    return [fid for fid, _, _ in rows]


def _empty(db: Database) -> None:
    with db.transaction() as session:
        for table in reversed(portable.tables()):
            session.execute(table.delete())
