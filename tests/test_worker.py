"""The worker's own decisions, in process against both databases: a pass that fails is one line
in the log and the next pass goes on, a heartbeat that cannot be written never stops sending,
nothing starts after a stop, and settings re-read are described without their secrets."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from service.config import load_settings
from service.worker import Worker


def rename(db, table: str, to: str) -> None:
    """Make a table vanish (and come back): every statement that needs it fails meanwhile."""
    with db.transaction() as session:
        session.execute(text(f"ALTER TABLE {table} RENAME TO {to}"))


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="service")
    return caplog


def test_a_pass_that_fails_is_one_line_in_the_log_and_the_next_pass_sends(
    smtp, run, clock, immediate_plan, record_interview, db, log
):
    record_interview()
    worker = Worker(load_settings(), db, clock=clock)
    rename(db, "followups", "followups_away")
    assert worker.run_pass() is None  # the error did not escape: the worker lives on
    rename(db, "followups_away", "followups")
    [failed] = [r for r in log.records if r.getMessage().startswith("delivery pass failed")]
    said = failed.getMessage()
    assert "followups" in said  # the cause, named, in one line: neither SQL nor a traceback
    assert "\n" not in said and "SQL" not in said and not failed.exc_info
    assert smtp.received == []

    summary = worker.run_pass()
    assert summary.sent == 1
    assert [r.rcpt_tos for r in smtp.received] == [["jane@acme.example"]]


def test_after_a_stop_no_pass_starts(smtp, run, clock, immediate_plan, record_interview, db):
    record_interview()
    worker = Worker(load_settings(), db, clock=clock)
    worker.stop()
    worker.stop()  # a second SIGTERM (or Ctrl-C) changes nothing
    assert worker.run_pass() is None
    clock.advance(timedelta(hours=2))
    assert worker.run_pass() is None
    assert smtp.received == []


def test_a_stop_that_comes_while_the_worker_starts_still_stops_it(smtp, db, clock):
    """SIGTERM may come before the scheduler runs (the first heartbeat is a database write):
    the worker must still stop, not run until systemd kills it."""
    worker = Worker(load_settings(), db, clock=clock)
    worker.stop()  # as the signal handler does, before run_forever() got to start the scheduler
    rescued = threading.Event()

    def rescue() -> None:  # only so that a worker that missed the stop fails this test, not hangs
        rescued.set()
        worker.scheduler.shutdown(wait=False)

    watchdog = threading.Timer(60, rescue)
    watchdog.start()
    try:
        worker.run_forever()
    finally:
        watchdog.cancel()
    assert not rescued.is_set(), "the worker ran on after it was told to stop"


def test_a_heartbeat_that_cannot_be_written_never_stops_sending(
    smtp, run, clock, immediate_plan, record_interview, db, log
):
    record_interview()
    worker = Worker(load_settings(), db, clock=clock)
    rename(db, "workers", "workers_away")
    try:
        worker.run_pass()
    finally:
        rename(db, "workers_away", "workers")
    assert [r.rcpt_tos for r in smtp.received] == [["jane@acme.example"]]
    assert "heartbeat failed" in log.text


def test_re_read_settings_are_described_without_secrets_and_a_new_database_needs_a_restart(
    smtp, db, db_url, clock, monkeypatch, tmp_path, log
):
    worker = Worker(load_settings(), db, clock=clock, load=load_settings)
    assert worker.inbox is None
    tick = int(worker.settings.tick.total_seconds())
    changed = {
        "FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "FOLLOWUP_SMTP_USERNAME": "ada",
        "FOLLOWUP_SMTP_PASSWORD": "s3cret-pw",
        "FOLLOWUP_REVIEW": "on",
        "FOLLOWUP_TICK": "5s",
        "FOLLOWUP_IMAP_HOST": "127.0.0.1",
        "FOLLOWUP_IMAP_USERNAME": "ada",
        "FOLLOWUP_IMAP_PASSWORD": "imap-s3cret",
        "FOLLOWUP_REVEIW": "on",  # mistyped: said, not silently ignored
    }
    for name, value in changed.items():
        monkeypatch.setenv(name, value)
    worker.reload_now()  # what SIGHUP does
    worker.refresh_settings()

    said = log.text
    assert "FOLLOWUP_DATABASE_URL changed: restart the worker to use the new database" in said
    assert "FOLLOWUP_REVEIW" in said
    [line] = [r.getMessage() for r in log.records if r.getMessage().startswith("settings re-read")]
    for change in ("smtp.username: None -> ada", "smtp.password: changed", "review: off -> on",
                   f"tick: {tick}s -> 5s", "imap: (none) -> 127.0.0.1:993"):  # fmt: skip
        assert change in line
    assert "s3cret" not in said and "elsewhere.db" not in said
    assert worker.settings.database_url == db_url.replace("postgresql://", "postgresql+psycopg://")
    assert worker.settings.review and worker.inbox is not None and worker.paused is None

    # The mailbox settings removed again: the mailbox is let go.
    for name in ("FOLLOWUP_IMAP_HOST", "FOLLOWUP_IMAP_USERNAME", "FOLLOWUP_IMAP_PASSWORD"):
        monkeypatch.delenv(name)
    log.clear()
    worker.reload_now()
    worker.refresh_settings()
    assert worker.inbox is None
    assert "imap: 127.0.0.1:993 -> (none)" in log.text
