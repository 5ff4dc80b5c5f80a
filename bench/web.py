"""The web app under load: the review queue page with 1,000 pending follow-ups, and the JSON API
listing 10,000 follow-ups in one page.

    .venv/bin/python bench/web.py [--backend sqlite|postgres|both] [--runs 30]

For each backend a fresh database is bulk-seeded (SQLAlchemy Core): --pending follow-ups waiting
for review (rendered subject and text, two interviewers an interview, realistic names), plus
enough sent ones to make --listed follow-ups in all. The real `followup serve` runs as a
subprocess on a free loopback port; httpx logs in once and times --runs requests of each kind,
from sending the request to the last byte (so loopback transfer is included: the server's own
time is at most this). Goals (issue 11): median <= 150 ms for the queue page, <= 500 ms for the
API list. Exits 1 only if a response is wrong (not 200, or the wrong number of items).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import database, loadavg, machine, percentile, table, worker_env
from _names import FIRST, LAST
from sqlalchemy import insert, text

from service.db import Database
from service.models import Contact, FollowUp, Interview
from service.rendering import content_hash

PASSWORD = "benchmark-password"
TOKEN = "benchmark-token-0123456789abcdef"
GOALS = {"review page": 0.150, "API list": 0.500}
BODY = (
    "Dear {first},\n\nThank you for taking the time to speak with me on Tuesday about the Staff "
    "Engineer role at Company {iid}. I especially enjoyed our conversation about the move to "
    "event sourcing.\n\nOur conversation confirmed my interest in the position. If there is "
    "anything else I can provide, please let me know.\n\nBest regards,\nAda Candidate\n"
)


def seed(url: str, pending: int, listed: int) -> None:
    now = datetime.now(UTC)
    interviews, contacts, followups = [], [], []
    for n in range(listed):
        iid = n // 2 + 1
        if n % 2 == 0:
            interviews.append(
                dict(id=iid, company=f"Company {iid}", role="Staff Engineer",
                     starts_at=now - timedelta(hours=3), duration_minutes=45, timezone="UTC",
                     location="", notes="", questions=[], decision_date=None, status="active",
                     created_at=now, updated_at=now, closed_at=None)
            )  # fmt: skip
        first = FIRST[n % 10]
        contacts.append(
            dict(id=n + 1, interview_id=iid, position=n % 2, name=f"{first} {LAST[n // 10 % 10]}",
                 email=f"p{n + 1}@company{iid}.example", title="", phone="", topic="on-call",
                 greeting=None, removed=False)
        )  # fmt: skip
        waiting = n < pending
        subject = "Thank you for the Staff Engineer interview"
        body = BODY.format(first=first, iid=iid)
        followups.append(
            dict(id=n + 1, interview_id=iid, contact_id=n + 1, recipient_key=f"contact:{n + 1}",
                 step="thank_you", kind="followup", template="thank_you",
                 due_at=now + timedelta(hours=2, seconds=n) if waiting else now - timedelta(days=1, seconds=n),
                 status="pending_review" if waiting else "sent", attempts=0 if waiting else 1,
                 sent_at=None if waiting else now - timedelta(days=1), created_at=now,
                 updated_at=now, subject=subject, body_text=body,
                 content_hash=content_hash(subject, body, None),
                 queued_at=now - timedelta(hours=1) if waiting else None,
                 message_id=None if waiting else f"<bench-{n}@candidate.example>")
        )  # fmt: skip
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            for table_, rows in ((Interview.__table__, interviews),
                                 (Contact.__table__, contacts), (FollowUp.__table__, followups)):  # fmt: skip
                for start in range(0, len(rows), 5000):
                    conn.execute(insert(table_), rows[start : start + 5000])
            if not db.is_sqlite:
                for name in ("interviews", "contacts", "followups"):
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                      f"(SELECT max(id) FROM {name}))"))  # fmt: skip
        if not db.is_sqlite:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    finally:
        db.dispose()


def timed(client: httpx.Client, path: str, runs: int, check) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - start)
        if response.status_code != 200 or not check(response):
            sys.exit(f"wrong answer for {path}: {response.status_code} {response.text[:300]}")
    return times


def run(backend: str, args, folder: Path) -> list[list[str]]:
    rows = []
    with database(backend, folder) as url:
        seed(url, args.pending, args.listed)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = worker_env(url, FOLLOWUP_WEB_PASSWORD=PASSWORD, FOLLOWUP_API_TOKEN=TOKEN,
                         FOLLOWUP_LOG_LEVEL="WARNING")  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            cwd=folder, env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                for _ in range(200):
                    try:
                        if client.get("/login").status_code == 200:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                client.post("/login", data={"password": PASSWORD})
                review = timed(client, "/review", args.runs,
                               lambda r: f"Review queue ({args.pending})" in r.text)  # fmt: skip
                client.headers["Authorization"] = f"Bearer {TOKEN}"
                listing = timed(client, f"/api/v1/followups?limit={args.listed}", args.runs,
                                lambda r: len(r.json()["items"]) == args.listed)  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name, times in (("review page", review), ("API list", listing)):
        median = statistics.median(times)
        goal = GOALS[name]
        rows.append([backend, name, f"{median * 1000:.0f}", f"{percentile(times, 90) * 1000:.0f}",
                     f"{min(times) * 1000:.0f}", f"<= {goal * 1000:.0f}",
                     "goal met" if median <= goal else "goal missed"])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--pending", type=int, default=1000)
    parser.add_argument("--listed", type=int, default=10_000)
    args = parser.parse_args()
    print(machine(), "| load", loadavg())
    rows = [["backend", "request", "median ms", "p90 ms", "min ms", "goal ms", "verdict"]]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as folder:
        for backend in backends:
            rows += run(backend, args, Path(folder))
    print(table(rows))
    print("load", loadavg())


if __name__ == "__main__":
    main()
