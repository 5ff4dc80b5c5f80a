"""Listings at scale: time and peak memory of `followup schedule/interview list/queue --json`.

For each backend (a temporary SQLite file, a throwaway Postgres database) and each size in
--sizes (default 25,000 and 100,000 follow-ups), a realistic history is bulk-inserted (Core
executemany): one interview per 4 follow-ups (25,000 at 100k) spread from two years ago to two
weeks ahead, 2 or 3 contacts each, a thank-you per contact, a status check and, for every other
interview, a call reminder to the user; past follow-ups are mostly sent (with subject, text and
Message-ID), some cancelled, expired, failed, rejected or uncertain; upcoming ones planned,
waiting for review (rendered text), approved or deferred. The event log is not seeded (no
listing reads it).

Each command runs --runs times as a subprocess (the project's `followup` script, stdout to a
file), timed from start to exit, with its peak RSS from GNU time (see _common.run_measured).
Its JSON is parsed and its rows counted against what was seeded. The --limit/--status/--since
variants (--limit 50; --status sent, or active for interviews; --since the day 30 days back)
run only if the command's --help offers them, and their rows are counted too. Goals at 100k
(issue 9): <= 1 s and <= 120 MB each; memory flat as rows grow. Exits 1 only when a command
fails or lists the wrong rows, never for a missed goal.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    database,
    followup_command,
    insert_rows,
    loadavg,
    machine,
    run_measured,
    table,
    worker_env,
)

GOAL_S, GOAL_MB = 1.0, 120.0
COMMANDS = {
    "schedule --all --json": ["schedule", "--all", "--json"],
    "schedule --json": ["schedule", "--json"],
    "interview list --json": ["interview", "list", "--json"],
    "queue --json": ["queue", "--json"],
}
#: Filters a user would want, per listing: tried only if the command's --help offers them.
SINCE = "SINCE"  # replaced by the date 30 days before the run
VARIANTS = {
    "schedule --all": [("--limit", "50"), ("--status", "sent"), ("--since", SINCE)],
    "schedule": [("--limit", "50"), ("--since", SINCE)],
    "interview list": [("--limit", "50"), ("--status", "active"), ("--since", SINCE)],
    "queue": [("--limit", "50")],
}
PAST = ["sent"] * 86 + ["cancelled"] * 6 + ["expired"] * 4 + ["failed"] * 2 + ["rejected"]
PAST += ["uncertain"]
UPCOMING = ["planned"] * 12 + ["pending_review"] * 5 + ["approved"] * 2 + ["deferred"]
BODY = (
    "Dear {first},\n\nThank you for taking the time to speak with me on Tuesday about the Staff "
    "Engineer role at Company {iid}. I especially enjoyed our conversation about the move to "
    "event sourcing.\n\nOur conversation confirmed my interest in the position. If there is "
    "anything else I can provide, please let me know.\n\nBest regards,\nAda Candidate\n"
)


class CorrectnessError(Exception):
    pass


def history(n: int, now: datetime) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows for interviews, contacts and exactly n follow-ups (see the module docstring)."""
    interviews, contacts, followups = [], [], []
    span, first = timedelta(days=744), now - timedelta(days=730)
    count = max(1, n // 4)
    iid = 0
    while len(followups) < n:
        iid += 1
        starts = first + span * (iid - 1) / count
        cids = []
        for pos in range(2 + iid % 2):
            cid = len(contacts) + 1
            cids.append(cid)
            contacts.append(
                {
                    "id": cid,
                    "interview_id": iid,
                    "position": pos,
                    "name": f"Person{cid} Last{cid}",
                    "email": f"person{cid}@company{iid}.example",
                    "title": "Engineering Manager" if pos == 0 else "",
                    "phone": "",
                    "removed": False,
                }
            )
        steps = [("thank_you", cid, 1, 3) for cid in cids] + [("status_check", cids[0], 7, None)]
        if iid % 2 == 0:
            steps.append(("call_reminder", None, 7, None))
        closed = starts + timedelta(days=14) < now
        outcome = ("offer", "rejected", "rejected", "withdrawn", "active")[iid % 5]
        interviews.append(
            {
                "id": iid,
                "company": f"Company {iid}",
                "role": "Staff Engineer",
                "starts_at": starts,
                "duration_minutes": 45,
                "timezone": "America/New_York",
                "location": "video",
                "notes": "the move to event sourcing",
                "questions": ["How is on-call organised?"] if iid % 3 == 0 else [],
                "decision_date": None,
                "status": outcome if closed else "active",
                "created_at": starts - timedelta(days=1),
                "updated_at": starts,
                "closed_at": starts + timedelta(days=14)
                if closed and outcome != "active"
                else None,
            }
        )
        for step, cid, days, expire in steps:
            fid = len(followups) + 1
            due = starts + timedelta(days=days)
            pool = PAST if due < now - timedelta(hours=1) else UPCOMING
            status = pool[(fid * 7919) % len(pool)]
            rendered = status not in ("planned", "cancelled", "expired")
            first_name = f"Person{cid}" if cid else "Ada"
            followups.append(
                {
                    "id": fid,
                    "interview_id": iid,
                    "contact_id": cid,
                    "recipient_key": f"contact:{cid}" if cid else "me",
                    "step": step,
                    "template": step,
                    "due_at": due,
                    "status": status,
                    "expires_at": due + timedelta(days=expire) if expire else None,
                    "attempts": {"sent": 1, "failed": 3, "uncertain": 1, "deferred": 1}.get(
                        status, 0
                    ),
                    "retry_at": now + timedelta(minutes=10) if status == "deferred" else None,
                    "sent_at": due + timedelta(seconds=3) if status == "sent" else None,
                    "created_at": starts,
                    "updated_at": due if pool is PAST else starts,
                    "message_id": f"<{fid}.bench@candidate.example>" if status == "sent" else None,
                    "subject": f"Thank you for the Staff Engineer interview ({step})"
                    if rendered
                    else None,
                    "body_text": BODY.format(first=first_name, iid=iid) if rendered else None,
                    "content_hash": f"{fid:064x}" if rendered else None,
                    "approved_hash": f"{fid:064x}" if status in ("approved", "sent") else None,
                    "queued_at": due - timedelta(days=1) if status == "pending_review" else None,
                    "server_reply": "250 2.0.0 Ok: queued" if status == "sent" else None,
                    "last_error": "550 5.1.1 mailbox unavailable" if status == "failed" else None,
                }
            )
            if len(followups) == n:
                break
    return interviews, contacts, followups


def seed_history(
    url: str, n: int, now: datetime, chunk: int = 10_000
) -> tuple[list[dict], list[dict]]:
    """Insert the history; returns its interviews and follow-ups (to count what each listing
    should show)."""
    interviews, contacts, followups = history(n, now)
    insert_rows(url, interviews, contacts, followups, chunk)
    return interviews, followups


UPCOMING_STATUSES = {"planned", "pending_review", "approved", "deferred", "sending", "uncertain"}


def expected_rows(
    name: str, interviews: list[dict], followups: list[dict], since: datetime
) -> int | None:
    """How many rows a listing (with its filter, if any) must print; None: not known."""
    base = {
        "schedule --all --json": followups,
        "schedule --json": [f for f in followups if f["status"] in UPCOMING_STATUSES],
        "interview list --json": interviews,
        "queue --json": [f for f in followups if f["status"] == "pending_review"],
    }
    command = next(c for c in base if name.startswith(c))
    rows, option = base[command], name[len(command) :].split()
    if not option:
        return len(rows)
    flag, value = option
    if flag == "--limit":
        return min(int(value), len(rows))
    if flag == "--status":
        return sum(r["status"] == value for r in rows)
    if flag == "--since" and command.startswith("schedule"):  # due at or after that day (UTC)
        return sum(r["due_at"] >= since for r in rows)
    return None


def since_day(now: datetime) -> datetime:
    """The --since day of the variants: 30 days before the run, from its start (UTC)."""
    return (now - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)


def commands_to_run(env: dict[str, str], now: datetime) -> tuple[dict[str, list[str]], list[str]]:
    """The four listings, plus each --limit/--status/--since variant that --help offers; and
    the variants it does not offer."""
    found, missing = dict(COMMANDS), []
    for name, args in COMMANDS.items():
        base = [a for a in args if a != "--json"]
        helptext = subprocess.run(
            followup_command() + base + ["--help"], env=env, capture_output=True, text=True
        ).stdout
        for option, value in VARIANTS[" ".join(base)]:
            if option in helptext:
                value = since_day(now).strftime("%Y-%m-%d") if value == SINCE else value
                found[f"{name} {option} {value}"] = args + [option, value]
            else:
                missing.append(f"{' '.join(base)} {option}")
    return found, missing


def count_rows(path: Path) -> int:
    """Rows in a JSON array, or in JSON lines."""
    data = path.read_text(encoding="utf-8")
    try:
        parsed = json.loads(data)
        return len(parsed) if isinstance(parsed, list) else 1
    except json.JSONDecodeError:
        return sum(1 for line in data.splitlines() if line.strip() and json.loads(line) is not None)


def measure(name: str, args: list[str], env, folder: Path, runs: int) -> dict:
    walls, cpus, rss, out = [], [], [], folder / "out.json"
    for _ in range(runs):
        with out.open("wb") as stdout, (folder / "stderr.log").open("wb") as stderr:
            m = run_measured(followup_command() + args, env, folder, stdout, stderr, rss=True)
        if m.returncode != 0:
            said = (folder / "stderr.log").read_text(errors="replace").strip().splitlines()
            return {"error": f"exit {m.returncode}: {said[-1] if said else ''}"}
        walls.append(m.wall)
        cpus.append(m.cpu)
        rss.append(m.max_rss_mb)
    return {
        "walls": walls,
        "cpu": statistics.median(cpus),
        "rss": max(rss),
        "rows": count_rows(out),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,100000", help="follow-ups, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="runs of each command (default 3)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"listing benchmark: sizes {sizes}, {machine()}; load average {loadavg()}", flush=True)
    results: dict[tuple[str, str, int], dict] = {}
    not_offered: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="followup-listing-") as tmp:
        folder = Path(tmp)
        for backend in backends:
            for n in sizes:
                with database(backend, folder) as url:
                    now = datetime.now(UTC)
                    t0 = time.perf_counter()
                    interviews, followups = seed_history(url, n, now)
                    print(
                        f"{backend}: seeded {n} follow-ups ({len(interviews)} "
                        f"interviews) in {time.perf_counter() - t0:.1f} s",
                        flush=True,
                    )
                    env = worker_env(url)
                    found, missing = commands_to_run(env, now)
                    not_offered.update(missing)
                    for name, cmd in found.items():
                        r = measure(name, cmd, env, folder, args.runs)
                        results[(name, backend, n)] = r
                        want = expected_rows(name, interviews, followups, since_day(now))
                        if "error" in r:
                            print(f"FAILED: {name} ({backend}, {n}): {r['error']}", file=sys.stderr)
                            return 1
                        if want is not None and r.get("rows") != want:
                            print(
                                f"FAILED: {name} ({backend}, {n}) listed {r.get('rows')} rows, "
                                f"the database has {want}",
                                file=sys.stderr,
                            )
                            return 1
    top = max(sizes)
    rows = [
        ["command", "backend", "follow-ups", "rows out", "wall s", "CPU s", "peak RSS MB", "goal"]
    ]
    for (name, backend, n), r in results.items():
        if "error" in r:
            rows.append([name, backend, str(n), "-", "-", "-", "-", r["error"][:60]])
            continue
        wall = statistics.median(r["walls"])
        goal = ""
        if n == top:
            met = wall <= GOAL_S and r["rss"] <= GOAL_MB
            goal = "goal met" if met else "goal missed"
        rows.append(
            [
                name,
                backend,
                str(n),
                str(r["rows"]),
                f"{wall:.2f} ({min(r['walls']):.2f}-{max(r['walls']):.2f})",
                f"{r['cpu']:.2f}",
                f"{r['rss']:.0f}",
                goal,
            ]
        )
    print(f"\nload average at the end: {loadavg()}")
    print(table(rows))
    if not_offered:
        print(f"filters not offered by --help, so not measured: {', '.join(sorted(not_offered))}")
    if len(sizes) > 1:
        low = min(sizes)
        print(f"\nmemory as rows grow ({low} -> {top} follow-ups): peak RSS, and its growth")
        for (name, backend, n), r in results.items():
            small = results.get((name, backend, low), {})
            if n == top and "rss" in r and "rss" in small:
                print(
                    f"  {name} ({backend}): {small['rss']:.0f} -> {r['rss']:.0f} MB "
                    f"(+{r['rss'] - small['rss']:.0f} MB, "
                    f"{'flat' if r['rss'] - small['rss'] <= 10 else 'grows with the rows'})"
                )
    print(
        f"\nwall: median (min-max) of {args.runs} runs, each a subprocess from start to exit, "
        f"stdout to a file; CPU: its median (user + system); peak RSS: the largest of the runs (GNU time %M); goals at {top}: "
        f"<= {GOAL_S:g} s and <= {GOAL_MB:g} MB; 'flat' = at most 10 MB more"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
