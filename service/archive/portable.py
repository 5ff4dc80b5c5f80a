"""Your data in a portable file: every table written as JSON Lines, and loaded back into an
empty database of either kind (SQLite or Postgres), ids and all.

The format (documented in docs/data-format.md): the first line is a header,
`{"format": "followup-export", "version": 1, "schema": "<migration>", "exported_at": "...",
"tables": [...]}`; then one line per row, `{"table": "<name>", "row": {<column>: <value>}}`,
tables in the order their foreign keys need. Times are ISO 8601 in UTC with a Z, dates
YYYY-MM-DD, bytes base64. A file is written and read a row at a time: 100,000 follow-ups take
no more memory than ten. Follow-ups in `sending` (a send in progress, or an interrupted one not
yet flagged) are refused: the file would not say how they ended.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import Date, LargeBinary, Table, func, insert, select, text
from sqlalchemy.types import TypeEngine

from service.db import SCHEMA_REVISION, Database
from service.errors import UsageError
from service.models import Base, FollowUp, Status, UTCDateTime

FORMAT = "followup-export"
VERSION = 1
#: Rows read and written at a time.
CHUNK = 1000
#: Not the user's data: the processes running now (workers), and the web app's signing key and
#: the digest links signed with it (a secret has no place in a file meant to be carried around;
#: a new digest brings new links).
SKIPPED = frozenset({"workers", "web_secrets", "web_approve_links"})


def tables() -> list[Table]:
    """Every table the export carries, parents before children."""
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED]


def _out(value: Any, kind: TypeEngine[Any]) -> Any:
    if value is None:
        return None
    if isinstance(kind, UTCDateTime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(kind, Date) and isinstance(value, date):
        return value.isoformat()
    if isinstance(kind, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


def _in(value: Any, kind: TypeEngine[Any]) -> Any:
    if value is None:
        return None
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if isinstance(kind, Date) and not isinstance(kind, UTCDateTime):
        return date.fromisoformat(value)
    if isinstance(kind, LargeBinary):
        return base64.b64decode(value)
    return value


def in_flight(db: Database) -> list[int]:
    """Follow-ups whose send is in progress or was interrupted (`sending`)."""
    with db.reading() as session:
        return list(
            session.scalars(select(FollowUp.id).where(FollowUp.status == Status.SENDING).limit(20))
        )


def export(
    db: Database, out: IO[str], now: datetime, *, allow_sending: bool = False
) -> dict[str, int]:
    """Write every table to `out`, a row a line; returns the rows per table.

    `allow_sending`: for a restore, which holds what was being sent (see backup.hold_due).
    """
    sending = [] if allow_sending else in_flight(db)
    if sending:
        raise UsageError(
            f"follow-up(s) {', '.join(map(str, sending))} are being sent (or were interrupted): "
            "export when the worker has settled them (`followup worker --once`, or wait for the "
            "lease), so the file says how they ended"
        )
    chosen = tables()
    header = {
        "format": FORMAT,
        "version": VERSION,
        "schema": SCHEMA_REVISION,
        "exported_at": _out(now, UTCDateTime()),
        "tables": [t.name for t in chosen],
    }
    out.write(json.dumps(header) + "\n")
    counts: dict[str, int] = {}
    encode = json.JSONEncoder(ensure_ascii=False).encode
    with db.reading() as session:  # one snapshot of the whole database (one transaction)
        if not db.is_sqlite:  # Postgres: every statement of it sees the same moment
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        for table in chosen:
            columns = list(table.columns)
            query = select(table).order_by(*table.primary_key.columns)
            n = 0
            for row in session.execute(query.execution_options(yield_per=CHUNK)):
                values = {c.name: _out(v, c.type) for c, v in zip(columns, row, strict=True)}
                out.write(encode({"table": table.name, "row": values}) + "\n")
                n += 1
            counts[table.name] = n
    return counts


def read_header(lines: Iterator[str], name: str) -> dict:
    """The file's header, checked: a file from a newer followup is refused, not misread."""
    first = next(lines, "")
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f"{name} is not a followup export (its first line is not the header)")
    version = header.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise UsageError(
            f"{name} is format version {version}, newer than this followup reads ({VERSION}): "
            "upgrade followup first"
        )
    if str(header.get("schema", "")) > SCHEMA_REVISION:
        raise UsageError(
            f"{name} comes from a newer database schema ({header.get('schema')}) than this "
            f"followup's ({SCHEMA_REVISION}): upgrade followup first"
        )
    return header


def is_empty(db: Database) -> bool:
    with db.reading() as session:
        return all(session.scalar(select(func.count()).select_from(t)) == 0 for t in tables())


def load(
    db: Database, lines: Iterable[str], name: str, *, allow_sending: bool = False
) -> dict[str, int]:
    """Load an export into an empty database, in one transaction; returns the rows per table.

    `allow_sending`: for a restore, which holds what was being sent (see backup.hold_due).
    """
    lines = iter(lines)
    read_header(lines, name)
    if not is_empty(db):
        raise UsageError(
            f"the database at {db.url.split('@')[-1]} is not empty: load into a new one (or "
            "`followup restore --force`, which keeps a backup of this one first)"
        )
    known = {t.name: t for t in tables()}
    counts: dict[str, int] = {name: 0 for name in known}
    batch: list[dict[str, Any]] = []
    current: Table | None = None
    with db.transaction() as session:

        def flush() -> None:
            if batch and current is not None:  # rows are batched only once a table is current
                session.execute(insert(current), batch)
                counts[current.name] += len(batch)
                batch.clear()

        for number, line in enumerate(lines, start=2):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                table = known[item["table"]]
                values = item["row"]
                # A column the file does not have (it comes from an older followup) gets its
                # default; every row of a table in one file has the same columns.
                row = {
                    c.name: _in(values[c.name], c.type) for c in table.columns if c.name in values
                }
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"{name} line {number}: not a row of a followup export ({exc})"
                ) from None
            if (
                not allow_sending
                and table.name == "followups"
                and row.get("status") == Status.SENDING
            ):
                raise UsageError(
                    f"{name} line {number}: follow-up {row['id']} was being sent when the file "
                    "was written: this is a backup, put it back with `followup restore`"
                )
            if table is not current:
                flush()
                current = table
            batch.append(row)
            if len(batch) >= CHUNK:
                flush()
        flush()
        if session.get_bind().dialect.name == "postgresql":
            # The ids came with the rows: the sequences go on after the highest.
            for table in known.values():
                if "id" in table.c:
                    session.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                        )
                    )
    return counts


def describe(counts: dict[str, int]) -> str:
    """'3 interviews, 12 follow-ups, ...': what a file holds, in words."""
    shown = {"interviews": "interview(s)", "followups": "follow-up(s)", "events": "event(s)"}
    parts = [f"{counts.get(t, 0)} {label}" for t, label in shown.items()]
    rest = sum(n for t, n in counts.items() if t not in shown)
    return ", ".join(parts) + (f" and {rest} other row(s)" if rest else "")
