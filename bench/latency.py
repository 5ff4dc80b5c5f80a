"""Due-to-accepted latency of an idle worker, against a sleep-then-send loop in the same run.

Follow-ups are seeded in the future, one every --interval seconds starting --lead seconds from
now; then the real worker starts as a subprocess (`python -m service worker`) with
FOLLOWUP_TICK=60s, so only its one-off wake-up at the next due time can make it punctual. The SMTP
sink (a separate process on 127.0.0.1) records when each message's data arrived; latency is that
arrival time minus the follow-up's due_at.

Baseline: a subprocess that sleeps until each due time (time.sleep) and then sends a
pre-serialised message with raw smtplib on a new connection: what any scheduler could at best do
with a sender that is idle between messages. Run in the same invocation, before the worker runs
(never at the same time, so they do not compete for the 2 cores).

Fails (exit 1) if a message is missing, duplicated, or the worker does not stop cleanly;
missing the latency goal only prints "goal missed".
"""

from __future__ import annotations

import argparse
import json
import smtplib
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    SENDER,
    SinkProcess,
    database,
    loadavg,
    machine,
    percentile,
    seed,
    stop_process,
    table,
    wait_for,
    worker_env,
)
from _names import first_name, person_name
from sqlalchemy import select

from service.db import Database
from service.messages import OutgoingMessage, new_message_id
from service.models import FollowUp, Status
from service.validation import parse_mailbox

GOAL_P50, GOAL_P99 = 0.050, 0.500


class CorrectnessError(Exception):
    pass


def due_times(count: int, lead: float, interval: float) -> list[datetime]:
    start = datetime.now(UTC) + timedelta(seconds=lead)
    return [start + timedelta(seconds=i * interval) for i in range(count)]


# --- the baseline: sleep until due, then send ---------------------------------------------------


def baseline_child() -> int:
    """Runs in the baseline subprocess: the job arrives on stdin as JSON."""
    job = json.loads(sys.stdin.read())
    for due, rcpt, data in job["messages"]:
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        conn = smtplib.SMTP("127.0.0.1", job["port"], timeout=30)
        conn.sendmail(job["sender"], [rcpt], data.encode("ascii"))
        conn.quit()
    return 0


def run_baseline(sink: SinkProcess, args) -> list[float]:
    me = parse_mailbox(SENDER, "sender")
    times = due_times(args.count, args.lead, args.interval)
    messages, due_by_mid = [], {}
    for n, due in enumerate(times):
        mid = new_message_id("baseline.bench.example")
        data = OutgoingMessage(
            sender=me,
            to=parse_mailbox(f"{person_name(n + 1)} <p{n + 1}@acme.example>", "to"),
            subject="Thank you for the Staff Engineer interview",
            text=f"Dear {first_name(n + 1)},\n\nThank you for taking the time to speak with me.\n",
            message_id=mid,
            date=due,
        ).as_bytes()
        messages.append((due.timestamp(), f"p{n + 1}@acme.example", data.decode("ascii")))
        due_by_mid[mid] = due.timestamp()
    mark = sink.count()
    child = subprocess.Popen(
        [sys.executable, __file__, "--baseline-child"], stdin=subprocess.PIPE, text=True
    )
    child.stdin.write(json.dumps({"port": sink.port, "sender": me.email, "messages": messages}))
    child.stdin.close()
    try:
        child.wait(timeout=args.lead + args.count * args.interval + 30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        raise CorrectnessError("the baseline sender did not finish in time") from None
    if child.returncode != 0:
        raise CorrectnessError(f"the baseline sender exited with {child.returncode}")
    return latencies(sink.records(mark), due_by_mid, args.count, "baseline")


def latencies(records: list[dict], due_by_mid: dict[str, float], count: int, who: str):
    mids = [r["mid"] for r in records]
    if len(mids) != count or set(mids) != set(due_by_mid):
        raise CorrectnessError(
            f"{who}: the sink got {len(mids)} messages ({len(set(mids))} distinct Message-IDs), "
            f"expected exactly the {count} it was given"
        )
    return [r["t"] - due_by_mid[r["mid"]] for r in records]


# --- the real worker ----------------------------------------------------------------------------


def run_worker(sink: SinkProcess, backend: str, folder: Path, args) -> tuple[list[float], float]:
    """Latencies of the worker's sends, and how long before the first due time it was ready."""
    with database(backend, folder) as url:
        times = due_times(args.count, args.lead, args.interval)
        seed(url, times)
        mark = sink.count()
        log_path = folder / f"worker-{backend}.log"
        env = worker_env(url, FOLLOWUP_TICK="60s", FOLLOWUP_LOG_LEVEL="INFO", **sink.env())
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "service", "worker"],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                ready = wait_for(lambda: "worker started" in log_path.read_text(), 30, 0.01)
                ready_at = time.time()
                end = times[-1].timestamp() + 10
                wait_for(
                    lambda: sink.count() - mark >= args.count or worker.poll() is not None,
                    max(0.0, end - time.time()),
                    0.05,
                )
                time.sleep(0.5)  # a duplicate would arrive now
            finally:
                code = stop_process(worker)
        output = log_path.read_text()
        if not ready or code != 0 or "worker stopped" not in output:
            tail = "\n".join(output.splitlines()[-15:])
            raise CorrectnessError(f"worker ({backend}) exit code {code}; its log ends:\n{tail}")
        db = Database(url)
        try:
            with db.transaction() as session:
                rows = session.execute(
                    select(FollowUp.message_id, FollowUp.due_at, FollowUp.status)
                ).all()
        finally:
            db.dispose()
    unsent = [status for _, _, status in rows if status != Status.SENT]
    if unsent:
        raise CorrectnessError(f"worker ({backend}): {len(unsent)} follow-ups not sent: {unsent}")
    due_by_mid = {mid: due.timestamp() for mid, due, _ in rows}
    found = latencies(sink.records(mark), due_by_mid, args.count, f"worker ({backend})")
    return found, times[0].timestamp() - ready_at


def summarise(name: str, values: list[float], goals: bool) -> list[str]:
    p50, p90, p99 = (percentile(values, p) for p in (50, 90, 99))
    verdict = ""
    if goals:
        met = p50 <= GOAL_P50 and p99 <= GOAL_P99
        verdict = "goal met" if met else "goal missed"
    ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731
    return [name, str(len(values)), ms(min(values)), ms(p50), ms(p90), ms(p99), ms(max(values)),
            verdict]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Due-to-accepted latency of an idle `python -m service worker` (tick 60s), "
        "against a sleep-until-due + raw smtplib loop, both to a loopback aiosmtpd sink.",
    )
    parser.add_argument("--count", type=int, default=40, help="follow-ups (default 40)")
    parser.add_argument(
        "--interval", type=float, default=0.5, help="seconds between due times (default 0.5)"
    )
    parser.add_argument(
        "--lead", type=float, default=3.0, help="seconds from seeding to the first due time"
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both", help="default both"
    )
    parser.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_child:
        return baseline_child()
    if not (1 <= args.count <= 1000 and 0.05 <= args.interval <= 10 and 1 <= args.lead <= 60):
        parser.error("use 1..1000 follow-ups, an interval of 0.05..10 s and a lead of 1..60 s")
    if args.count * args.interval > 300:
        parser.error("--count x --interval must stay under 300 s")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]

    print(
        f"latency benchmark: {args.count} follow-ups, one every {args.interval} s from "
        f"{args.lead} s after seeding; {machine()}; load average {loadavg()}",
        flush=True,
    )
    rows = [["run", "n", "min ms", "p50 ms", "p90 ms", "p99 ms", "max ms", "goal p50<=50 p99<=500"]]
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        folder = Path(tmp)
        sink = SinkProcess(folder)
        try:
            rows.append(summarise("baseline: sleep + smtplib", run_baseline(sink, args), False))
            print("baseline done", flush=True)
            for backend in backends:
                found, spare = run_worker(sink, backend, folder, args)
                rows.append(summarise(f"worker ({backend})", found, True))
                print(
                    f"worker ({backend}) done; it was ready {spare:.2f} s before the first "
                    "due time",
                    flush=True,
                )
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
        finally:
            sink.stop()
    print(f"\nload average at the end: {loadavg()}")
    print(table(rows))
    print(
        "\nlatency = arrival of the message data at the sink - due_at; every message was "
        "checked to arrive exactly once"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
