"""The real worker as separate processes: punctual, graceful, crash-safe, and never twice."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from processes import LogReader, message_ids, seed_due, start_worker, statuses, worker_env
from sqlalchemy import func, select, update

from service.db import Database
from service.models import FollowUp


def test_follow_up_goes_out_punctually_and_the_worker_stops_gracefully(
    tmp_path, db_url, mailserver
):
    arrivals: list[float] = []
    original = mailserver.recorder.handle_DATA

    async def timed(server, session, envelope):
        arrivals.append(time.time())
        return await original(server, session, envelope)

    mailserver.recorder.handle_DATA = timed
    due = datetime.now(UTC) + timedelta(seconds=3)
    seed_due(db_url, 1, due=due)
    # A long tick: only the one-off wake-up at the due time can make it punctual.
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="60s", FOLLOWUP_LOG_LEVEL="INFO")
    worker = start_worker(tmp_path, env)
    try:
        deadline = time.time() + 45
        while not arrivals and time.time() < deadline:
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "worker stopped" in err
    assert len(arrivals) == 1
    # Without the wake-up at the due time it would wait for the next tick, 60 s after start;
    # the bound tells the two apart on a machine of any speed or load (no wall-clock budget).
    late = arrivals[0] - due.timestamp()
    assert 0 <= late < 30, f"delivered {late:.3f}s after its due time: it waited for a tick"


def test_sigterm_finishes_the_message_in_flight_and_releases_the_rest(tmp_path, db_url, mailserver):
    original = mailserver.recorder.handle_DATA

    async def slow(server, session, envelope):
        import asyncio

        await asyncio.sleep(0.02)
        return await original(server, session, envelope)

    mailserver.recorder.handle_DATA = slow
    seed_due(db_url, 300)
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_BATCH_SIZE="20")
    worker = start_worker(tmp_path, env)
    deadline = time.time() + 20
    while len(mailserver.received) < 10 and time.time() < deadline:
        time.sleep(0.01)
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=20)
    assert worker.returncode == 0
    counts = statuses(db_url)
    assert counts["sending"] == 0 and counts["uncertain"] == 0
    assert counts["sent"] == len(mailserver.received)
    assert counts["planned"] == 300 - counts["sent"] > 0


def _assert_each_sent_exactly_once_or_flagged(db_url, received_ids: list[str], total: int):
    at_server = Counter(received_ids)
    assert max(at_server.values(), default=1) == 1, "a message reached the server twice"
    rows = message_ids(db_url)
    assert set(at_server) <= set(rows), "the server got a message the database does not know"
    counts = statuses(db_url)
    assert counts["sent"] + counts["uncertain"] == total, counts  # nothing lost, nothing pending
    for mid, (fid, status) in rows.items():
        if status == "sent":
            assert at_server[mid] == 1, f"follow-up {fid} is sent but the server never got it"
        else:
            assert status == "uncertain"


def uncertain_rows(db_url) -> list[tuple[int, str]]:
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.id, FollowUp.message_id).where(FollowUp.status == "uncertain")
        ).all()
    db.dispose()
    return [(fid, mid) for fid, mid in rows]


@pytest.mark.slow
def test_crash_harness_a_kill_costs_at_most_one_question(tmp_path, db_url, mailserver):
    """A slow provider (it keeps each message, then answers 40 ms later) and a worker SIGKILLed
    again and again: each kill leaves at most one follow-up `uncertain`, and only one the server
    may have; every other follow-up reaches the server exactly once.

    Each kill comes after the k-th message of that run reached the server (k at random), never
    after a fixed delay: how fast the machine is decides nothing.
    """
    total = 120
    seed_due(db_url, total)
    mailserver.recorder.delay = 0.04
    rng = random.Random(20261127)
    env = worker_env(
        db_url,
        mailserver.env(FOLLOWUP_SMTP_TIMEOUT="1s"),
        FOLLOWUP_SEND_LEASE="3s",
        FOLLOWUP_TICK="1s",
        FOLLOWUP_BATCH_SIZE="20",
    )
    kills = 0
    while kills < 12 and statuses(db_url)["planned"] > 0:
        target = len(mailserver.received) + rng.randint(1, 8)
        worker = start_worker(tmp_path, env)
        deadline = time.monotonic() + 60
        while len(mailserver.received) < target and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker sent nothing for a minute"
            time.sleep(0.001)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        kills += 1
    assert kills >= 6
    # Let the killed workers' leases run out, then finish with a clean worker.
    time.sleep(3.5)
    final = start_worker(tmp_path, env, "--once")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    received = mailserver.recorder.message_ids()
    uncertain = uncertain_rows(db_url)
    never_received = [fid for fid, mid in uncertain if mid not in set(received)]
    assert len(uncertain) <= kills, (kills, uncertain)
    assert len(never_received) <= kills
    _assert_each_sent_exactly_once_or_flagged(db_url, received, total)
    assert statuses(db_url)["sent"] >= total - kills


@pytest.mark.slow
def test_a_worker_killed_holding_claims_it_never_started_costs_no_question(
    tmp_path, db_url, mailserver
):
    """Claimed is not sending: killed while connecting (a server that never greets), the
    worker's claims simply run out, and the follow-ups go out later, once each, none uncertain."""
    import socket

    total = 10
    seed_due(db_url, total)
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete, but no greeting ever comes
    port = silent.getsockname()[1]
    env = worker_env(
        db_url,
        mailserver.env(FOLLOWUP_SMTP_PORT=str(port), FOLLOWUP_SMTP_TIMEOUT="20s"),
        FOLLOWUP_SEND_LEASE="60s",
        FOLLOWUP_TICK="1s",
    )
    worker = start_worker(tmp_path, env)
    try:
        deadline = time.monotonic() + 30
        while not claimed(db_url):
            assert time.monotonic() < deadline and worker.poll() is None
            time.sleep(0.01)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        silent.close()
    counts = statuses(db_url)
    assert counts["planned"] == total and counts["sending"] == 0, counts
    # The leases run out (moved back here instead of waiting a minute), then a worker sends.
    expire_claims(db_url)
    done = start_worker(tmp_path, worker_env(db_url, mailserver.env()), "--once")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert statuses(db_url) == Counter({"sent": total})
    ids = mailserver.recorder.message_ids()
    assert len(ids) == len(set(ids)) == total


def claimed(db_url) -> int:
    db = Database(db_url)
    with db.transaction() as session:
        n = session.scalar(select(func.count(FollowUp.id)).where(FollowUp.claim_until.is_not(None)))
    db.dispose()
    return n


def expire_claims(db_url) -> None:
    db = Database(db_url)
    with db.transaction() as session:
        session.execute(
            update(FollowUp).values(claim_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    db.dispose()


@pytest.mark.slow
def test_closing_an_interview_wins_over_a_worker_that_claimed_its_follow_ups(
    tmp_path, db_url, mailserver, workdir, run
):
    """Two workers sending 100 follow-ups of one interview through a slow server; the user
    closes it meanwhile: nothing not yet on the wire goes out, and the close says what was."""
    total = 100
    seed_due(db_url, total, per_interview=total)
    mailserver.recorder.delay = 0.02
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_BATCH_SIZE="20")
    workers = [start_worker(tmp_path, env, "--once") for _ in range(2)]
    deadline = time.monotonic() + 60
    while len(mailserver.received) < 5:
        assert time.monotonic() < deadline
        time.sleep(0.001)
    closed = run("interview", "close", "1", "--outcome", "withdrawn", "--json")
    at_close = set(mailserver.recorder.message_ids())
    for w in workers:
        w.communicate(timeout=120)
    assert closed.code == 0, closed.err
    report = closed.json()
    assert len(report["on_the_wire"]) <= 2  # at most one per worker
    counts = statuses(db_url)
    assert counts["sent"] + counts["cancelled"] == total, counts
    assert counts["cancelled"] == report["cancelled"] > 50
    rows = message_ids(db_url)
    late = [mid for mid in mailserver.recorder.message_ids() if mid not in at_close]
    # What reached the server after the close was on the wire when the user closed it.
    assert {rows[mid][0] for mid in late} <= set(report["on_the_wire"])
    assert run("interview", "show", "1", "--json").json()["status"] == "withdrawn"


def test_a_server_that_hangs_up_after_each_message_costs_a_reconnect_not_a_deferral(
    tmp_path, db_url, mailserver
):
    seed_due(db_url, 6)
    mailserver.recorder.mode = "hangup"
    done = start_worker(tmp_path, worker_env(db_url, mailserver.env()), "--once")
    out, err = done.communicate(timeout=60)
    assert done.returncode == 0, err
    assert out.startswith("6 sent, 0 deferred"), out
    assert statuses(db_url) == Counter({"sent": 6})


@pytest.mark.slow
def test_four_workers_deliver_two_thousand_follow_ups_exactly_once(tmp_path, db_url, mailserver):
    total = 2000
    seed_due(db_url, total)
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_BATCH_SIZE="10")
    workers = [start_worker(tmp_path, env, "--once") for _ in range(4)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert all(w.returncode == 0 for w in workers), [o[1][-500:] for o in outputs]
    ids = mailserver.recorder.message_ids()
    assert len(ids) == total
    assert len(set(ids)) == total
    assert statuses(db_url) == Counter({"sent": total})
    # They really shared the work.
    sent_by = [int(out.split(" sent")[0]) for out, _ in outputs]
    assert sum(sent_by) == total and sum(1 for n in sent_by if n > 0) >= 2, sent_by


def test_a_sqlite_file_deleted_under_the_worker_stops_it_with_a_clear_error(
    tmp_path, backend, db_url, mailserver
):
    if backend != "sqlite":
        return  # only a SQLite database is a file that can vanish
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="1s", FOLLOWUP_LOG_LEVEL="INFO")
    worker = start_worker(tmp_path, env)
    log = LogReader(worker)
    log.wait_for("worker started")
    path = db_url[len("sqlite:///") :]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    assert worker.wait(timeout=30) == 1
    text = log.finish()
    assert f"the database file {path} was deleted" in text
    assert "start the worker again" in text


def test_sighup_makes_the_worker_re_read_its_settings_at_once(tmp_path, db_url, mailserver):
    """Without waiting for the next tick (an hour here): only the signal can have done it."""
    (tmp_path / ".env").write_text("FOLLOWUP_REVIEW=off\n")
    seed_due(db_url, 1)
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="1h", FOLLOWUP_LOG_LEVEL="INFO")
    worker = start_worker(tmp_path, env)
    log = LogReader(worker)
    try:
        log.wait_for("1 sent")  # the first pass is over; the next tick is an hour away
        (tmp_path / ".env").write_text("FOLLOWUP_REVIEW=on\n")
        worker.send_signal(signal.SIGHUP)
        log.wait_for("settings re-read")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    text = log.finish()
    assert "settings re-read: review: off -> on" in text
    assert worker.returncode == 0


def test_a_refused_login_pauses_the_running_worker_and_says_so_once(tmp_path, db_url, tls_ca):
    from mailserver import MailServer

    server_ctx, ca_file = tls_ca
    server = MailServer(security="starttls", tls_context=server_ctx, auth=("ada", "right")).start()
    try:
        seed_due(db_url, 4)
        env = worker_env(
            db_url,
            server.env(
                FOLLOWUP_SMTP_HOST="localhost",
                FOLLOWUP_SMTP_USERNAME="ada",
                FOLLOWUP_SMTP_PASSWORD="wrong",
                FOLLOWUP_SMTP_CA_FILE=str(ca_file),
            ),
            FOLLOWUP_TICK="1s",
            FOLLOWUP_LOG_LEVEL="INFO",
        )
        worker = start_worker(tmp_path, env)
        log = LogReader(worker)
        log.wait_for("sending is paused until the settings change")
        # Later passes neither log in again nor say it again.
        log.wait_for("pass:", times=0)
        deadline = time.monotonic() + 30
        while db_heartbeats(db_url) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
        text = log.finish()
    finally:
        server.stop()
    # The refusal, said once (its code with the status: the random port may hold "535").
    assert text.count("535 5.7.8") == 1, text
    assert statuses(db_url) == Counter({"planned": 4})
    assert server.received == []


def db_heartbeats(db_url) -> int:
    """How many passes the worker has reported (its heartbeat row's updates, roughly)."""
    db = Database(db_url)
    with db.transaction() as session:
        from service.models import Worker

        beat = session.scalar(select(Worker.heartbeat_at))
        started = session.scalar(select(Worker.started_at))
    db.dispose()
    if beat is None:
        return 0
    return int((beat - started).total_seconds())
