"""Side by side: followup, django-post_office, mailmerge and raw smtplib sending N messages.

Every contender is a real subprocess, timed from its start to its exit (start-up included),
sending N messages to one aiosmtpd sink in its own process (bench/smtpsink.py), once against a
sink that answers at once and once against one that waits --delay-ms before each 250 to DATA:

* raw smtplib: a bare Python that sends N pre-serialised messages on one connection (baseline);
* `followup worker --once` draining N due follow-ups seeded (bulk Core inserts, review off,
  FOLLOWUP_MAX_PER_HOUR=0) into a fresh SQLite file and a fresh Postgres database;
* django-post_office's `send_queued_mail` with its defaults (1 process, THREADS_PER_PROCESS 5,
  each thread on its own SMTP connection; BATCH_SIZE 100; LOG_LEVEL 2, a log row per message)
  through Django's SMTP EmailBackend (the site is bench/peersite), after `post_office.mail.send_many(..., priority="medium")`
  queued N mails (untimed), on SQLite and on Postgres;
* mailmerge (the PyPI tool): a template and a CSV of N rows, `--no-dry-run --no-limit`, with
  `security` unset in its config (plain SMTP, one connection per message, as it does).

django-post_office and mailmerge live in the benchmark's own venv (--peers-venv, created on first
use with `python -m venv` + pip), never in the project's. Runs are interleaved (--runs rounds, the
order rotated every round). After every run: the contender exited 0 and the sink got exactly N
messages with N distinct Message-IDs (and followup / post_office recorded N sent); otherwise the
script prints FAILED and exits 1. CPU is the contender's process CPU with its children (wait4) and
the sink's; the Postgres server's CPU is not counted. Missing a goal only prints "behind".
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import _common
from _common import (
    BENCH,
    SENDER,
    SinkProcess,
    database,
    followup_command,
    loadavg,
    machine,
    run_measured,
    seed,
    table,
    worker_env,
)
from _names import first_name, person_name
from sqlalchemy import create_engine, text

PEER_PACKAGES = ["django", "django-post-office", "psycopg[binary]", "mailmerge"]
SUBJECT = "Thank you for today's conversation"
BODY = (
    "Dear {name},\n\nThank you for taking the time to talk with me today about the Staff "
    "Engineer role at Company {n}. I especially enjoyed our conversation about the move to "
    "event sourcing, and it made me even more excited about the team and the work ahead.\n\n"
    "If there is anything else I can send you, please let me know. I look forward to hearing "
    "from you about the next steps.\n\nBest regards,\nAda Candidate\n"
)
RAW_SENDER = """
import pickle, smtplib, sys
messages = pickle.load(open(sys.argv[1], "rb"))
conn = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=30)
conn.ehlo()
for rcpt, data in messages:
    conn.sendmail("ada@candidate.example", [rcpt], data)
conn.quit()
"""


class CorrectnessError(Exception):
    pass


def ensure_peers_venv(venv: Path) -> Path:
    """The venv holding the peers (created once); returns its python."""
    python = venv / "bin" / "python"
    check = (
        "import django, mailmerge, psycopg, importlib.util as u; assert u.find_spec('post_office')"
    )
    probe = [str(python), "-c", check]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"creating {venv} with {' '.join(PEER_PACKAGES)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES], check=True)
    subprocess.run(probe, check=True)
    return python


def peer_versions(python: Path) -> str:
    """The peers' versions, as installed in their venv."""
    code = (
        "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
        "('django', 'django-post-office', 'mailmerge', 'psycopg')))"
    )
    said = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return said.stdout.strip() or "versions unknown"


def pg_server() -> tuple[str, str, str]:
    """(user, host, port) of the benchmark's Postgres server, from FOLLOWUP_BENCH_PG."""
    rest = _common.PG_ADMIN.split("://", 1)[1].rsplit("/", 1)[0]
    user, _, hostport = rest.rpartition("@")
    host, _, port = hostport.partition(":")
    return user or "postgres", host or "127.0.0.1", port or "5432"


class Contender:
    """One way of sending N messages; prepare() is untimed, the command is timed."""

    backend = ""

    def __init__(self, name: str, folder: Path):
        self.name, self.folder = name, folder
        self.cleanups: list = []

    def prepare(self, n: int, sink: SinkProcess) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def check(self, n: int, mids: set[str]) -> None:
        """After a run: what the contender itself recorded."""

    def cleanup(self) -> None:
        while self.cleanups:
            self.cleanups.pop()()


class Raw(Contender):
    def prepare(self, n, sink):
        messages = []
        for i in range(1, n + 1):
            msg = EmailMessage()
            msg["From"], msg["To"] = SENDER, f"{person_name(i)} <p{i}@acme.example>"
            msg["Subject"], msg["Date"] = SUBJECT, formatdate(localtime=False)
            msg["Message-ID"] = make_msgid(domain="raw.bench.example")
            msg.set_content(BODY.format(name=first_name(i), n=i))
            messages.append((f"p{i}@acme.example", msg.as_bytes()))
        path = self.folder / "raw.pickle"
        path.write_bytes(pickle.dumps(messages))
        return [sys.executable, "-c", RAW_SENDER, str(path), str(sink.port)], {}


class Followup(Contender):
    def __init__(self, name, folder, backend):
        super().__init__(name, folder)
        self.backend = backend

    def prepare(self, n, sink):
        ctx = database(self.backend, self.folder)
        self.url = ctx.__enter__()
        self.cleanups.append(lambda: ctx.__exit__(None, None, None))
        seed(self.url, [datetime.now(UTC) - timedelta(minutes=1)] * n)
        env = worker_env(self.url, **sink.env(), FOLLOWUP_REVIEW="off")
        return followup_command() + ["worker", "--once"], env

    def check(self, n, mids):
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT status, message_id FROM followups")).all()
        finally:
            engine.dispose()
        sent = {mid for status, mid in rows if status == "sent"}
        if len(rows) != n or sent != mids:
            raise CorrectnessError(
                f"{self.name}: {len(sent)} of {len(rows)} follow-ups recorded sent; "
                f"{len(sent & mids)} of them match the {len(mids)} Message-IDs the sink got"
            )


class PostOffice(Contender):
    def __init__(self, name, folder, backend, python: Path, threads: int = 0):
        super().__init__(name, folder)
        self.backend, self.python, self.threads = backend, python, threads
        self.base_env = {  # the site is bench/peersite
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(BENCH),
            "DJANGO_SETTINGS_MODULE": "peersite.settings",
        }
        # One migrated database, copied for every run (a file copy, or a Postgres TEMPLATE).
        self.template = self._new_name()
        if backend == "postgres":
            _common._pg_exec(f'CREATE DATABASE "{self.template}"')
        self._django(self.template, "migrate", "--verbosity", "0")

    def _new_name(self) -> str:
        name = f"peers_po_{uuid.uuid4().hex[:10]}"
        return str(self.folder / f"{name}.db") if self.backend == "sqlite" else name

    def _env(self, db: str, port: int = 25) -> dict[str, str]:
        target = db if self.backend == "sqlite" else ":".join((*pg_server(), db))
        env = {**self.base_env, "PEERS_DB": target, "PEERS_SMTP_PORT": str(port)}
        return env | ({"PEERS_PO_THREADS": str(self.threads)} if self.threads else {})

    def _django(self, db: str, *args: str) -> None:
        cmd = [str(self.python), "-m", "django", *args]
        subprocess.run(cmd, env=self._env(db), cwd=self.folder, check=True)

    def prepare(self, n, sink):
        self.db = self._new_name()
        if self.backend == "sqlite":
            shutil.copyfile(self.template, self.db)
            self.cleanups.append(lambda db=self.db: Path(db).unlink(missing_ok=True))
        else:
            _common._pg_exec(f'CREATE DATABASE "{self.db}" TEMPLATE "{self.template}"')
            self.cleanups.append(lambda db=self.db: _common._pg_exec(f'DROP DATABASE "{db}"'))
        queue = [str(self.python), "-m", "peersite.queue_mails", str(n), SENDER, SUBJECT, BODY]
        subprocess.run(queue, env=self._env(self.db), cwd=self.folder, check=True)
        lockfile = str(self.folder / "post_office")
        cmd = [str(self.python), "-m", "django", "send_queued_mail", "--lockfile", lockfile]
        return cmd, self._env(self.db, sink.port)

    def check(self, n, mids):
        query = "SELECT status, count(*) FROM post_office_email GROUP BY status"
        if self.backend == "sqlite":
            with sqlite3.connect(self.db) as conn:
                counts = dict(conn.execute(query).fetchall())
        else:
            import psycopg

            dsn = _common.PG_ADMIN.rsplit("/", 1)[0] + f"/{self.db}"
            with psycopg.connect(dsn, autocommit=True) as conn:
                counts = dict(conn.execute(query).fetchall())
        if counts != ({0: n} if n else {}):  # post_office's STATUS.sent is 0
            raise CorrectnessError(f"{self.name}: post_office_email statuses {counts}")

    def drop_template(self) -> None:
        if self.backend == "postgres":
            _common._pg_exec(f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)')


class MailMerge(Contender):
    def __init__(self, name, folder, python: Path):
        super().__init__(name, folder)
        self.mailmerge = python.parent / "mailmerge"

    def prepare(self, n, sink):
        run = uuid.uuid4().hex[:8]
        template = self.folder / "mailmerge_template.txt"
        headers = f"TO: {{{{email}}}}\nSUBJECT: {SUBJECT}\nFROM: {SENDER}\n"
        # mailmerge adds no Message-ID of its own: the template carries one per row.
        headers += f"Message-ID: <mm-{run}-{{{{id}}}}@mailmerge.bench.example>\n"
        body = BODY.replace("{name}", "{{name}}").replace("{n}", "{{id}}")
        template.write_text(headers + "\n" + body)
        rows = "".join(f"{i},{first_name(i)},p{i}@acme.example\n" for i in range(1, n + 1))
        (self.folder / "mailmerge_database.csv").write_text("id,name,email\n" + rows)
        config = f"[smtp_server]\nhost = 127.0.0.1\nport = {sink.port}\n"
        (self.folder / "mailmerge_server.conf").write_text(config)
        cmd = [str(self.mailmerge), "--no-dry-run", "--no-limit"]  # stdout goes to a file
        return cmd, {"PATH": "/usr/bin:/bin"}


def run_once(c: Contender, n: int, sink: SinkProcess, logs: Path) -> dict:
    try:
        cmd, env = c.prepare(n, sink)
        mark, sink_cpu = sink.count(), sink.cpu()
        with open(logs / "stdout.log", "ab") as out, open(logs / "stderr.log", "ab") as err:
            m = run_measured(cmd, env, c.folder, out, err)
        sink_cpu = sink.cpu() - sink_cpu
        got = sink.records(mark)
        mids = {r["mid"] for r in got if r["mid"]}
        if m.returncode != 0:
            raise CorrectnessError(f"{c.name} exited {m.returncode} (see {logs}/stderr.log)")
        if len(got) != n or len(mids) != n:
            raise CorrectnessError(
                f"{c.name}: the sink got {len(got)} messages with {len(mids)} distinct "
                f"Message-IDs; expected exactly {n}"
            )
        c.check(n, mids)
    finally:
        c.cleanup()
    size = statistics.mean(r["size"] for r in got) if got else 0
    return {"wall": m.wall, "cpu": m.cpu, "sink": sink_cpu, "size": size}


def report(delay: float, n: int, results: dict[str, list[dict]], idle: dict[str, list]) -> None:
    def med(name: str, key: str, n: int = n) -> float:
        return statistics.median(n / r["wall"] if key == "rate" else r[key] for r in results[name])

    raw = med("raw smtplib", "rate") if "raw smtplib" in results else None
    rows = [["contender", "msgs/s", "of raw", "CPU ms/msg", "start-up CPU ms", "after ms/msg"]]
    rows[0] += ["sink CPU ms/msg", "bytes/msg"]
    for name, runs in results.items():
        rates = [n / r["wall"] for r in runs]
        fixed = statistics.median(r["cpu"] for r in idle[name])
        rows.append(
            [
                name,
                f"{med(name, 'rate'):.0f} ({min(rates):.0f}-{max(rates):.0f})",
                f"{med(name, 'rate') / raw:.2f}" if raw else "-",
                f"{1000 * med(name, 'cpu') / n:.3f}",
                f"{1000 * fixed:.0f}",
                f"{1000 * (med(name, 'cpu') - fixed) / n:.3f}",
                f"{1000 * med(name, 'sink') / n:.3f}",
                f"{statistics.mean(r['size'] for r in runs):.0f}",
            ]
        )
    print(f"\nsink answering DATA after {delay:g} ms:")
    print(table(rows))
    for backend in ("sqlite", "postgres"):
        ours, theirs = f"followup worker --once ({backend})", f"post_office ({backend})"
        if ours in results and theirs in results:
            speed = med(ours, "rate") / med(theirs, "rate")
            cpu = med(ours, "cpu") / med(theirs, "cpu")
            verdict = "ahead" if speed > 1 and cpu < 1 else "behind"
            print(
                f"  followup vs post_office on {backend}: {speed:.2f}x the msgs/s, {cpu:.2f}x "
                f"the CPU per message -> {verdict} (goal: more msgs/s and less CPU)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per run (default 2000)")
    parser.add_argument("--runs", type=int, default=6, help="runs per contender (default 6)")
    parser.add_argument(
        "--delay-ms",
        default="0,1",
        help="comma-separated sink delays before the 250 to DATA, one table each (default 0,1)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated words: run only contenders whose name has one"
    )
    parser.add_argument(
        "--po-threads",
        type=int,
        default=0,
        help="an experiment: post_office's THREADS_PER_PROCESS (default: its own default, 5)",
    )
    parser.add_argument(
        "--peers-venv", type=Path, default=BENCH / ".peers-venv", help="venv for the peers"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 20000 or not 1 <= args.runs <= 20:
        parser.error("--n must be between 1 and 20000, --runs between 1 and 20")
    delays = [float(d) for d in args.delay_ms.split(",") if d.strip()]
    print(f"peers benchmark: N={args.n}, {args.runs} runs, {machine()}; load avg {loadavg()}")
    threads = args.po_threads or "5 (its default)"
    print(f"post_office: 1 process, THREADS_PER_PROCESS {threads}")
    try:
        python = ensure_peers_venv(args.peers_venv)
        print(f"peers ({args.peers_venv}): {peer_versions(python)}", flush=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"the peers' venv could not be made ({exc}): only raw and followup run")
        python = None
    with tempfile.TemporaryDirectory(prefix="followup-peers-") as tmp:
        folder = Path(tmp)
        contenders: list[Contender] = [Raw("raw smtplib", folder)]
        for backend in ("sqlite", "postgres"):
            contenders.append(Followup(f"followup worker --once ({backend})", folder, backend))
        if python is not None:
            for backend in ("sqlite", "postgres"):
                name = f"post_office ({backend})"
                contenders.append(PostOffice(name, folder, backend, python, args.po_threads))
            contenders.append(MailMerge("mailmerge", folder, python))
        words = [w.strip() for w in args.only.split(",") if w.strip()]
        contenders = [c for c in contenders if not words or any(w in c.name for w in words)]
        try:
            for delay in delays:
                sink = SinkProcess(folder, delay_ms=delay)
                results: dict[str, list[dict]] = {c.name: [] for c in contenders}
                try:
                    run_once(Raw("warm-up", folder), min(args.n, 200), sink, folder)
                    # Each with nothing to send: its start-up and shut-down alone.
                    idle = {
                        c.name: [run_once(c, 0, sink, folder) for _ in range(3)] for c in contenders
                    }
                    for k in range(args.runs):
                        order = (
                            contenders[k % len(contenders) :] + contenders[: k % len(contenders)]
                        )
                        for c in order:
                            results[c.name].append(run_once(c, args.n, sink, folder))
                        print(
                            f"delay {delay:g} ms: round {k + 1} of {args.runs} done; load {loadavg()}",
                            flush=True,
                        )
                finally:
                    sink.stop()
                report(delay, args.n, results, idle)
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            for c in contenders:
                if isinstance(c, PostOffice):
                    c.drop_template()
    print(
        "\nstart-up CPU: median of 3 runs with nothing to send; after = (CPU - start-up) / N"
        f"\nmedian (min-max) of {args.runs} interleaved runs of {args.n} messages, each a "
        "subprocess timed from start to exit; CPU = the contender's process CPU with its "
        "children (wait4), and the sink's (the Postgres server's is not counted); every run "
        f"checked: exactly {args.n} distinct Message-IDs at the sink. load avg {loadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
