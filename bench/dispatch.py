"""Dispatch throughput: approved follow-ups sent by the worker vs raw smtplib, in the same run.

Goal (issue 9): at least 0.8 of raw smtplib's msgs/s, on SQLite and on Postgres in one run,
against an SMTP server in its own process that takes about 1 ms to accept each message
(bench/smtpsink.py --delay-ms 1: a fixed wait before its 250 to DATA). The figure against a sink
that answers at once is reported too: --delay-ms takes a list (default 1,0), one sink process
per delay, and every delay gets its own raw baseline on its own sink.

For each backend (a temporary SQLite file, a throwaway Postgres database), --repeat x (number of
delays) groups of N follow-ups are seeded as planned (two interviewers per interview), group g
due g hours from now. With FOLLOWUP_REVIEW=on the service's own delivery pass
(`Delivery.run_once`, what every worker tick runs) renders them all into the review queue
(stored subject and text, content_hash, source_hash); the review digest it queues is the only
message that pass sends. Then each is approved with the guarded transition `review.approve`
makes (or with `review.approve` itself, --approve service). None of this is timed.

Timed, run g: `Worker(settings, db, clock=now + g hours).run_until_idle()`, in this process,
from its start until it returns with exactly the N follow-ups of group g sent to the sink of
that run's delay (the clock shift makes exactly group g due).

Baseline: raw smtplib sending N pre-serialised messages (the service's own OutgoingMessage, same
subject and text) on one connection to the same sink, before each follow-up run on that sink
and once after the last. Figures are medians; the ratio is median followup / median raw.

Every run must deliver exactly N distinct Message-IDs, the ones the database newly recorded as
sent; otherwise the script prints FAILED and exits 1. Missing the goal only prints "goal missed".
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common
from _common import SENDER, SinkProcess, database, loadavg, machine, seed, table
from _names import person_name
from sqlalchemy import func, select

from service import digest, events, followups, review, workers
from service.config import load_settings
from service.db import Database
from service.delivery import Delivery, claims, engine, stream
from service.delivery.outcomes import Recorder
from service.messages import OutgoingMessage, new_message_id
from service.models import FollowUp, Kind, Status
from service.rendering import content_hash
from service.transport import SmtpTransport
from service.validation import parse_mailbox
from service.worker import Worker

GOAL = 0.8
#: The server of the goal: about 1 ms to accept each message.
GOAL_DELAY_MS = 1.0
#: Enough review lead for every group to enter the queue in the one untimed rendering pass.
MAX_GROUPS = 40


class CorrectnessError(Exception):
    pass


def settings_for(url: str, sink: SinkProcess, workdir: Path, log_level: str):
    environ = {
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_FROM": SENDER,
        "FOLLOWUP_TIMEZONE": "UTC",
        "FOLLOWUP_MAX_PER_HOUR": "0",
        "FOLLOWUP_REVIEW": "on",
        "FOLLOWUP_REVIEW_LEAD": f"{MAX_GROUPS + 2}h",
        "FOLLOWUP_LOG_LEVEL": log_level,
        **sink.env(),
    }
    return load_settings(workdir=workdir, environ=environ)


def prepare_approved(settings, db: Database, total: int, how: str) -> tuple[str, str]:
    """Render every seeded follow-up into review and approve each; returns one (subject, text).

    Rendering is the service's own delivery pass (`Delivery.run_once`): with review on, it
    claims what enters the review window, renders it and queues it for review, and queues a
    review digest to the user, which goes out in the same pass (so it is not counted in any
    timed run). Approval is `review.approve` per row (how="service"), or the same guarded
    transition it makes, without its per-row checks, in one transaction (how="bulk": much faster
    set-up). Either way the worker checks every approval again before sending, and the runs fail
    unless all of them are sent.
    """
    now = datetime.now(UTC)
    summary = Delivery(settings, db, actor="bench-review").run_once(lambda: datetime.now(UTC))
    if summary.prepared != total or summary.failed or summary.held:
        raise CorrectnessError(f"the rendering pass: {summary}; expected {total} put in review")
    with db.transaction() as session:
        rows = session.execute(select(FollowUp.id, FollowUp.status, FollowUp.kind)).all()
    queued = sorted(fid for fid, status, kind in rows if status == Status.PENDING_REVIEW)
    if len(queued) != total:
        raise CorrectnessError(f"{len(queued)} follow-ups in review, expected {total}")
    for fid, status, kind in rows:  # a note to the user that did not go (none expected)
        if kind == Kind.NOTE and status == Status.PLANNED:
            followups.cancel(db, fid, now, actor="bench-review")
    if how == "service":
        for fid in queued:
            review.approve(db, fid, now, actor="bench-review")
    else:
        # What review.approve does for each, minus its per-row checks, in one transaction.
        with db.transaction() as session:
            rows = session.execute(
                select(FollowUp.id, FollowUp.subject, FollowUp.body_text, FollowUp.body_html)
                .where(FollowUp.id.in_(queued))
                .order_by(FollowUp.id)
            ).all()
            for fid, subject, text, html in rows:
                stored = content_hash(subject or "", text or "", html)
                events.transition(
                    session,
                    fid,
                    [Status.PENDING_REVIEW],
                    Status.APPROVED,
                    now,
                    actor="bench-review",
                    detail={"content_hash": stored},
                    expect={"content_hash": stored},
                    approved_hash=stored,
                    approved_at=now,
                    last_error=None,
                )
    with db.transaction() as session:
        approved = session.execute(
            select(FollowUp.subject, FollowUp.body_text).where(
                FollowUp.status == Status.APPROVED,
                FollowUp.approved_hash == FollowUp.content_hash,
            )
        ).all()
    if len(approved) != total:
        raise CorrectnessError(f"{len(approved)} follow-ups approved, expected {total}")
    return approved[0].subject, approved[0].body_text


def raw_messages(n: int, subject: str, body: str) -> list[bytes]:
    """N messages like the worker's, serialised before the clock starts."""
    me = parse_mailbox(SENDER, "sender")
    now = datetime.now(UTC)
    return [
        OutgoingMessage(
            sender=me,
            to=parse_mailbox(f"{person_name(i + 1)} <p{i + 1}@acme.example>", "to"),
            subject=subject,
            text=body,
            message_id=new_message_id("raw.bench.example"),
            date=now,
        ).as_bytes()
        for i in range(n)
    ]


def run_raw(sink: SinkProcess, messages: list[bytes], cpu_used: dict[str, float]) -> float:
    """Seconds to send them all with smtplib on one connection (connect and QUIT included)."""
    mark = sink.count()
    cpu, sink_cpu = time.process_time(), sink.cpu()
    start = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", sink.port, timeout=30)
    conn.ehlo()
    for n, data in enumerate(messages):
        conn.sendmail("ada@candidate.example", [f"p{n + 1}@acme.example"], data)
    conn.quit()
    elapsed = time.perf_counter() - start
    cpu_used["ours"] = cpu_used.get("ours", 0.0) + time.process_time() - cpu
    cpu_used["sink"] = cpu_used.get("sink", 0.0) + sink.cpu() - sink_cpu
    received = sink.records(mark)
    mids = {r["mid"] for r in received}
    if len(received) != len(messages) or len(mids) != len(messages):
        raise CorrectnessError(
            f"raw: the sink got {len(received)} messages, {len(mids)} distinct Message-IDs; "
            f"expected {len(messages)}"
        )
    return elapsed


# --- where a follow-up run's time goes ----------------------------------------------------------

#: The seams of one delivery pass, timed by wrapping them for the follow-up runs only (about
#: 1 us a call). Time is exclusive: a call's nested timed calls count in their own rows, so the
#: rows and "other" add up to the wall time. Names are looked up when the run starts; a seam the
#: service no longer has is an error (the benchmark must follow the code).
PHASES: list[tuple[str, object, str]] = [
    ("housekeeping (DB)", engine, "recover_streams"),
    ("housekeeping (DB)", engine, "expire"),
    ("housekeeping (DB)", digest, "queue_digest"),
    ("claim (DB)", claims, "claim"),
    ("load claimed rows (DB)", engine, "load"),
    ("check approval, thread, headers", engine, "prepare"),
    ("serialise", OutgoingMessage, "as_bytes"),
    ("commit: record outcome (DB)", Recorder, "record"),
    ("commit: mark sending (DB)", stream.Stream, "_mark"),
    ("commit: transaction (DB)", stream.Stream, "_commit"),
    ("SMTP: connect, QUIT", SmtpTransport, "open"),
    ("SMTP: connect, QUIT", SmtpTransport, "close"),
    ("SMTP: MAIL, RCPT, DATA out", SmtpTransport, "envelope"),
    ("SMTP: MAIL, RCPT, DATA out", SmtpTransport, "data"),
    ("SMTP: wait for the 250", SmtpTransport, "result"),
    ("outcome and log line", stream.Stream, "_result"),
    ("heartbeat (DB)", workers, "beat"),
]
OTHER = "other (the stream's loop, generators, the rest)"


class PhaseClock:
    """Exclusive wall time per phase, per thread (delivery runs in one thread today)."""

    def __init__(self, totals: dict[str, float]):
        self.totals = totals
        self.local = threading.local()

    def wrap(self, label: str, original: Callable) -> Callable:
        totals, local = self.totals, self.local

        def timed(*args, **kwargs):
            stack = local.__dict__.setdefault("stack", [])
            stack.append(0.0)  # time spent in nested timed calls
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                nested = stack.pop()
                totals[label] = totals.get(label, 0.0) + elapsed - nested
                if stack:
                    stack[-1] += elapsed

        return timed


@contextmanager
def phase_timer(totals: dict[str, float]) -> Iterator[None]:
    clock = PhaseClock(totals)
    saved = []
    try:
        for label, owner, attr in PHASES:
            original = owner.__dict__.get(attr)
            if original is None or not callable(original):
                where = getattr(owner, "__name__", owner)
                raise RuntimeError(f"{where}.{attr} no longer exists: update PHASES in {__file__}")
            setattr(owner, attr, clock.wrap(label, original))
            saved.append((owner, attr, original))
        yield
    finally:
        for owner, attr, original in reversed(saved):
            setattr(owner, attr, original)


def run_followup(
    settings,
    db: Database,
    sink: SinkProcess,
    n: int,
    shift: timedelta,
    seen: set,
    profile,
    phases: dict[str, float],
) -> float:
    """Seconds for Worker.run_until_idle() to send the N due now (its clock moved on by
    `shift`, so that exactly the next group is due); then check what the sink got."""
    worker = Worker(settings, db, clock=lambda: datetime.now(UTC) + shift)
    mark = sink.count()
    with phase_timer(phases):
        cpu, sink_cpu = time.process_time(), sink.cpu()
        start = time.perf_counter()
        if profile is not None:
            profile.enable()
        summary = worker.run_until_idle()
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - start
        cpu, sink_cpu = time.process_time() - cpu, sink.cpu() - sink_cpu
    phases["wall"] = phases.get("wall", 0.0) + elapsed
    phases["cpu"] = phases.get("cpu", 0.0) + cpu
    phases["sink"] = phases.get("sink", 0.0) + sink_cpu
    others = (summary.deferred, summary.failed, summary.uncertain, summary.prepared, summary.held)
    if summary.sent != n or summary.handled != n or any(others) or summary.changed:
        raise CorrectnessError(f"the worker's pass: {summary}, expected {n} sent and nothing else")
    records = sink.records(mark)
    mids = [r["mid"] for r in records]
    with db.transaction() as session:
        rows = session.execute(select(FollowUp.message_id, FollowUp.status)).all()
    new = {mid for mid, status in rows if status == Status.SENT} - seen
    if len(mids) != n or len(set(mids)) != n:
        raise CorrectnessError(
            f"the sink got {len(mids)} messages with {len(set(mids))} distinct Message-IDs from "
            f"the worker; expected exactly {n} distinct"
        )
    if set(mids) != new:
        raise CorrectnessError(
            f"the database recorded {len(new)} newly sent; the sink's {n} Message-IDs "
            "do not match them"
        )
    seen |= new
    phases["bytes"] = phases.get("bytes", 0.0) + sum(r["size"] for r in records)
    return elapsed


def bench_backend(backend: str, args, delays: list[float], folder: Path) -> list[dict]:
    """One result per delay: the raw and follow-up runs against that delay's sink."""
    n, repeat = args.n, args.repeat
    sinks = {d: SinkProcess(folder, max_seconds=3600, delay_ms=d) for d in delays}
    profile = cProfile.Profile() if args.profile else None
    results = {
        d: {"backend": backend, "delay": d, "raw": [], "followup": [], "phases": {}, "raw_cpu": {}}
        for d in delays
    }
    try:
        with database(backend, folder) as url:
            t0 = time.perf_counter()
            groups = repeat * len(delays)
            # Group g is due g hours from now: the g-th timed run sees only its own group due.
            now = datetime.now(UTC) - timedelta(seconds=1)
            seed(url, [now + timedelta(hours=g) for g in range(groups) for _ in range(n)])
            settings = {d: settings_for(url, sinks[d], folder, args.log_level) for d in delays}
            db = Database(url)
            try:
                t1 = time.perf_counter()
                subject, body = prepare_approved(settings[delays[0]], db, n * groups, args.approve)
                t2 = time.perf_counter()
                print(
                    f"{backend}: seeded {n * groups} in {t1 - t0:.1f} s, rendered them into review "
                    f"(Delivery.run_once) and approved them ({args.approve}) in {t2 - t1:.1f} s",
                    flush=True,
                )
                raw = raw_messages(n, subject, body)
                for d in delays:  # warm each sink up
                    run_raw(sinks[d], raw_messages(min(n, 200), subject, body), {})
                # Already sent: the review digest of the rendering pass.
                with db.transaction() as session:
                    seen: set[str] = set(
                        session.scalars(
                            select(FollowUp.message_id).where(FollowUp.status == Status.SENT)
                        )
                    )
                before = len(seen)
                for k in range(repeat):
                    for i, d in enumerate(delays):
                        r = results[d]
                        r["raw"].append(
                            run_raw(sinks[d], raw_messages(n, subject, body), r["raw_cpu"])
                        )
                        shift = timedelta(hours=k * len(delays) + i)
                        r["followup"].append(
                            run_followup(
                                settings[d], db, sinks[d], n, shift, seen, profile, r["phases"]
                            )
                        )
                for d in delays:
                    r = results[d]
                    r["raw"].append(run_raw(sinks[d], raw_messages(n, subject, body), r["raw_cpu"]))
                with db.transaction() as session:
                    unsent = session.scalar(
                        select(func.count())
                        .select_from(FollowUp)
                        .where(FollowUp.contact_id.is_not(None), FollowUp.status != Status.SENT)
                    )
                if unsent or len(seen) - before != n * groups:
                    raise CorrectnessError(
                        f"{unsent} follow-ups left unsent, {len(seen) - before} sent"
                    )
            finally:
                db.dispose()
    finally:
        for sink in sinks.values():
            sink.stop()
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        print(f"\n--- cProfile of the {backend} follow-up runs (top {args.profile}) ---")
        print(out.getvalue())
    for r in results.values():
        r["raw"] = [n / seconds for seconds in r["raw"]]  # msgs/s from here on
        r["followup"] = [n / seconds for seconds in r["followup"]]
        r["raw_size"] = len(raw[0])
        r["size"] = r["phases"].pop("bytes") / (n * repeat)
    return list(results.values())


def delay_label(d: float) -> str:
    return f"{d:g} ms"


def report(results: list[dict], args) -> bool:
    """Print the figures; True when the goal is met on every backend."""
    goal_header = f"goal >= {GOAL} (at {delay_label(GOAL_DELAY_MS)})"
    rows = [["backend", "sink delay", "raw msgs/s", "followup msgs/s", "ratio", goal_header]]
    verdicts = []
    for r in results:
        raw, ours = statistics.median(r["raw"]), statistics.median(r["followup"])
        ratio = ours / raw
        if r["delay"] == GOAL_DELAY_MS:
            verdicts.append(ratio >= GOAL)
            verdict = "goal met" if ratio >= GOAL else "goal missed"
        else:
            verdict = "(reported)"
        rows.append(
            [
                r["backend"],
                delay_label(r["delay"]),
                f"{raw:.0f} ({min(r['raw']):.0f}-{max(r['raw']):.0f})",
                f"{ours:.0f} ({min(r['followup']):.0f}-{max(r['followup']):.0f})",
                f"{ratio:.2f}",
                verdict,
            ]
        )
    print(table(rows))

    per = 1e6 / (args.n * args.repeat)
    per_raw = 1e6 / (args.n * (args.repeat + 1))
    print("\nper message: wall time and CPU (ours: this process, all threads; sink: its process)")
    for r in results:
        name = f"{r['backend']}, sink {delay_label(r['delay'])}"
        p = r["phases"]
        print(
            f"  {name}, raw:      wall {1e6 / statistics.median(r['raw']):.0f} us; CPU: ours "
            f"{r['raw_cpu']['ours'] * per_raw:.0f} us, sink {r['raw_cpu']['sink'] * per_raw:.0f} us"
        )
        print(
            f"  {name}, followup: wall {p['wall'] * per:.0f} us; CPU: ours {p['cpu'] * per:.0f} "
            f"us, sink {p['sink'] * per:.0f} us"
        )

    labels = list(dict.fromkeys(label for label, _, _ in PHASES))
    header = ["where a follow-up run's wall time goes, us/msg"]
    header += [f"{r['backend']} {delay_label(r['delay'])}" for r in results]
    rows = [header]
    for label in [*labels, OTHER]:
        line = [label]
        for r in results:
            p = r["phases"]
            value = p.get(label, 0.0)
            if label == OTHER:  # what no seam accounts for
                value = p["wall"] - sum(p.get(x, 0.0) for x in labels)
            line.append(f"{value * per:.0f} ({100 * value / p['wall']:.0f}%)")
        rows.append(line)
    rows.append(["wall (all of the above)"] + [f"{r['phases']['wall'] * per:.0f}" for r in results])
    rows.append(["CPU, ours"] + [f"{r['phases']['cpu'] * per:.0f}" for r in results])
    rows.append(["CPU, sink"] + [f"{r['phases']['sink'] * per:.0f}" for r in results])
    print()
    print(table(rows))
    print(
        "  (exclusive wall time, measured by wrapping the service's functions for the follow-up "
        "runs only:\n  a call's nested timed calls count in their own rows, so each column adds "
        "up to the wall time;\n  'SMTP: wait for the 250' is the server's time not overlapped "
        "by our own work)"
    )

    sizes = {f"{r['size']:.0f}" for r in results}
    raw_sizes = {f"{r['raw_size']}" for r in results}
    print(
        f"\nmedian (min-max) of {args.repeat} follow-up runs and {args.repeat + 1} raw runs per "
        f"backend and sink, interleaved; {args.n} messages each run ({'/'.join(sorted(sizes))} "
        f"bytes from followup, {'/'.join(sorted(raw_sizes))} raw); ratio = median followup / "
        f"median raw on the same sink; every run checked: the sink got exactly {args.n} distinct "
        "Message-IDs, the ones the database recorded as sent"
        + (" (throughput measured under cProfile)" if args.profile else "")
    )
    met = bool(verdicts) and all(verdicts)
    if verdicts:
        backends = " and ".join(dict.fromkeys(r["backend"] for r in results))
        print(
            f"goal (>= {GOAL} of raw against the {delay_label(GOAL_DELAY_MS)} sink, {backends}): "
            + ("met" if met else "missed")
        )
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput of approved follow-ups dispatched by the worker to a loopback "
        "aiosmtpd server in its own process, against raw smtplib on one connection in the same "
        "run, against a sink that takes 1 ms per message and one that answers at once.",
    )
    parser.add_argument("--n", type=int, default=2000, help="follow-ups per run (default 2000)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="timed follow-up runs per backend and sink delay (default 2)",
    )
    parser.add_argument(
        "--delay-ms",
        default="1,0",
        help="comma-separated sink delays before the 250 to DATA, a sink process each (default "
        f"1,0; the goal is about {GOAL_DELAY_MS:g})",
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both", help="default both"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="the service's log level during the run, logged to a file (default INFO, the "
        "service's own default)",
    )
    parser.add_argument(
        "--approve",
        choices=("bulk", "service"),
        default="bulk",
        help="approve with review.approve row by row (service) or with the same guarded "
        "transition in one transaction (bulk, default: faster set-up)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="TOP",
        default=0,
        help="run the follow-up passes under cProfile and print the TOP functions (their "
        "throughput then includes the profiler's overhead)",
    )
    args = parser.parse_args(argv)
    try:
        delays = list(dict.fromkeys(float(d) for d in args.delay_ms.split(",") if d.strip()))
    except ValueError:
        parser.error("--delay-ms takes numbers separated by commas, e.g. 1,0")
    if not delays or any(not 0 <= d <= 1000 for d in delays):
        parser.error("--delay-ms: give one to a few delays of 0 to 1000 ms")
    if not 1 <= args.n <= 20000 or not 1 <= args.repeat <= 10:
        parser.error("--n must be between 1 and 20000, --repeat between 1 and 10")
    if args.repeat * len(delays) > MAX_GROUPS:
        parser.error(f"--repeat x the number of delays must be at most {MAX_GROUPS}")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]

    print(
        f"dispatch benchmark: N={args.n}, sink delays {', '.join(map(delay_label, delays))}; "
        f"{machine()}"
    )
    print(f"postgres server: {_common.PG_ADMIN.rsplit('/', 1)[0]}; load average {loadavg()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        folder = Path(tmp)
        logging.basicConfig(
            level=args.log_level,
            filename=str(folder / "service.log"),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        try:
            for backend in backends:
                results += bench_backend(backend, args, delays, folder)
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            logging.shutdown()
    print(f"\nload average at the end: {loadavg()} (anything above ~0.5 means other work competed)")
    report(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
