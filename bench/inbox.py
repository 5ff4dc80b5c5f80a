"""The inbox: a first check of a 10,000-message mailbox, and a quiet check, against local Dovecot.

A real Dovecot (tests/imapserver.py: unprivileged, 127.0.0.1, TLS with a private CA) gets one
account holding --messages messages, delivered by IMAP APPEND (not timed): mostly mail that
concerns no interview (personal mail from many domains, bulk newsletters), and, spread through
it, replies in the thread of a sent follow-up, out-of-office answers from contacts (with a return
date) and RFC 3464 bounces of sent follow-ups. The database (fresh, per backend) holds --interviews
active interviews with two contacts each; one follow-up of each is `sent` (with a Message-ID the
mailbox refers to), the other `planned`.

Timed, per backend: `check_inbox(settings, db, now)` end to end (connect, TLS, login, SEARCH,
FETCH BODY.PEEK[], parse, classify, match, act, commit, cursor), the first time (all messages
new) and then --quiet times with nothing new, two ways: a new connection each time (what
`followup inbox check` does) and the worker's own look before each pass (`InboxWatch.check`:
`check_inbox` on the connection it keeps between ticks, then the Sent-folder look-up of uncertain
follow-ups). Baselines in the same run: imapclient alone fetching every message (the same SEARCH
and FETCH, no processing), and imapclient alone doing what a quiet check does on the wire
(connect, TLS, login, EXAMINE, logout; or EXAMINE alone on an open connection).

Checked: the first check read every message and acted on exactly the seeded replies,
auto-replies and bounces; a second check reads nothing; no message was marked \\Seen. Otherwise
it prints FAILED and exits 1. A missed goal is reported, never an error.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import PG_ADMIN, REPO, database, loadavg, machine, seed, table

sys.path.insert(0, str(REPO / "tests"))

from imapserver import PASSWORD, Dovecot  # noqa: E402
from sqlalchemy import update  # noqa: E402

from service.config import load_settings  # noqa: E402
from service.db import Database  # noqa: E402
from service.inbox.check import check_inbox  # noqa: E402
from service.inbox.reader import FETCH_CHUNK, tls_context  # noqa: E402
from service.inbox.watch import InboxWatch  # noqa: E402
from service.models import FollowUp  # noqa: E402

GOAL_RATE = 1000  # messages per second, first check
GOAL_QUIET_MS = 20


def message_id(n: int) -> str:
    return f"<bench-{n}@candidate.example>"


def personal(i: int, rng: random.Random) -> bytes:
    words = " ".join(rng.choice(["lunch", "weekend", "photos", "invoice", "meeting", "kids",
                                 "garden", "train", "concert", "recipe"]) for _ in range(300))  # fmt: skip
    return (
        f"From: Friend {i} <friend{i}@mail{i % 97}.example>\r\nTo: ada@candidate.example\r\n"
        f"Subject: About the {words[:20]}\r\nDate: Wed, 2 Sep 2026 10:00:00 +0000\r\n"
        f"Message-ID: <personal-{i}@mail{i % 97}.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\nHi Ada,\r\n\r\n{words}\r\n"
    ).encode()


def newsletter(i: int) -> bytes:
    return (
        f"From: Digest <digest@news.example>\r\nTo: ada@candidate.example\r\n"
        f"Subject: Issue {i}: ten tips\r\nDate: Wed, 2 Sep 2026 10:00:00 +0000\r\n"
        f"Message-ID: <news-{i}@news.example>\r\nPrecedence: bulk\r\nList-Id: news.example\r\n"
        f"Content-Type: text/plain\r\n\r\n{'Tip. ' * 400}\r\n"
    ).encode()


def reply(followup_id: int) -> bytes:
    return (
        f"From: Sam Hill <sam@recruiters.example>\r\nTo: ada@candidate.example\r\n"
        f"Subject: Re: Thank you\r\nDate: Thu, 3 Sep 2026 09:00:00 +0000\r\n"
        f"Message-ID: <reply-{followup_id}@recruiters.example>\r\n"
        f"In-Reply-To: {message_id(followup_id)}\r\nReferences: {message_id(followup_id)}\r\n"
        f"Content-Type: text/plain\r\n\r\nHi Ada, could we schedule a call next week?\r\n"
    ).encode()


def out_of_office(followup_id: int) -> bytes:
    return (
        f"From: Person {followup_id} <p{followup_id}@acme.example>\r\nTo: ada@candidate.example\r\n"
        f"Subject: Automatic reply: Thank you\r\nDate: Wed, 2 Sep 2026 09:00:00 +0000\r\n"
        f"Message-ID: <ooo-{followup_id}@acme.example>\r\nAuto-Submitted: auto-replied\r\n"
        f"In-Reply-To: {message_id(followup_id)}\r\nContent-Type: text/plain\r\n\r\n"
        f"I am out of the office and will be back on Monday, 21 September.\r\n"
    ).encode()


def bounce(followup_id: int) -> bytes:
    b = "BOUNDARY-1"
    return (
        f"From: MAILER-DAEMON@mx.candidate.example (Mail Delivery System)\r\n"
        f"To: ada@candidate.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: Wed, 2 Sep 2026 09:00:00 +0000\r\nMessage-ID: <dsn-{followup_id}@mx.example>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; "
        f'boundary="{b}"\r\n\r\n--{b}\r\nContent-Type: text/plain\r\n\r\n'
        f"This is the mail system at host mx.candidate.example.\r\n\r\n--{b}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.candidate.example"
        f"\r\n\r\nFinal-Recipient: rfc822; p{followup_id}@acme.example\r\nAction: failed\r\n"
        f"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n--{b}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\nFrom: Ada <ada@candidate.example>\r\n"
        f"Message-ID: {message_id(followup_id)}\r\n\r\n--{b}--\r\n"
    ).encode()


def mailbox(total: int, sent_ids: list[int], rng: random.Random) -> tuple[list[bytes], int]:
    """The messages, shuffled, and how many of them concern an interview."""
    replies, ooo, bounces = sent_ids[:300], sent_ids[300:450], sent_ids[450:600]
    relevant = [reply(i) for i in replies] + [out_of_office(i) for i in ooo]
    relevant += [bounce(i) for i in bounces]
    rest = total - len(relevant)
    noise = [newsletter(i) if i % 15 == 0 else personal(i, rng) for i in range(rest)]
    messages = relevant + noise
    rng.shuffle(messages)
    return messages, len(relevant)


def fill(server: Dovecot, user: str, messages: list[bytes]) -> None:
    client = server.client(user)
    try:
        for start in range(0, len(messages), 500):
            client.multiappend("INBOX", messages[start : start + 500])
    finally:
        client.logout()


def raw_fetch(server: Dovecot, user: str, now: datetime) -> tuple[float, int]:
    """imapclient alone: what a first check does on the wire, without processing."""
    import imapclient

    started = time.perf_counter()
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=True,
                                   ssl_context=tls_context(server.ca_file))  # fmt: skip
    client.login(user, PASSWORD)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["SINCE", (now - timedelta(days=30)).date()]))
    count = 0
    for start in range(0, len(uids), FETCH_CHUNK):
        count += len(client.fetch(uids[start : start + FETCH_CHUNK], ["BODY.PEEK[]"]))
    client.logout()
    return time.perf_counter() - started, count


def raw_quiet(server: Dovecot, user: str) -> float:
    """imapclient alone: connect, TLS, login, EXAMINE, logout."""
    import imapclient

    started = time.perf_counter()
    client = imapclient.IMAPClient("127.0.0.1", port=server.port, ssl=True,
                                   ssl_context=tls_context(server.ca_file))  # fmt: skip
    client.login(user, PASSWORD)
    client.select_folder("INBOX", readonly=True)
    client.logout()
    return time.perf_counter() - started


def raw_examine(client) -> float:
    """imapclient alone, on an open connection: EXAMINE (what a kept connection's quiet check
    does on the wire)."""
    started = time.perf_counter()
    client.select_folder("INBOX", readonly=True)
    return time.perf_counter() - started


def rss_after(code: str, env: dict[str, str]) -> float:
    """VmRSS (MB) of a fresh Python that runs code, measured at its end."""
    import os
    import subprocess

    script = code + (
        "\nimport re, pathlib\nprint(re.search(r'VmRSS:\\s+(\\d+)', "
        "pathlib.Path('/proc/self/status').read_text()).group(1))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[-1]
    return int(out) / 1024


WORKER_IMPORTS = (
    "import service.worker\nfrom pathlib import Path\nfrom service.config import load_settings\n"
    "from service.db import Database, require_migrated\n"
    "require_migrated(Database(load_settings(Path('.')).database_url))\n"
)
INBOX_PASS = (
    "import service.worker\nfrom datetime import UTC, datetime\nfrom pathlib import Path\n"
    "from service.config import load_settings\nfrom service.db import Database\n"
    "from service.inbox.watch import InboxWatch\n"
    "s = load_settings(Path('.'))\ndb = Database(s.database_url)\n"
    "w = InboxWatch(s, db, 'bench')\n"
    "for _ in range(3): assert w.check(datetime.now(UTC)) is not None, w.error\n"
)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def p90(ordered: list[float]) -> str:
    return ms(ordered[max(0, int(len(ordered) * 0.9) - 1)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--interviews", type=int, default=1000)
    parser.add_argument("--quiet", type=int, default=30, help="quiet checks to time")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of a cProfile")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    rng = random.Random(10)
    now = datetime.now(UTC)
    print(f"inbox benchmark: {args.messages} messages; {machine()}; load average {loadavg()}")
    if "postgres" in backends:
        print(f"postgres server: {PG_ADMIN.rsplit('/', 1)[0]}")

    sent_ids = list(range(1, 2 * args.interviews + 1, 2))  # the first contact's follow-up
    messages, relevant = mailbox(args.messages, sent_ids, rng)
    size = sum(len(m) for m in messages) / len(messages)
    server = Dovecot().start()
    failures: list[str] = []
    memory: list[tuple[str, float, float]] = []
    rows = [["run", "messages", "seconds", "msgs/s", "quiet p50 ms", "quiet p90 ms",
             "kept p50 ms", "kept p90 ms", "goal"]]  # fmt: skip
    try:
        user = server.new_user()
        started = time.perf_counter()
        fill(server, user, messages)
        print(f"mailbox filled by APPEND in {time.perf_counter() - started:.1f} s "
              f"({len(messages)} messages, {relevant} concern an interview, "
              f"{size:.0f} bytes on average)")  # fmt: skip

        raw = [raw_fetch(server, user, now) for _ in range(2)]
        raw_s = statistics.median(r[0] for r in raw)
        quiet_raw = sorted(raw_quiet(server, user) for _ in range(args.quiet))
        client = server.client(user)
        kept_raw = sorted(raw_examine(client) for _ in range(args.quiet))
        client.logout()
        rows.append(["baseline: imapclient alone", str(raw[0][1]), f"{raw_s:.2f}",
                     f"{raw[0][1] / raw_s:.0f}", ms(statistics.median(quiet_raw)), p90(quiet_raw),
                     ms(statistics.median(kept_raw)), p90(kept_raw), ""])  # fmt: skip

        for backend in backends:
            with tempfile.TemporaryDirectory() as folder, database(backend, Path(folder)) as url:
                env = {
                    "FOLLOWUP_DATABASE_URL": url,
                    "FOLLOWUP_FROM": "Ada Candidate <ada@candidate.example>",
                    "FOLLOWUP_TIMEZONE": "UTC",
                    "FOLLOWUP_IMAP_HOST": "127.0.0.1",
                    "FOLLOWUP_IMAP_PORT": str(server.port),
                    "FOLLOWUP_IMAP_USERNAME": user,
                    "FOLLOWUP_IMAP_PASSWORD": PASSWORD,
                    "FOLLOWUP_SMTP_CA_FILE": str(server.ca_file),
                }
                settings = load_settings(Path(folder), env)
                imap = settings.imap
                seed(url, [now + timedelta(days=3)] * (2 * args.interviews))
                db = Database(url)
                with db.transaction() as session:
                    for fid in sent_ids:
                        session.execute(
                            update(FollowUp).where(FollowUp.id == fid).values(
                                status="sent", message_id=message_id(fid), sent_at=now)
                        )  # fmt: skip
                profiler = None
                if args.profile:
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                started = time.perf_counter()
                report = check_inbox(settings, db, now, imap=imap)
                first = time.perf_counter() - started
                if profiler is not None:
                    import pstats

                    profiler.disable()
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
                if report.total != len(messages):
                    failures.append(f"{backend}: read {report.total}, not {len(messages)}")
                if len(report.acted) != relevant:
                    failures.append(f"{backend}: acted on {len(report.acted)}, not {relevant}")
                quiet = []
                for _ in range(args.quiet):
                    started = time.perf_counter()
                    again = check_inbox(settings, db, now, imap=imap)
                    quiet.append(time.perf_counter() - started)
                    if again.total:
                        failures.append(f"{backend}: a quiet check read {again.total}")
                quiet.sort()
                watch = InboxWatch(settings, db, "bench-worker")  # the worker's, as it keeps it
                kept = []
                watch.check(now)  # connects
                for _ in range(args.quiet):
                    started = time.perf_counter()
                    again = watch.check(now)
                    kept.append(time.perf_counter() - started)
                    if again is None:
                        failures.append(f"{backend}: the worker's check failed: {watch.error}")
                        break
                    if again.total:
                        failures.append(f"{backend}: a quiet check read {again.total}")
                watch.close()
                kept.sort()
                memory.append((backend, rss_after(WORKER_IMPORTS, env), rss_after(INBOX_PASS, env)))
                rate = len(messages) / first
                p50 = statistics.median(kept)
                met = rate >= GOAL_RATE and p50 * 1000 <= GOAL_QUIET_MS
                rows.append([f"followup check_inbox ({backend})", str(report.total),
                             f"{first:.2f}", f"{rate:.0f}", ms(statistics.median(quiet)),
                             p90(quiet), ms(p50), p90(kept),
                             "goal met" if met else "goal missed"])  # fmt: skip
                db.dispose()
        seen = [uid for uid, (flags, _) in server.messages(user).items() if b"\\Seen" in flags]
        if seen:
            failures.append(f"{len(seen)} messages were marked \\Seen")
    finally:
        server.stop()

    print(f"\nload average at the end: {loadavg()}")
    print(table(rows))
    print(
        f"\ngoals: first check >= {GOAL_RATE} msgs/s end to end, quiet check <= "
        f"{GOAL_QUIET_MS} ms (p50, kept connection, as the worker keeps it between ticks)"
    )
    print("quiet: a new connection each check (connect, TLS, login, EXAMINE, logout, as "
          "`followup inbox check` does); kept: the worker's look before each pass (InboxWatch: "
          "EXAMINE on the connection it keeps, cursor lookup, the Sent-copy queue, uncertain "
          "follow-ups to look up)")  # fmt: skip
    for backend, worker, inbox in memory:
        print(
            f"memory ({backend}): python + import service.worker + one query {worker:.1f} MB; "
            f"+ three quiet inbox checks on a kept connection {inbox:.1f} MB (+{inbox - worker:.1f})"
        )
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("checked: every message read once, exactly the seeded replies, auto-replies and "
          "bounces acted on, a second check reads nothing, nothing marked \\Seen")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
