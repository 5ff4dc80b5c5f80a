"""Dispatch throughput: approved follow-ups sent by the worker vs raw smtplib, in the same run.

For each backend: N follow-ups are seeded as planned with review on, rendered into the review
queue by the service's own `review.prepare_due` and approved with the service's own guarded
transition (the stored text, content_hash = approved_hash, and the source_hash the worker
checks). Then `Worker(settings, db).run_until_idle()` is timed, in this process, until all N are
sent to an aiosmtpd sink running in a separate process on 127.0.0.1.

The baseline is raw smtplib sending N pre-serialised messages of the same size, on one reused
connection, to the same sink: run just before and just after each follow-up run; the faster
of the two is the figure the ratio is taken against.

At the end the sink must have received exactly N distinct Message-IDs, the ones the database
recorded as sent; otherwise the script fails (exit 1). Missing the throughput goal does not.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import smtplib
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common
from _common import SENDER, SinkProcess, database, loadavg, machine, seed, table
from sqlalchemy import select

from service import events, followups, review
from service.config import load_settings
from service.db import Database
from service.delivery import Delivery
from service.messages import OutgoingMessage, new_message_id
from service.models import FollowUp, Status
from service.rendering import content_hash
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


def run_raw(sink: SinkProcess, messages: list[bytes]) -> float:
    """Seconds to send them all with smtplib on one connection (connect and QUIT included)."""
    mark = sink.count()
    start = time.perf_counter()
    conn = smtplib.SMTP("127.0.0.1", sink.port, timeout=30)
    conn.ehlo()
    for n, data in enumerate(messages):
        conn.sendmail("ada@candidate.example", [f"p{n + 1}@acme.example"], data)
    conn.quit()
    elapsed = time.perf_counter() - start
    received = sink.records(mark)
    mids = {r["mid"] for r in received}
    if len(received) != len(messages) or len(mids) != len(messages):
        raise CorrectnessError(
            f"raw: the sink got {len(received)} messages, {len(mids)} distinct Message-IDs; "
            f"expected {len(messages)}"
        )
    return elapsed


def run_followup(settings, db: Database, sink: SinkProcess, n: int, profile: cProfile.Profile):
    """Seconds for Worker.run_until_idle() to send all N; then check what the sink got."""
    worker = Worker(settings, db)
    mark = sink.count()
    start = time.perf_counter()
    if profile is not None:
        profile.enable()
    summary = worker.run_until_idle()
    if profile is not None:
        profile.disable()
    elapsed = time.perf_counter() - start
    if summary.sent != n or summary.handled != n or summary.errors:
        raise CorrectnessError(f"the worker's pass: {summary}, expected {n} sent")
    received = sink.records(mark)
    mids = [r["mid"] for r in received]
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.message_id, FollowUp.status, FollowUp.contact_id)
        ).all()
    sent = {mid for mid, status, _ in rows if status == Status.SENT}
    others = sorted({status for _, status, contact in rows if contact and status != Status.SENT})
    if len(mids) != n or len(set(mids)) != n:
        raise CorrectnessError(
            f"the sink got {len(mids)} messages with {len(set(mids))} distinct Message-IDs from "
            f"the worker; expected exactly {n} distinct"
        )
    if set(mids) != sent or len(sent) != n or others:
        raise CorrectnessError(
            f"the database has {len(sent)} sent (other states: {others}); the sink's "
            f"Message-IDs {'match' if set(mids) == sent else 'do not match'} them"
        )
    return elapsed


def bench_backend(backend: str, n: int, args, folder: Path) -> dict:
    sink = SinkProcess(folder)
    try:
        with database(backend, folder) as url:
            t0 = time.perf_counter()
            seed(url, [datetime.now(UTC) - timedelta(seconds=1)] * n, review=True)
            settings = settings_for(url, sink, folder, args.log_level)
            db = Database(url)
            try:
                t1 = time.perf_counter()
                subject, body = prepare_approved(settings, db, n, args.approve)
                t2 = time.perf_counter()
                print(
                    f"{backend}: seeded {n} in {t1 - t0:.1f} s, rendered and approved them "
                    f"(review.prepare_due, {args.approve} approval) in {t2 - t1:.1f} s",
                    flush=True,
                )
                messages = raw_messages(n, subject, body)
                run_raw(sink, raw_messages(min(n, 200), subject, body))  # warm the sink up
                raw_before = run_raw(sink, messages)
                profile = cProfile.Profile() if args.profile else None
                followup = run_followup(settings, db, sink, n, profile)
                raw_after = run_raw(sink, raw_messages(n, subject, body))
            finally:
                db.dispose()
    finally:
        sink.stop()
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        print(f"\n--- cProfile of the {backend} follow-up run (top {args.profile}) ---")
        print(out.getvalue())
    return {
        "backend": backend,
        "raw_before": n / raw_before,
        "raw_after": n / raw_after,
        "followup": n / followup,
        "followup_s": followup,
        "size": len(messages[0]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Throughput of approved follow-ups dispatched by the worker to a loopback "
        "aiosmtpd server, against raw smtplib on one connection in the same run.",
    )
    parser.add_argument("--n", type=int, default=2000, help="follow-ups per run (default 2000)")
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
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 20000:
        parser.error("--n must be between 1 and 20000")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]

    print(f"dispatch benchmark: N={args.n}, {machine()}")
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
                results.append(bench_backend(backend, args.n, args, folder))
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            logging.shutdown()

    rows = [["backend", "raw msgs/s (before/after)", "followup msgs/s", "ratio", "goal >= 0.8"]]
    for r in results:
        baseline = max(r["raw_before"], r["raw_after"])
        ratio = r["followup"] / baseline
        rows.append(
            [
                r["backend"],
                f"{baseline:.0f} ({r['raw_before']:.0f}/{r['raw_after']:.0f})",
                f"{r['followup']:.0f} ({r['followup_s']:.2f} s)",
                f"{ratio:.2f}",
                "goal met" if ratio >= GOAL else "goal missed",
            ]
        )
    print(f"\nload average at the end: {loadavg()} (anything above ~0.5 means other work competed)")
    print(table(rows))
    print(
        f"\nmessage size {results[0]['size']} bytes; ratio = followup / the faster raw run; "
        f"every run checked: the sink got exactly {args.n} distinct Message-IDs"
        + (" (throughput measured under cProfile)" if args.profile else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
