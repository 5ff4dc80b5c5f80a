"""Your data in a portable file: every table written as JSON Lines, and loaded back into an
empty database of either kind (SQLite or Postgres), ids and all.

The format (documented in docs/data-format.md): the first line is a header,
`{"format": "followup-export", "version": 2, "schema": "<migration>", "exported_at": "...",
"tables": [...], "rows": {<table>: <count>}}`; then one line per row, `{"table": "<name>",
"row": {<column>: <value>}}`, tables in the order their foreign keys need; the last line is the
trailer, `{"trailer": {"rows": {...}, "sha256": "<of the lines before it>"}}`, so a file cut
short or changed is refused whole. Approve links are cut out (service.archive.scrub). Times are ISO 8601 in UTC with a Z, dates
YYYY-MM-DD, bytes base64. A file is written and read a row at a time: 100,000 follow-ups take
no more memory than ten. Follow-ups in `sending` (a send in progress, or an interrupted one not
yet flagged) are refused: the file would not say how they ended.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import Date, LargeBinary, Table, func, insert, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.types import TypeEngine

from service.archive import reading, scrub
from service.db import SCHEMA_REVISION, Database, error_line, migrate
from service.errors import UsageError
from service.models import Base, FollowUp, Status, UTCDateTime

FORMAT = "followup-export"
VERSION = 2
#: Rows read and written at a time.
CHUNK = 1000
#: Not the user's data: the processes running now (workers), and the web app's signing key and
#: the digest links signed with it (a secret has no place in a file meant to be carried around;
#: a new digest brings new links).
SKIPPED = frozenset({"workers", *scrub.SECRET_TABLES})
#: Left out, but pointing at rows that are: emptied when the rows are replaced.
SECRETS_REFERRING = [Base.metadata.tables["web_approve_links"]]


@dataclass(frozen=True)
class Loaded:
    counts: dict[str, int]
    #: False for a file without a trailer (format 1): whether it was whole is not known.
    checked: bool


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


def in_flight(db: Database) -> list[int]:
    """Follow-ups whose send is in progress or was interrupted (`sending`)."""
    with db.reading() as session:
        return list(
            session.scalars(select(FollowUp.id).where(FollowUp.status == Status.SENDING).limit(20))
        )


def export(
    db: Database, out: IO[str], now: datetime, *, allow_sending: bool = False
) -> dict[str, int]:
    """Write every table to `out`, a row a line, then the trailer; returns the rows per table.

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
    digest = hashlib.sha256()
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode

    def write(item: dict[str, Any]) -> None:
        line = encode(item) + "\n"
        digest.update(line.encode("utf-8"))
        out.write(line)

    counts: dict[str, int] = {}
    with db.reading() as session:  # one snapshot of the whole database (one transaction)
        if not db.is_sqlite:  # Postgres: every statement of it sees the same moment
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        expected = {
            t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in chosen
        }
        write(
            {
                "format": FORMAT,
                "version": VERSION,
                "schema": SCHEMA_REVISION,
                "exported_at": _out(now, UTCDateTime()),
                "tables": [t.name for t in chosen],
                "rows": expected,
            }
        )
        for table in chosen:
            columns = list(table.columns)
            query = select(table).order_by(*table.primary_key.columns)
            n = 0
            for row in session.execute(query.execution_options(yield_per=CHUNK)):
                values = {
                    c.name: _out(scrub.value(v), c.type) for c, v in zip(columns, row, strict=True)
                }
                write({"table": table.name, "row": values})
                n += 1
            counts[table.name] = n
    out.write(json.dumps({"trailer": {"rows": counts, "sha256": digest.hexdigest()}}) + "\n")
    return counts


def read_header(line: str, name: str) -> dict:
    """The file's header, checked: a file from a newer followup is refused, not misread."""
    try:
        header = reading.parse(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f"{name} is not a followup export (its first line is not the header)")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UsageError(f"{name} has no format version a followup writes: it is damaged")
    if version > VERSION:
        raise UsageError(
            f"{name} is format version {version}, newer than this followup reads ({VERSION}): "
            "upgrade followup first"
        )
    check_schema(header.get("schema"), name)
    rows = header.get("rows")
    if version >= 2 and not (
        isinstance(rows, dict) and all(isinstance(n, int) for n in rows.values())
    ):
        raise UsageError(f"{name}: its header lacks the row counts of format {version}")
    return header


def check_schema(schema: object, name: str) -> None:
    """A schema revision (four digits) no newer than this followup's, or a UsageError."""
    if not (isinstance(schema, str) and len(schema) == 4 and schema.isdigit()):
        raise UsageError(
            f"{name} names no database schema a followup writes ({str(schema)[:20]!r}): "
            "it is damaged, or not from followup"
        )
    if schema > SCHEMA_REVISION:
        raise UsageError(
            f"{name} comes from a newer database schema ({schema}) than this "
            f"followup's ({SCHEMA_REVISION}): upgrade followup first"
        )


def is_empty(db: Database) -> bool:
    with db.reading() as session:
        return all(session.scalar(select(func.count()).select_from(t)) == 0 for t in tables())


def load(
    db: Database,
    source: IO[bytes],
    name: str,
    *,
    allow_sending: bool = False,
    accept_untrailed: bool = False,
    replace: bool = False,
) -> Loaded:
    """Load an export into an empty database, in one transaction: the rows per table, and
    whether the file was checked whole (format 1 files have no trailer to check against).

    The file is checked as it is read; a file cut short, changed, or with a row the database
    does not take is refused whole (the transaction rolls back): nothing is written. A file of
    format 1 (before the trailer) loads only with `accept_untrailed`.
    `allow_sending`: for a restore, which holds what was being sent (see backup.hold_due).
    `replace`: for a forced restore, the rows there are go in the same transaction, with the
    approve links of the old rows (else they would approve the loaded follow-ups of their ids).
    """
    lines = reading.lines(source, name)
    _, first = next(lines, (1, ""))
    header = read_header(first, name)
    trailed = header["version"] >= 2
    if not trailed and not accept_untrailed:
        raise UsageError(
            f"{name} is an export without a trailer (format 1, from an older followup): whether "
            "it is whole cannot be checked; give --accept-untrailed to load it anyway"
        )
    migrate(db)  # a new database gets its tables: only once the file is seen to be an export
    if not replace and not is_empty(db):
        raise UsageError(
            f"the database at {db.url.split('@')[-1]} is not empty: load into a new one (or "
            "`followup restore --force`, which keeps a backup of this one first)"
        )
    known = {t.name: t for t in tables()}
    counts: dict[str, int] = {name: 0 for name in known}
    digest = hashlib.sha256((first + "\n").encode("utf-8"))
    trailer: Any = None
    batch: list[dict[str, Any]] = []
    current: Table | None = None
    try:
        with db.transaction() as session:
            if replace:
                for table in [*SECRETS_REFERRING, *reversed(tables())]:
                    session.execute(table.delete())

            def flush() -> None:
                if batch and current is not None:  # rows are batched once a table is current
                    session.execute(insert(current), batch)
                    counts[current.name] += len(batch)
                    batch.clear()

            for number, line in lines:
                if trailer is not None:
                    raise UsageError(f"{name} line {number}: a line after the trailer")
                if not line.strip():
                    continue
                try:
                    item = reading.parse(line)
                    if trailed and isinstance(item, dict) and "trailer" in item:
                        trailer = item["trailer"]
                        continue
                    table, row = reading.row(item, known)
                except (ValueError, KeyError, TypeError) as exc:
                    raise UsageError(
                        f"{name} line {number}: not a row of a followup export ({exc})"
                    ) from None
                digest.update((line + "\n").encode("utf-8"))
                if (
                    not allow_sending
                    and table.name == "followups"
                    and row.get("status") == Status.SENDING
                ):
                    raise UsageError(
                        f"{name} line {number}: follow-up {row.get('id')} was being sent when the "
                        "file was written: this is a backup, put it back with `followup restore`"
                    )
                if table is not current:
                    flush()
                    current = table
                batch.append(row)
                if len(batch) >= CHUNK:
                    flush()
            flush()
            if trailed:
                _check_whole(name, header["rows"], trailer, counts, digest.hexdigest())
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
    except (DBAPIError, StatementError, OverflowError) as exc:
        where = f" (table {current.name})" if current is not None else ""
        raise UsageError(
            f"{name}: the database refused its rows{where}: {error_line(exc)}; nothing was loaded"
        ) from None
    return Loaded(counts, checked=trailed)


def _check_whole(
    name: str, expected: dict[str, int], trailer: Any, counts: dict[str, int], checksum: str
) -> None:
    """The file as it was written, or a UsageError saying what is missing or changed."""
    for table, want in expected.items():
        got = counts.get(table, 0)
        if got < want:
            raise UsageError(
                f"{name} ends after {got} of {want} {table}: it was cut; nothing was loaded"
            )
    if trailer is None:
        raise UsageError(f"{name} has no trailer (its last line): it was cut; nothing was loaded")
    rows = trailer.get("rows") if isinstance(trailer, dict) else None
    if rows != expected or any(n != expected.get(t, 0) for t, n in counts.items()):
        raise UsageError(
            f"{name}: its rows do not add up to the counts of its header and trailer: it was "
            "changed or put together from several files; nothing was loaded"
        )
    if trailer.get("sha256") != checksum:
        raise UsageError(
            f"{name} was changed after it was written (its checksum does not match); nothing "
            "was loaded"
        )


def describe(counts: dict[str, int]) -> str:
    """'3 interviews, 12 follow-ups, ...': what a file holds, in words."""
    shown = {"interviews": "interview(s)", "followups": "follow-up(s)", "events": "event(s)"}
    parts = [f"{counts.get(t, 0)} {label}" for t, label in shown.items()]
    rest = sum(n for t, n in counts.items() if t not in shown)
    return ", ".join(parts) + (f" and {rest} other row(s)" if rest else "")
