"""Memory and CPU of an idle worker with 100,000 future follow-ups, against idle Python baselines.

The database gets --rows planned follow-ups (bulk inserts), due from one hour to 30 days from now,
so nothing becomes due while we watch. `python -m service worker` (default tick, 30 s) starts as a
subprocess, together with two baselines: `python -c "import time; time.sleep(...)"` and a Python
that only imports service.worker and sleeps. After --settle seconds, each process is watched for
--duration seconds: RSS (VmRSS sampled every second, VmHWM at the end, from /proc/PID/status) and
CPU (utime + stime from /proc/PID/stat, over the wall time of the window).

Then one idle pass (what each tick runs: `Worker.run_pass`, i.e. housekeeping, the claim that
finds nothing due and the heartbeat, then `Delivery.next_wake`, the look for the next due time)
is timed in-process on the same database, to show the CPU cost of a tick with finer resolution
than the kernel's 10 ms ticks. Only the worker process is measured: the Postgres server's own
work is not included.

Fails (exit 1) only if the worker dies, sends something, or does not stop cleanly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    PG_ADMIN,
    REPO,
    cpu_seconds,
    database,
    loadavg,
    machine,
    seed,
    stop_process,
    table,
    worker_env,
)
from sqlalchemy import func, select

from service import workers
from service.config import load_settings
from service.db import Database
from service.models import FollowUp
from service.worker import Worker

GOAL_MB, GOAL_CPU = 60.0, 0.1
#: `followup worker` loads the CLI, checks the schema with Alembic and opens the database driver.
WORKER_IMPORTS = {
    backend: "import time, service.cli, service.worker, alembic.config, alembic.script, "
    f"alembic.runtime.migration, {driver}"
    for backend, driver in (("sqlite", "sqlite3"), ("postgres", "psycopg"))
}


class CorrectnessError(Exception):
    pass


def memory_kb(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def spread(rows: int) -> list[datetime]:
    """Due times from 1 hour to 30 days from now, evenly spread."""
    start = datetime.now(UTC) + timedelta(hours=1)
    step = (timedelta(days=30) - timedelta(hours=1)) / rows
    return [start + i * step for i in range(rows)]


def pg_backends(url: str) -> list[int]:
    """PIDs of the Postgres server processes connected to the database of url (the worker's)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [pid for (pid,) in rows]


def watch(
    procs: dict[str, subprocess.Popen], duration: float, extra_cpu: dict[str, list[int]]
) -> dict[str, dict]:
    """CPU over the window and RSS sampled each second, for every process; for extra_cpu
    (groups of PIDs that are not ours, e.g. Postgres backends) only their CPU."""

    def group_cpu(pids: list[int]) -> float | None:
        try:
            return sum(cpu_seconds(pid) for pid in pids)
        except OSError:  # one went away: no figure rather than a wrong one
            return None

    start_wall = time.monotonic()
    start_cpu = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    start_extra = {name: group_cpu(pids) for name, pids in extra_cpu.items()}
    rss = {name: [] for name in procs}
    while True:
        for name, p in procs.items():
            if p.poll() is not None:
                raise CorrectnessError(f"{name} exited early with {p.returncode}")
            rss[name].append(memory_kb(p.pid)["VmRSS"])
        left = duration - (time.monotonic() - start_wall)
        if left <= 0:
            break
        time.sleep(min(1.0, left))
    wall = time.monotonic() - start_wall
    result = {}
    for name, p in procs.items():
        used = cpu_seconds(p.pid) - start_cpu[name]
        mem = memory_kb(p.pid)
        result[name] = {
            "cpu_pct": 100 * used / wall,
            "cpu_s": used,
            "rss_mb": rss[name][-1] / 1024,
            "rss_max_mb": max(rss[name]) / 1024,
            "hwm_mb": mem["VmHWM"] / 1024,
        }
    for name, pids in extra_cpu.items():
        end = group_cpu(pids)
        used = None if end is None or start_extra[name] is None else end - start_extra[name]
        result[name] = {"cpu_s": used, "cpu_pct": None if used is None else 100 * used / wall}
    return result


def idle_pass_cost(url: str, folder: Path, repeat: int = 5) -> tuple[float, float]:
    """CPU and wall seconds (median) of one idle pass, in this process."""
    environ = {
        "FOLLOWUP_DATABASE_URL": url,
        "FOLLOWUP_FROM": "Ada Candidate <ada@candidate.example>",
        "FOLLOWUP_TIMEZONE": "UTC",
    }
    settings = load_settings(workdir=folder, environ=environ)
    db = Database(url)
    try:
        worker = Worker(settings, db)  # no scheduler: run_pass arms no wake-up, so ask here
        cpu, wall = [], []
        for _ in range(repeat + 1):
            c0, w0 = time.process_time(), time.perf_counter()
            summary = worker.run_pass()
            wake = worker.delivery.next_wake(worker.clock())
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            if summary is None:
                raise CorrectnessError("an idle pass failed (see the log)")
            if summary.handled or summary.expired or summary.prepared or summary.held:
                raise CorrectnessError(f"an idle pass did something: {summary}")
            if wake is None or wake <= datetime.now(UTC):
                raise CorrectnessError(f"an idle pass found something due at {wake}")
        workers.forget(db, worker.delivery.actor)
    finally:
        db.dispose()
    return statistics.median(cpu[1:]), statistics.median(wall[1:])  # the first one warms up


def bench_backend(backend: str, args, folder: Path) -> tuple[dict, dict, dict, float, float]:
    with database(backend, folder) as url:
        t0 = time.perf_counter()
        seed(url, spread(args.rows))
        print(f"{backend}: seeded {args.rows} follow-ups in {time.perf_counter() - t0:.1f} s")
        lifetime = str(args.settle + args.duration + 30)
        base_env = {**os.environ, "PYTHONPATH": str(REPO)}
        log_path = folder / f"worker-{backend}.log"
        with log_path.open("w") as log:
            procs = {
                "worker": subprocess.Popen(
                    [sys.executable, "-m", "service", "worker"],
                    cwd=folder,
                    env=worker_env(url, FOLLOWUP_LOG_LEVEL="INFO"),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                "python sleeping": subprocess.Popen(
                    [sys.executable, "-c", f"import time; time.sleep({lifetime})"], env=base_env
                ),
                "python + import service.worker": subprocess.Popen(
                    [sys.executable, "-c", f"import service.worker, time; time.sleep({lifetime})"],
                    env=base_env,
                ),
                # Not a baseline: what the worker command imports before it does anything.
                "python + the worker command's imports": subprocess.Popen(
                    [sys.executable, "-c", f"{WORKER_IMPORTS[backend]}; time.sleep({lifetime})"],
                    env=base_env,
                ),
            }
            try:
                time.sleep(args.settle)
                print(f"{backend}: watching for {args.duration:.0f} s", flush=True)
                extra = {}
                if backend == "postgres":
                    pids = pg_backends(url)
                    extra[f"postgres backends of the worker ({len(pids)})"] = pids
                figures = watch(procs, args.duration, extra)
            finally:
                codes = {name: stop_process(p) for name, p in procs.items()}
        output = log_path.read_text()
        if codes["worker"] != 0 or "worker stopped" not in output:
            tail = "\n".join(output.splitlines()[-15:])
            raise CorrectnessError(f"worker exit code {codes['worker']}; its log ends:\n{tail}")
        db = Database(url)
        try:
            with db.transaction() as session:
                planned = session.scalar(
                    select(func.count()).select_from(FollowUp).where(FollowUp.status == "planned")
                )
        finally:
            db.dispose()
        if planned != args.rows:
            raise CorrectnessError(f"{args.rows - planned} follow-ups changed state while idle")
        cpu, wall = idle_pass_cost(url, folder)
    worker = figures.pop("worker")
    server = {k: figures.pop(k) for k in list(figures) if k.startswith("postgres backends")}
    return worker, figures, server, cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="RSS and CPU of an idle `python -m service worker` with 100,000 future "
        "follow-ups, against idle Python processes in the same run.",
    )
    parser.add_argument("--rows", type=int, default=100_000, help="follow-ups (default 100000)")
    parser.add_argument(
        "--duration", type=float, default=30, help="seconds to watch (default 30, one tick)"
    )
    parser.add_argument(
        "--settle", type=float, default=5, help="seconds after start before watching (default 5)"
    )
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both", help="default both"
    )
    args = parser.parse_args(argv)
    if not (1 <= args.rows <= 1_000_000 and 5 <= args.duration <= 600 and 1 <= args.settle <= 60):
        parser.error("use 1..1000000 rows, a duration of 5..600 s and a settle time of 1..60 s")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"idle benchmark: {args.rows} future follow-ups; {machine()}; load average {loadavg()}")

    rows = [["process", "RSS MB", "max RSS MB", "VmHWM MB", "CPU s", "CPU %", "goal <=60MB <=0.1%"]]
    passes = []
    with tempfile.TemporaryDirectory(prefix="followup-bench-") as tmp:
        try:
            for backend in backends:
                worker, baselines, server, cpu, wall = bench_backend(backend, args, Path(tmp))
                for name, f in baselines.items():
                    if name.startswith("python + the worker"):
                        rows.append(_row(f"{name} ({backend})", f, "(for comparison)"))
                    elif backend == backends[0]:
                        rows.append(_row(f"baseline: {name}", f, ""))
                met = worker["rss_max_mb"] <= GOAL_MB and worker["cpu_pct"] <= GOAL_CPU
                rows.append(
                    _row(f"worker ({backend})", worker, "goal met" if met else "goal missed")
                )
                for name, f in server.items():
                    rows.append(_row(name, f, "(not the worker's own)"))
                passes.append((backend, cpu, wall))
        except CorrectnessError as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print(f"\nload average at the end: {loadavg()}")
    print(table(rows))
    ticks = int((args.settle + args.duration) // 30 - args.settle // 30)
    print(
        f"\nwindow {args.duration:.0f} s, from {args.settle:.0f} s after the start; default tick "
        f"30 s, so the window holds {ticks} tick pass(es); CPU % is of one core"
    )
    for backend, cpu, wall in passes:
        print(
            f"one idle pass ({backend}, in-process, median of 5): {cpu * 1000:.1f} ms CPU, "
            f"{wall * 1000:.1f} ms wall -> {100 * cpu / 30:.3f}% of a core at one pass per 30 s"
        )
    return 0


def _row(name: str, f: dict, verdict: str) -> list[str]:
    mb = lambda key: f"{f[key]:.1f}" if key in f else "-"  # noqa: E731
    cpu = f["cpu_s"] is not None
    return [
        name,
        mb("rss_mb"),
        mb("rss_max_mb"),
        mb("hwm_mb"),
        f"{f['cpu_s']:.2f}" if cpu else "n/a",
        f"{f['cpu_pct']:.3f}" if cpu else "n/a",
        verdict,
    ]


if __name__ == "__main__":
    sys.exit(main())
