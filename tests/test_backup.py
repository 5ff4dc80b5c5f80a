"""Your data kept and moved: backup while the worker sends, restore, and export/load between
SQLite and Postgres that reproduces the schedule exactly."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest
from processes import seed_due, start_worker, worker_env
from sqlalchemy import func, select

from service.db import Database
from service.models import Event, FollowUp

ADD = (
    "interview", "add", "--role", "Staff Engineer", "--tz", "Europe/Berlin", "--duration", "45m",
    "--notes", "PRIVATE: they lowballed me", "--question", "How is on-call organised?",
)  # fmt: skip


def _rows(db_url: str) -> dict[int, dict]:
    """Every follow-up as the database has it (texts, hashes, ids and all)."""
    db = Database(db_url)
    with db.reading() as session:
        rows = session.execute(select(FollowUp.__table__)).mappings().all()
    db.dispose()
    return {r["id"]: dict(r) for r in rows}


def _half_written(db_url: str) -> list[int]:
    """Follow-ups whose status is not what their latest event says they became."""
    db = Database(db_url)
    with db.reading() as session:
        latest = (
            select(Event.followup_id, func.max(Event.id).label("last"))
            .where(Event.followup_id.is_not(None), Event.to_status.is_not(None))
            .group_by(Event.followup_id)
            .subquery()
        )
        rows = session.execute(
            select(FollowUp.id, FollowUp.status, Event.to_status)
            .join(latest, latest.c.followup_id == FollowUp.id)
            .join(Event, Event.id == latest.c.last)
        ).all()
    db.dispose()
    return [fid for fid, status, to in rows if status != to]


def _sending_in(backup) -> list[int]:
    """The follow-ups a backup file holds as `sending`."""
    if backup.suffix == ".db":
        with sqlite3.connect(backup) as conn:
            return [r[0] for r in conn.execute("SELECT id FROM followups WHERE status='sending'")]
    items = (json.loads(line) for line in backup.read_text().splitlines()[1:-1])
    return [
        i["row"]["id"]
        for i in items
        if i["table"] == "followups" and i["row"]["status"] == "sending"
    ]


def _target_url(backend: str, tmp_path, request) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}"
    return request.getfixturevalue("pg_empty_url")


def test_backup_while_the_worker_sends_restores_consistently_and_sends_nothing_twice(
    backend, db_url, tmp_path, request, mailserver, run, clock, monkeypatch
):
    # The server keeps the 6th message waiting (its follow-up is `sending`) while the backup runs.
    original = mailserver.recorder.handle_DATA
    inside, release = threading.Event(), threading.Event()
    count = 0

    async def held(server, session, envelope):
        nonlocal count
        count += 1
        if count == 6:
            inside.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
        return await original(server, session, envelope)

    mailserver.recorder.handle_DATA = held
    seed_due(db_url, 40)
    worker = start_worker(tmp_path, worker_env(db_url, mailserver.env(), FOLLOWUP_BATCH_SIZE="10"))
    try:
        assert inside.wait(30), "the worker never reached the 6th message"
        monkeypatch.setenv("FOLLOWUP_DATABASE_URL", db_url)
        monkeypatch.setenv("FOLLOWUP_FROM", "Ada Candidate <ada@candidate.example>")
        monkeypatch.chdir(tmp_path)
        out = tmp_path / ("backup.db" if backend == "sqlite" else "backup.jsonl")
        made = run("backup", "--out", str(out))
        assert made.code == 0, made.err
        assert str(out) in made.out
    finally:
        release.set()
        while len(mailserver.received) < 12 and worker.poll() is None:
            threading.Event().wait(0.01)
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert worker.returncode == 0
    assert not list(tmp_path.glob(".tmp-*")), "a temporary file was left behind"
    if backend == "sqlite":
        with sqlite3.connect(out) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    before = _rows(db_url)
    sent_at_server = {m.message_id for m in mailserver.received}
    target = _target_url(backend, tmp_path, request)
    clock.set(datetime.now(UTC))
    restored = run("restore", str(out), env={"FOLLOWUP_DATABASE_URL": target})
    assert restored.code == 0, restored.err
    after = _rows(target)
    assert set(after) == set(before)
    assert _half_written(target) == []
    held_ids = {fid for fid, row in after.items() if row["reason"] == "restored"}
    assert f"{len(held_ids)} follow-up(s) held as uncertain" in restored.out
    for fid, row in after.items():
        if row["status"] == "sent":
            assert row["message_id"] in sent_at_server
        else:  # due and not sent in the backup: it may have gone since; held, never resent
            assert row["status"] == "uncertain" and fid in held_ids, row
    # The follow-up being sent when the backup was taken went out after it: it is held.
    (in_flight,) = _sending_in(out)
    assert after[in_flight]["status"] == "uncertain"
    assert after[in_flight]["message_id"] in sent_at_server

    # The restored database sends nothing that may already have gone.
    received = len(mailserver.received)
    once = run("worker", "--once", env={"FOLLOWUP_DATABASE_URL": target, **mailserver.env()})
    assert once.code == 0, once.err
    assert len(mailserver.received) == received

    # Restoring again into the now non-empty database is refused, unless --force (kept first).
    again = run("restore", str(out), env={"FOLLOWUP_DATABASE_URL": target})
    assert again.code == 2 and "not empty" in again.err and "--force" in again.err
    forced = run(
        "restore", str(out), "--force",
        env={"FOLLOWUP_DATABASE_URL": target, "FOLLOWUP_DATA_DIR": str(tmp_path / "data")},
    )  # fmt: skip
    assert forced.code == 0, forced.err
    kept = list((tmp_path / "data" / "backups").iterdir())
    assert len(kept) == 1 and str(kept[0]) in forced.out
    assert set(_rows(target)) == set(before)


def _records(run, env: dict[str, str]) -> None:
    """Interviews in many states: planned, sent, cancelled, pending review, approved, closed."""

    def ok(*args: str) -> str:
        result = run(*args, env=env)
        assert result.code == 0, result.err
        return result.out

    ok("migrate")
    ok(*ADD, "--company", "Acme", "--at", "2026-08-31 09:00",
       "--contact", "Jane Roe <jane@acme.example> | Dr. | topic=event sourcing",
       "--contact", "Øyvind Lie <oyvind@acme.example>")  # fmt: skip
    ok(*ADD, "--company", "Globex", "--at", "2026-09-07 10:00",
       "--contact", "Hank Scorpio <hank@globex.example>")  # fmt: skip
    ok(*ADD, "--company", "Initech", "--at", "2026-09-08 10:00",
       "--contact", "Bill Lumbergh <bill@initech.example>")  # fmt: skip
    ok("worker", "--once")  # the Acme thank-yous are due: they go to the outbox
    ok("interview", "close", "3", "--outcome", "withdrawn")
    review = {**env, "FOLLOWUP_REVIEW": "on", "FOLLOWUP_REVIEW_LEAD": "30d"}
    assert run("worker", "--once", env=review).code == 0  # the rest waits for review
    queue = json.loads(run("queue", "--json", env=review).out)
    assert len(queue) >= 2
    assert run("approve", str(queue[0]["id"]), env=review).code == 0


def test_export_from_sqlite_loads_into_postgres_and_back_with_the_same_schedule(
    tmp_path, pg_empty_url, run, clock, monkeypatch
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FOLLOWUP_FROM", "Ada Candidate <ada@candidate.example>")
    monkeypatch.setenv("FOLLOWUP_OUTBOX_DIR", str(tmp_path / "outbox"))
    sqlite_env = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'laptop.db'}"}
    pg_env = {"FOLLOWUP_DATABASE_URL": pg_empty_url}
    back_env = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'back.db'}"}
    _records(run, sqlite_env)
    schedule = run("schedule", "--all", "--json", env=sqlite_env).out
    statuses = {r["status"] for r in json.loads(schedule)}
    assert {"sent", "cancelled", "pending_review", "approved"} <= statuses

    first = tmp_path / "laptop.jsonl"
    assert run("export", "--json", "--out", str(first), env=sqlite_env).code == 0
    loaded = run("load", str(first), env=pg_env)
    assert loaded.code == 0, loaded.err
    assert run("schedule", "--all", "--json", env=pg_env).out == schedule
    for what in (("interview", "show", "1", "--json"), ("queue", "--json")):
        assert run(*what, env=pg_env).out == run(*what, env=sqlite_env).out

    second = tmp_path / "server.jsonl"
    assert run("export", "--json", "--out", str(second), env=pg_env).code == 0
    assert run("load", str(second), env=back_env).code == 0
    assert run("schedule", "--all", "--json", env=back_env).out == schedule
    # Every row of every table, texts and hashes included, made the round trip.
    lines = [path.read_text().splitlines() for path in (first, second)]
    assert lines[0][1:] == lines[1][1:] and len(lines[0]) > 30

    # Ids go on after the loaded ones: a new interview in Postgres gets the next id.
    added = run(*ADD, "--company", "Hooli", "--at", "2026-09-09 10:00", "--json",
                "--contact", "Gavin Belson <gavin@hooli.example>", env=pg_env)  # fmt: skip
    assert added.code == 0, added.err
    assert added.json()["id"] == 4


def test_load_refuses_a_newer_format_a_non_empty_database_and_an_unsettled_send(
    workdir, run, clock, db_url, tmp_path
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    header = {"format": "followup-export", "version": 2, "schema": "0006", "tables": [], "rows": {}}
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({**header, "version": 3}) + "\n")
    empty = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = run("load", str(newer), env=empty)
    assert result.code == 2
    assert result.err.count("\n") == 1 and "version 3" in result.err and "upgrade" in result.err
    future = tmp_path / "future.jsonl"
    future.write_text(json.dumps({**header, "schema": "9999"}) + "\n")
    assert "newer database schema" in run("load", str(future), env=empty).err
    garbage = tmp_path / "notes.txt"
    garbage.write_text("hello\n")
    assert "not a followup export" in run("load", str(garbage), env=empty).err

    assert run(*ADD, "--company", "Acme", "--at", "2026-09-07 10:00",
               "--contact", "Jane Roe <jane@acme.example>").code == 0  # fmt: skip
    mine = tmp_path / "mine.jsonl"
    assert run("export", "--json", "--out", str(mine)).code == 0
    refused = run("load", str(mine))  # into the database it came from: not empty
    assert refused.code == 2 and "not empty" in refused.err
    assert run("schedule", "--all", "--json").json()  # and nothing of it was touched

    # A send in progress: export refuses (the file would not say how it ended); a line of a
    # backup that was `sending` is refused by load, which points at restore.
    db = Database(db_url)
    with db.transaction() as session:
        session.execute(
            FollowUp.__table__.update()
            .where(FollowUp.id == 1)
            .values(status="sending", sending_started_at=clock())
        )
    db.dispose()
    busy = run("export", "--json")
    assert busy.code == 2 and "follow-up(s) 1 are being sent" in busy.err
    lines = mine.read_text().splitlines()
    patched = [
        json.dumps({**item, "row": {**item["row"], "status": "sending"}})
        if item.get("table") == "followups" and item["row"]["id"] == 1
        else line
        for line, item in ((line, json.loads(line)) for line in lines)
    ]
    backup = tmp_path / "mid-send.jsonl"
    backup.write_text("\n".join(patched) + "\n")
    again = run(
        "load", str(backup), env={"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    )
    assert again.code == 2 and "followup restore" in again.err


def test_export_is_streamed_a_row_at_a_time(workdir, run, clock, db_url, tmp_path):
    """100,000 follow-ups take bounded memory: the export writes while it reads."""
    from io import StringIO

    from service.archive import portable

    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    seed_due(db_url, 3 * portable.CHUNK, due=clock() + timedelta(days=1))

    class Watch(StringIO):
        """Counts how many rows were written before the last follow-up was read."""

        lines = 0

        def write(self, text: str) -> int:
            self.lines += text.count("\n")
            return super().write(text)

    out = Watch()
    db = Database(db_url)
    seen: list[int] = []
    original = portable._out

    def spy(value, kind):
        seen.append(out.lines)
        return original(value, kind)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(portable, "_out", spy)
        counts = portable.export(db, out, clock())
    db.dispose()
    assert counts["followups"] == 3 * portable.CHUNK
    # Rows went out while later ones were still being read, not all at the end.
    assert seen[len(seen) // 2] > portable.CHUNK


def test_an_export_from_an_older_followup_loads_with_defaults_for_what_it_lacks(
    workdir, run, clock, tmp_path
):
    """A file written before a column existed (here: interviews.language, schema 0008), and
    before the trailer (format 1), loads with --accept-untrailed; the column takes its default."""
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    assert run(*ADD, "--company", "Acme", "--at", "2026-09-07 10:00",
               "--contact", "Jane Roe <jane@acme.example>").code == 0  # fmt: skip
    current = tmp_path / "now.jsonl"
    assert run("export", "--json", "--out", str(current)).code == 0
    lines = [json.loads(line) for line in current.read_text().splitlines()][:-1]
    lines[0] |= {"schema": "0007", "version": 1}
    del lines[0]["rows"]
    for item in lines[1:]:
        if item["table"] == "interviews":
            del item["row"]["language"]
    older = tmp_path / "older.jsonl"
    older.write_text("\n".join(json.dumps(item) for item in lines) + "\n")
    target = {"FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    refused = run("load", str(older), env=target)
    assert refused.code == 2 and "--accept-untrailed" in refused.err
    assert refused.err.count("\n") == 1
    loaded = run("load", str(older), "--accept-untrailed", env=target)
    assert loaded.code == 0, loaded.err
    assert "whether it was cut short or changed could not be checked" in loaded.err
    shown = run("interview", "show", "1", "--json", env=target).json()
    assert shown["company"] == "Acme" and shown["language"] is None
    assert (
        run("schedule", "--all", "--json", env=target).out == run("schedule", "--all", "--json").out
    )
