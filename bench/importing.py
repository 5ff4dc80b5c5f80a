"""Import at scale: `followup import interviews.csv` of 10,000 interviews, validated, stored and
planned, on SQLite and Postgres.

A CSV of --rows interviews (two interviewers each, each with a topic; a question on every
third, a decision date on every fifth) is written to a temporary folder; `followup import` runs
as a subprocess against a fresh, migrated database, timed from start to exit (start-up
included), with its peak RSS (GNU time). Follow-ups planned and stored per second is the
figure of issue 12 (goal >= 10,000 on SQLite; Postgres reported). To show that memory stays
flat as the file grows, the smaller --rows-small file is imported too. The interviews start
100 to 127 days from the run, so every step of the plan is still ahead. The rows the database
holds afterwards are counted and compared with what the file asked for (interviews, two
contacts each) and with the follow-ups the import's JSON report says it planned.
Exits 1 only when an import fails or stores the wrong number of rows, never for a missed goal.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from _common import database, followup_command, loadavg, machine, run_measured, table, worker_env
from _names import FIRST, LAST
from sqlalchemy import func, select

from service.db import Database
from service.models import Contact, FollowUp, Interview

GOAL = 10_000


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["company", "role", "at", "tz", "duration", "contacts", "questions",
                      "decision_date"])  # fmt: skip
        start = date.today() + timedelta(days=100)
        for n in range(rows):
            day = start + timedelta(days=n % 28)
            a, b = n % 10, (n // 10) % 10
            contacts = (
                f"{FIRST[a]} {LAST[b]} <p{n}a@company{n}.example> | Engineering Manager | "
                f"| topic=the roadmap; {FIRST[b]} {LAST[a]} <p{n}b@company{n}.example> | "
                "Staff Engineer | | topic=on-call"
            )
            out.writerow([
                f"Company {n}", "Staff Engineer", f"{day} 10:00", "Europe/Berlin",
                "45m", contacts, "How is on-call organised?" if n % 3 == 0 else "",
                f"{day + timedelta(days=31)}" if n % 5 == 0 else "",
            ])  # fmt: skip


def run(backend: str, rows: int, folder: Path) -> dict:
    path = folder / f"interviews-{rows}.csv"
    if not path.exists():
        write_csv(path, rows)
    with database(backend, folder) as url:
        env = worker_env(url)
        with open(folder / "out.json", "wb") as out, open(folder / "err.txt", "wb") as err:
            measured = run_measured(
                [*followup_command(), "import", "--json", str(path)], env, folder, out, err,
                rss=True,
            )  # fmt: skip
        if measured.returncode != 0:
            sys.exit(f"FAILED: import of {rows} rows exited {measured.returncode}: "
                     + (folder / "err.txt").read_text()[-2000:])  # fmt: skip
        db = Database(url)
        with db.transaction() as session:
            interviews = session.scalar(select(func.count()).select_from(Interview))
            contacts = session.scalar(select(func.count()).select_from(Contact))
            followups = session.scalar(select(func.count()).select_from(FollowUp))
        db.dispose()
        reported = json.loads((folder / "out.json").read_text())["interviews"]
    planned = sum(len(r["planned"]) for r in reported)
    added = sum(r["action"] == "added" for r in reported)
    if interviews != rows or added != rows or contacts != 2 * rows:
        sys.exit(
            f"FAILED: {interviews} interviews ({added} reported added) and {contacts} contacts "
            f"stored, expected {rows} and {2 * rows}"
        )
    if followups != planned or not planned:
        sys.exit(f"FAILED: {followups} follow-ups stored, the import reported {planned} planned")
    return {
        "rows": rows,
        "followups": followups,
        "seconds": measured.wall,
        "cpu": measured.cpu,
        "mb": measured.max_rss_mb,
        "rate": followups / measured.wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rows-small", type=int, default=2_500)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(f"import benchmark: {machine()}; load average {loadavg()}")
    lines = [
        ["backend", "rows", "follow-ups", "wall s", "CPU s", "peak MB", "follow-ups/s", "goal"]
    ]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in backends:
            for rows in (args.rows_small, args.rows):
                r = run(backend, rows, folder)
                goal = ("met" if r["rate"] >= GOAL else "missed") if backend == "sqlite" else "-"
                lines.append([backend, str(rows), str(r["followups"]), f"{r['seconds']:.2f}",
                              f"{r['cpu']:.2f}", f"{r['mb']:.0f}", f"{r['rate']:,.0f}", goal])  # fmt: skip
    print(table(lines))
    print(f"load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
