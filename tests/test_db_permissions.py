"""The SQLite file and its -wal/-shm are private (0600); `doctor` warns of a readable one."""

from __future__ import annotations

import os
import stat

from sqlalchemy import text

from service.db import Database


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_and_shm_are_0600(tmp_path, run, monkeypatch):
    old = os.umask(0o022)  # the usual umask: files would be 0644
    try:
        path = tmp_path / "data" / "followup.db"
        monkeypatch.setenv("FOLLOWUP_DATABASE_URL", f"sqlite:///{path}")
        monkeypatch.setenv("FOLLOWUP_FROM", "Ada Candidate <ada@candidate.example>")
        monkeypatch.chdir(tmp_path)
        assert run("migrate").code == 0
        db = Database(f"sqlite:///{path}")
        with db.transaction() as session:  # a write: the -wal and -shm exist while it is open
            session.execute(text("CREATE TABLE probe (x INTEGER)"))
        wal, shm = path.with_name("followup.db-wal"), path.with_name("followup.db-shm")
        assert wal.exists() and shm.exists()
        assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        db.dispose()
    finally:
        os.umask(old)


def test_doctor_warns_of_a_database_others_can_read_and_names_the_chmod(workdir, run, db_url):
    from service.db import sqlite_file

    path = sqlite_file(db_url)
    assert "database file" not in run("doctor").out
    if path is None:  # Postgres: no file of ours to check
        return
    os.chmod(path, 0o644)
    doctor = run("doctor")
    line = next(line for line in doctor.out.splitlines() if "database file" in line)
    assert "can be read by other users (mode 644)" in line
    assert f"chmod 600 {path}" in doctor.out
    os.chmod(path, 0o600)
    assert "database file" not in run("doctor").out
