"""The real worker as separate processes: punctual, graceful, crash-safe, and never twice."""

from __future__ import annotations

import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from processes import message_ids, seed_due, start_worker, statuses, worker_env


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
        deadline = time.time() + 15
        while not arrivals and time.time() < deadline:
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "worker stopped" in err
    assert len(arrivals) == 1
    late = arrivals[0] - due.timestamp()
    assert 0 <= late < 1.0, f"delivered {late:.3f}s after its due time"


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


@pytest.mark.slow
def test_crash_harness_sigkill_at_random_moments(tmp_path, db_url, mailserver):
    """SIGKILL the worker again and again; every follow-up ends sent exactly once or uncertain.

    Each kill comes after the k-th message of that run reached the server (k at random), never
    after a fixed delay: how fast the machine is decides nothing.
    """
    total = 400
    seed_due(db_url, total)
    rng = random.Random(20261126)
    env = worker_env(
        db_url,
        mailserver.env(FOLLOWUP_SMTP_TIMEOUT="1s"),
        FOLLOWUP_SEND_LEASE="3s",
        FOLLOWUP_TICK="1s",
        FOLLOWUP_BATCH_SIZE="5",
    )
    kills = 0
    while kills < 12 and statuses(db_url)["planned"] > 0:
        start = len(mailserver.received)
        target = start + rng.randint(1, 12)
        worker = start_worker(tmp_path, env)
        deadline = time.monotonic() + 60
        while len(mailserver.received) < target and worker.poll() is None:
            assert time.monotonic() < deadline, "the worker sent nothing for a minute"
            time.sleep(0.001)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        kills += 1
    assert kills == 12
    # Let the leases of the killed workers run out, then finish with a clean worker.
    time.sleep(3.5)
    final = start_worker(tmp_path, env, "--once")
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    _assert_each_sent_exactly_once_or_flagged(db_url, mailserver.recorder.message_ids(), total)


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
