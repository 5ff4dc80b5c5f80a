"""Dispatch throughput: approved follow-ups sent by the worker vs raw smtplib, in the same run.

For each backend (a temporary SQLite file, a throwaway Postgres database): --repeat groups of N
follow-ups are seeded as planned with review on, group k due k hours from now. The service's own
`review.prepare_due` renders them all into the review queue (stored subject and text,
content_hash, source_hash) and each is approved with the guarded transition `review.approve`
makes (approved_hash = content_hash). The review digest prepare_due queues is cancelled.

Run k times `Worker(settings, db, clock=now + k hours).run_until_idle()`, in this process, from
its start until it returns with exactly the N follow-ups of group k sent to an aiosmtpd sink
that runs in a separate process on 127.0.0.1 (so it does not share our GIL).

Baseline: raw smtplib sending N pre-serialised messages of the same size on one reused
connection to the same sink, run before each follow-up run and once after the last one.
Figures are medians; the ratio is median followup / median raw.

Every run must deliver exactly N distinct Message-IDs, the ones the database recorded as sent;
otherwise the script fails (exit 1). Missing the throughput goal only prints "goal missed".
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import logging
import pstats
import smtplib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common
from _common import SENDER, SinkProcess, database, loadavg, machine, seed, table
from sqlalchemy import func, select

from service import events, followups, review
from service.config import load_settings
from service.db import Database
from service.delivery import Delivery
from service.messages import OutgoingMessage, new_message_id
from service.models import FollowUp, Status
from service.rendering import content_hash
from service.transport import SmtpTransport
from service.validation import parse_mailbox
from service.worker import Worker

GOAL = 0.8


class CorrectnessError(Exception):
    pass


def settings_for(url: str, sink: SinkProcess, workdir: Path, log_level: str):
    environ = {
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_FROM": SENDER,
        "FOLLOWUP_TIMEZONE": "UTC",
        "FOLLOWUP_MAX_PER_HOUR": "0",
        "FOLLOWUP_REVIEW": "on",
        "FOLLOWUP_LOG_LEVEL": log_level,
        **sink.env(),
    }
    return load_settings(workdir=workdir, environ=environ)


def prepare_approved(settings, db: Database, n: int, how: str) -> tuple[str, str]:
    """Render the due follow-ups into review and approve each; returns one (subject, text).

    Rendering is the service's own `review.prepare_due`. Approval is `review.approve` per row
    (how="service"), or the same guarded transition it makes, without its per-row checks, all in
    one transaction (how="bulk": seconds instead of tens of seconds for N=2000). Either way the
    worker re-checks every approval before sending, and the run fails unless all N are sent.
    `prepare_due` also queues a review digest to the user; it is cancelled (`followups.cancel`)
    so that exactly the N approved follow-ups are dispatched.
    """
    now = datetime.now(UTC)
    prepared = review.prepare_due(Delivery(settings, db, actor="bench-review"), now)
    if prepared != n:
        raise CorrectnessError(f"prepare_due put {prepared} follow-ups in review, expected {n}")
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.id, FollowUp.status, FollowUp.contact_id).order_by(FollowUp.id)
        ).all()
    queued = [fid for fid, status, _ in rows if status == Status.PENDING_REVIEW]
    extra = [fid for fid, status, contact in rows if contact is None and status == Status.PLANNED]
    if len(queued) != n or len(rows) - len(extra) != n:
        raise CorrectnessError(f"{len(queued)} of {len(rows)} follow-ups in review, expected {n}")
    for fid in extra:  # the review digest to the user
        followups.cancel(db, fid, now, actor="bench-review")
    approve = getattr(review, "approve", None)
    if approve is not None and how == "service":
        for fid in queued:
            approve(db, fid, now, actor="bench-review")
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
    if len(approved) != n:
        raise CorrectnessError(f"{len(approved)} follow-ups approved, expected {n}")
    return approved[0].subject, approved[0].body_text


def raw_messages(n: int, subject: str, body: str) -> list[bytes]:
    """N messages like the worker's, serialised before the clock starts."""
    me = parse_mailbox(SENDER, "sender")
    now = datetime.now(UTC)
    return [
        OutgoingMessage(
            sender=me,
            to=parse_mailbox(f"Person {i + 1} <p{i + 1}@acme.example>", "to"),
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
    cpu_used["raw"] = cpu_used.get("raw", 0.0) + time.process_time() - cpu
    cpu_used["sink"] = cpu_used.get("sink", 0.0) + sink.cpu() - sink_cpu
    received = sink.records(mark)
    mids = {r["mid"] for r in received}
    if len(received) != len(messages) or len(mids) != len(messages):
        raise CorrectnessError(
            f"raw: the sink got {len(received)} messages, {len(mids)} distinct Message-IDs; "
            f"expected {len(messages)}"
        )
    return elapsed


#: Where a follow-up run's wall time goes: methods timed by wrapping them for the run only.
#: Each is looked up by name and skipped if the service no longer has it.
PHASES = {
    "claim (DB)": (Delivery, "claim"),
    "SMTP send": (SmtpTransport, "send"),
    "record sent (DB)": (Delivery, "record_sent"),
    "serialise": (OutgoingMessage, "as_bytes"),
}


@contextlib.contextmanager
def phase_timer(totals: dict[str, float]):
    """Wrap the PHASES methods with perf_counter accumulators (about 1 us a call)."""
    saved = []
    for name, (cls, attr) in PHASES.items():
        original = cls.__dict__.get(attr)
        if original is None:
            continue

        def timed(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_name] = totals.get(_name, 0.0) + time.perf_counter() - start

        setattr(cls, attr, timed)
        saved.append((cls, attr, original))
    try:
        yield totals
    finally:
        for cls, attr, original in saved:
            setattr(cls, attr, original)


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
    phases["total"] = phases.get("total", 0.0) + elapsed
    phases["cpu"] = phases.get("cpu", 0.0) + cpu
    phases["sink"] = phases.get("sink", 0.0) + sink_cpu
    if summary.sent != n or summary.handled != n or getattr(summary, "errors", None):
        raise CorrectnessError(f"the worker's pass: {summary}, expected {n} sent")
    mids = [r["mid"] for r in sink.records(mark)]
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
    return elapsed


def bench_backend(backend: str, args, folder: Path) -> dict:
    n, repeat = args.n, args.repeat
    sink = SinkProcess(folder)
    profile = cProfile.Profile() if args.profile else None
    raw_s, followup_s = [], []
    phases: dict[str, float] = {}
    raw_cpu: dict[str, float] = {}
    try:
        with database(backend, folder) as url:
            t0 = time.perf_counter()
            # Group k is due k hours from now: the k-th timed run sees only its own group due.
            now = datetime.now(UTC) - timedelta(seconds=1)
            seed(
                url,
                [now + timedelta(hours=k) for k in range(repeat) for _ in range(n)],
                review=True,
            )
            settings = settings_for(url, sink, folder, args.log_level)
            db = Database(url)
            try:
                t1 = time.perf_counter()
                subject, body = prepare_approved(settings, db, n * repeat, args.approve)
                t2 = time.perf_counter()
                print(
                    f"{backend}: seeded {n * repeat} in {t1 - t0:.1f} s, rendered and approved "
                    f"them (review.prepare_due, {args.approve} approval) in {t2 - t1:.1f} s",
                    flush=True,
                )
                run_raw(sink, raw_messages(min(n, 200), subject, body), {})  # warm the sink up
                seen: set[str] = set()
                for k in range(repeat):
                    raw_s.append(run_raw(sink, raw_messages(n, subject, body), raw_cpu))
                    shift = timedelta(hours=k)
                    followup_s.append(
                        run_followup(settings, db, sink, n, shift, seen, profile, phases)
                    )
                raw_s.append(run_raw(sink, raw_messages(n, subject, body), raw_cpu))
                with db.transaction() as session:
                    unsent = session.scalar(
                        select(func.count())
                        .select_from(FollowUp)
                        .where(FollowUp.contact_id.is_not(None), FollowUp.status != Status.SENT)
                    )
                if unsent or len(seen) != n * repeat:
                    raise CorrectnessError(f"{unsent} follow-ups left unsent, {len(seen)} sent")
            finally:
                db.dispose()
    finally:
        sink.stop()
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        print(f"\n--- cProfile of the {backend} follow-up runs (top {args.profile}) ---")
        print(out.getvalue())
    return {
        "backend": backend,
        "raw": [n / s for s in raw_s],
        "followup": [n / s for s in followup_s],
        "size": len(raw_messages(1, subject, body)[0]),
        "phases": phases,
        "raw_cpu": raw_cpu["raw"] / (n * (repeat + 1)),
        "raw_sink_cpu": raw_cpu["sink"] / (n * (repeat + 1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput of approved follow-ups dispatched by the worker to a loopback "
        "aiosmtpd server, against raw smtplib on one connection in the same run.",
    )
    parser.add_argument("--n", type=int, default=2000, help="follow-ups per run (default 2000)")
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed follow-up runs per backend (default 2)"
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
        help="run the follow-up pass under cProfile and print the TOP functions (its throughput "
        "then includes the profiler's overhead)",
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        metavar="SECONDS",
        help="an experiment: sys.setswitchinterval() for this process (Python's default is "
        "0.005), to see how much of the gap is threads waiting for the GIL",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 20000 or not 1 <= args.repeat <= 10:
        parser.error("--n must be between 1 and 20000, --repeat between 1 and 10")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    print(
        f"dispatch benchmark: N={args.n}, {machine()}, GIL switch interval "
        f"{sys.getswitchinterval() * 1000:g} ms"
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
                results.append(bench_backend(backend, args, folder))
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            logging.shutdown()

    rows = [
        ["backend", "raw msgs/s", "followup msgs/s", "ratio", "goal >= 0.8"],
    ]
    for r in results:
        raw, followup = statistics.median(r["raw"]), statistics.median(r["followup"])
        ratio = followup / raw
        rows.append(
            [
                r["backend"],
                f"{raw:.0f} ({min(r['raw']):.0f}-{max(r['raw']):.0f})",
                f"{followup:.0f} ({min(r['followup']):.0f}-{max(r['followup']):.0f})",
                f"{ratio:.2f}",
                "goal met" if ratio >= GOAL else "goal missed",
            ]
        )
    print(f"\nload average at the end: {loadavg()} (anything above ~0.5 means other work competed)")
    print(table(rows))
    print("\nper message (all runs): wall time, CPU used, and busy time of the service's phases")
    for r in results:
        per = 1e6 / (args.n * args.repeat)
        total = r["phases"].pop("total")
        cpu, sink_cpu = r["phases"].pop("cpu"), r["phases"].pop("sink")
        phases = ", ".join(
            f"{name} {v * per:.0f} us ({100 * v / total:.0f}%)" for name, v in r["phases"].items()
        )
        print(
            f"  {r['backend']} raw:      wall {1e6 / statistics.median(r['raw']):.0f} us; "
            f"CPU: ours {1e6 * r['raw_cpu']:.0f} us, sink {1e6 * r['raw_sink_cpu']:.0f} us"
        )
        print(
            f"  {r['backend']} followup: wall {total * per:.0f} us; "
            f"CPU: ours {cpu * per:.0f} us, sink {sink_cpu * per:.0f} us; {phases}"
        )
    print(
        "  (phases may run in different threads at once, so they can add up to more than the\n"
        "  wall time; CPU is process time of this process (all threads) and of the sink)"
    )
    print(
        f"\nmedian (min-max) of {args.repeat} follow-up runs and {args.repeat + 1} raw runs, "
        f"interleaved; {args.n} messages of {results[0]['size']} bytes each run; ratio = median "
        f"followup / median raw; every run checked: the sink got exactly {args.n} distinct "
        "Message-IDs, the ones the database recorded as sent"
        + (" (throughput measured under cProfile)" if args.profile else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
