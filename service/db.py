"""Database connections: engines for SQLite and Postgres, transactions, and running migrations."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.errors import FollowupError, Unreachable, UsageError
from service.validation import exists

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 30_000


def error_line(exc: BaseException) -> str:
    """A database error in one line: the driver's own first line, never the SQL statement nor
    its parameters (which hold the user's mail)."""
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def make_engine(url: str, *, reading: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE
    (or, for `reading`, a plain BEGIN: WAL lets readers run beside a writer).

    SQL parameters never appear in errors or logs: they hold the user's mail.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so that BEGIN IMMEDIATE below is what runs.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # SQLite ignores FOR UPDATE; taking the write lock at BEGIN makes every
            # read-then-update a serialised, guarded step (no lock upgrade deadlocks).
            conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


class Database:
    """An engine and its session factory; `transaction()` is the one place that commits."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reader: sessionmaker | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        session = self._sessions()
        try:
            with session.begin():
                yield session
        finally:
            session.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not wait for (or block) a writer.

        Nothing is committed; a write in it is a bug.
        """
        if self._reader is None:
            engine = make_engine(self.url, reading=True) if self.is_sqlite else self.engine
            self._reader = sessionmaker(engine, expire_on_commit=False, autoflush=False)
        session = self._reader()
        try:
            yield session
        finally:
            # Closing ends the transaction without a commit and keeps what was loaded readable.
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not None and self._reader.kw["bind"] is not self.engine:
            self._reader.kw["bind"].dispose()


def serialize(session: Session, name: str) -> None:
    """Make concurrent transactions that call this with the same name run one after another.

    SQLite already runs write transactions one at a time (BEGIN IMMEDIATE); Postgres takes a
    transaction-scoped advisory lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def data_dir(name: str) -> Path:
    """Find a shipped folder: inside the installed package, or at the source checkout's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise FollowupError(f"cannot find the {name}/ folder next to the followup package")


def alembic_config(url: str) -> Config:
    """An Alembic Config pointing at the shipped migrations and the given database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(data_dir("migrations")))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for Postgres)."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///") :].split("?", 1)[0])


def create_private(path: Path | None) -> None:
    """Create a SQLite file that does not exist yet as 0600 (whatever the umask), before SQLite
    opens it (`migrate` is what creates the database): it holds private notes and every message. SQLite gives its -wal and -shm files
    the database file's mode."""
    if path is None or str(path) in ("", ":memory:") or str(path).startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (OSError, ValueError):  # there already, or no folder yet: SQLite says so if it matters
        return
    os.close(fd)


def exposure(url: str) -> str:
    """Why the SQLite file is a risk ("" if it is not): others can read it."""
    path = sqlite_file(url)
    if path is None:
        return ""
    found = []
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except (OSError, ValueError):
            continue
        if mode & 0o077:
            who = "other users" if mode & 0o007 else "its group"
            found.append(f"{file} can be read by {who} (mode {mode:o})")
    return "; ".join(found)


def migrate(db: Database, revision: str = "head") -> None:
    """Upgrade the database schema to `revision` (creating a SQLite file and its folder)."""
    from alembic import command

    path = sqlite_file(db.url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create the folder {path.parent}: {exc.strerror}") from None
        create_private(path)
    with db.engine.begin() as conn:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(db: Database, revision: str = "base") -> None:
    """Downgrade the database schema to `revision`."""
    from alembic import command

    with db.engine.begin() as conn:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def schema_status(db: Database) -> tuple[str | None, str]:
    """Return (current revision, head revision) of the database."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    if head is None:
        raise FollowupError(f"no migrations in {data_dir('migrations')}: reinstall followup")
    path = sqlite_file(db.url)
    if path is not None and not exists(path):
        return None, head  # asking would create the file
    try:
        with db.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise Unreachable(f"cannot reach the database: {exc.orig}") from None
    return current, head


#: The newest migration in migrations/versions (a test keeps the two in step). Checking against
#: it, rather than asking Alembic, keeps Alembic out of the long-running worker's memory.
SCHEMA_REVISION = "0010"


def require_migrated(db: Database, where: str = "") -> None:
    """Raise a clear error unless the schema is at the newest revision; never creates a file.

    `where` says where the settings came from, for a user who ran followup from another folder.
    """
    path = sqlite_file(db.url)
    if path is not None and not exists(path):
        raise UsageError(
            f"there is no database at {path}: run `followup migrate` to create it"
            + (f" ({where})" if where else "")
        )
    try:
        with db.engine.connect() as conn:
            has_table = inspect(conn).has_table("alembic_version")
            current = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if has_table
                else None
            )
    except OperationalError as exc:
        raise Unreachable(f"cannot reach the database: {exc.orig}") from None
    if current != SCHEMA_REVISION:
        state = "empty" if current is None else f"at revision {current}"
        raise UsageError(
            f"the database is {state}, not {SCHEMA_REVISION}: run `followup migrate` first"
        )


def table_names(db: Database) -> list[str]:
    return inspect(db.engine).get_table_names()
