"""Shared parts of the benchmarks: the SMTP sink process, throwaway databases, bulk seeding."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from _names import person_name  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from service.db import Database, migrate  # noqa: E402
from service.models import Contact, FollowUp, Interview  # noqa: E402

#: The Postgres server the benchmarks create their throwaway databases on (trust auth, loopback).
PG_ADMIN = os.environ.get("FOLLOWUP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SENDER = "Ada Candidate <ada@candidate.example>"


def machine() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({cpu or platform.machine()}), Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def loadavg() -> str:
    """The 1-minute load average: other work on this machine skews every figure."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # stat(5) fields 14, 15


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def table(rows: list[list[str]]) -> str:
    """A plain left-aligned text table; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- the SMTP sink, in its own process --------------------------------------------------------


class SinkProcess:
    """bench/smtpsink.py as a subprocess; what it received is read back from its JSON lines."""

    def __init__(self, folder: Path, max_seconds: float = 600, delay_ms: float = 0.0):
        self.path = folder / f"sink-{uuid.uuid4().hex[:8]}.jsonl"
        self.path.touch()
        self.delay_ms = delay_ms
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "smtpsink.py"), "--out", str(self.path)]
            + ["--max-seconds", str(max_seconds), "--delay-ms", str(delay_ms)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the SMTP sink did not start (said {line!r})")
        self.port = int(line.split()[1])

    def env(self) -> dict[str, str]:
        return {
            "FOLLOWUP_SMTP_HOST": "127.0.0.1",
            "FOLLOWUP_SMTP_PORT": str(self.port),
            "FOLLOWUP_SMTP_SECURITY": "none",
            "FOLLOWUP_SMTP_TIMEOUT": "30s",
        }

    def records(self, start: int = 0) -> list[dict]:
        """What it accepted, in arrival order, from the start-th message on."""
        with self.path.open(encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        return [json.loads(line) for line in lines[start:] if line]

    def cpu(self) -> float:
        """CPU seconds the sink has used so far."""
        return cpu_seconds(self.proc.pid)

    def count(self) -> int:
        with self.path.open("rb") as fh:
            return sum(1 for _ in fh)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()


# --- databases --------------------------------------------------------------------------------


def _pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database: a SQLite file in folder, or a throwaway Postgres
    database created on PG_ADMIN's server and dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url
        return
    name = f"followup_bench_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    try:
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{base}/{name}"
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(
    url: str,
    due_times: Sequence[datetime],
    *,
    per_interview: int = 2,
    chunk: int = 10_000,
) -> None:
    """One planned thank-you per due time, `per_interview` interviewers an interview, inserted in
    bulk (executemany through SQLAlchemy Core, explicit ids, sequences fixed on Postgres).

    Contact n is `person_name(n)` <pn@acme.example>: a name the pre-send checks can greet, so
    nothing is held for review unless review is on (FOLLOWUP_REVIEW, read when it would go)."""
    now = datetime.now(UTC)
    interviews, contacts, followups = [], [], []
    for n, due in enumerate(due_times):
        iid = n // per_interview + 1
        if n % per_interview == 0:
            interviews.append(
                {
                    "id": iid,
                    "company": f"Company {iid}",
                    "role": "Staff Engineer",
                    "starts_at": now - timedelta(hours=1),
                    "duration_minutes": 45,
                    "timezone": "UTC",
                    "location": "",
                    "notes": "the move to event sourcing",
                    "questions": [],
                    "decision_date": None,
                    "status": "active",
                    "created_at": now,
                    "updated_at": now,
                    "closed_at": None,
                }
            )
        contacts.append(
            {
                "id": n + 1,
                "interview_id": iid,
                "position": n % per_interview,
                "name": person_name(n + 1),
                "email": f"p{n + 1}@acme.example",
                "title": "",
                "phone": "",
                "removed": False,
            }
        )
        followups.append(
            {
                "id": n + 1,
                "interview_id": iid,
                "contact_id": n + 1,
                "recipient_key": f"contact:{n + 1}",
                "step": "thank_you",
                "template": "thank_you",
                "due_at": due,
                "status": "planned",
                "expires_at": None,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
    insert_rows(url, interviews, contacts, followups, chunk)


def insert_rows(
    url: str, interviews: list[dict], contacts: list[dict], followups: list[dict], chunk: int
) -> None:
    """Bulk-insert seeded rows (Core, `chunk` at a time); on Postgres, move the id sequences past
    them and ANALYZE, as a database in use would be."""
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            for table_, rows in (
                (Interview.__table__, interviews),
                (Contact.__table__, contacts),
                (FollowUp.__table__, followups),
            ):
                for start in range(0, len(rows), chunk):
                    conn.execute(insert(table_), rows[start : start + chunk])
            if not db.is_sqlite:
                for name in ("interviews", "contacts", "followups"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
        if not db.is_sqlite:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        db.dispose()


def worker_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of a `python -m service worker` subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUP_")}
    env.update(
        PYTHONPATH=str(REPO),
        FOLLOWUP_DATABASE_URL=url,
        FOLLOWUP_FROM=SENDER,
        FOLLOWUP_TIMEZONE="UTC",
        FOLLOWUP_MAX_PER_HOUR="0",
    )
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> int:
    """SIGTERM, then SIGKILL if it will not go; returns its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def wait_for(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# --- measured subprocesses --------------------------------------------------------------------


@dataclass
class Measured:
    """What one finished subprocess cost: wall time, CPU (its own plus that of every child it
    waited for), peak RSS (see run_measured), exit code."""

    wall: float
    cpu: float
    max_rss_mb: float
    returncode: int


def run_measured(
    cmd: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    stdout,
    stderr,
    timeout: float = 600,
    rss: bool = False,
) -> Measured:
    """Run cmd to its end; wall time from the fork to its exit, CPU from wait4().

    Peak RSS: wait4's ru_maxrss counts the memory of the process it was forked from (Linux keeps
    the forked copy's high-water mark across exec), so a child of a big benchmark process looks
    big. With rss=True the command runs under GNU `/usr/bin/time -f %M`, whose own child is
    forked from a small process, and that figure is reported instead."""
    report = None
    if rss:
        report = Path(cwd) / f".maxrss-{uuid.uuid4().hex[:8]}"
        cmd = ["/usr/bin/time", "-f", "%M", "-o", str(report), *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr
    )
    watchdog = threading.Timer(timeout, proc.kill)  # a hung command must not hang the benchmark
    watchdog.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # so Popen does not wait for it again
    max_rss_kb = usage.ru_maxrss  # KiB on Linux
    if report is not None:
        lines = report.read_text().split()
        report.unlink()
        max_rss_kb = int(lines[-1]) if lines and lines[-1].isdigit() else -1024
    return Measured(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mb=max_rss_kb / 1024,
        returncode=proc.returncode,
    )


def followup_command() -> list[str]:
    """The `followup` console script next to this Python (the project's .venv)."""
    script = Path(sys.executable).parent / "followup"
    return [str(script)] if script.exists() else [sys.executable, "-m", "service"]
