"""`followup doctor`, `preview` and `send-test`: what a user runs to see their set-up is right."""

from __future__ import annotations

from email import message_from_string, policy

import pytest
from mailserver import free_port
from sqlalchemy import text

from service.db import Database

PASSWORD = "s3cret-Pa55word!"


def lines(result) -> dict[str, str]:
    """The doctor's verdicts by check name: {"database": "ok  ", "smtp": "FAIL", ...}."""
    found = {}
    for line in result.out.splitlines():
        if line.startswith(("ok  ", "FAIL", "WARN")):
            found[line[6:].split(":", 1)[0]] = line[:4].strip()
    return found


def line_of(result, name: str) -> str:
    """The doctor's line for one check, with its hint if any."""
    out = result.out.splitlines()
    for n, line in enumerate(out):
        if line[6:].startswith(f"{name}:"):
            hint = out[n + 1] if n + 1 < len(out) and out[n + 1].startswith("      hint:") else ""
            return line + "\n" + hint
    raise AssertionError(f"no {name!r} check in:\n{result.out}")


@pytest.fixture
def empty_db_url(backend, tmp_path, request) -> str:
    """An unmigrated database of the parametrized kind."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_empty_url")


def dead_smtp(**extra: str) -> dict[str, str]:
    """Settings for an SMTP server nobody listens on."""
    env = {
        "FOLLOWUP_SMTP_HOST": "127.0.0.1",
        "FOLLOWUP_SMTP_PORT": str(free_port()),
        "FOLLOWUP_SMTP_SECURITY": "none",
        "FOLLOWUP_SMTP_TIMEOUT": "2s",
    }
    env.update(extra)
    return env


# --- doctor -------------------------------------------------------------------------------------


def test_fresh_migrated_setup_in_outbox_mode_is_all_ok(workdir, run):
    result = run("doctor")
    assert result.code == 0, result.out + result.err
    verdicts = lines(result)
    assert {v for k, v in verdicts.items() if k != "worker"} == {"ok"}
    for name in ("sender", "time zone", "database", "plan", "template thank_you", "smtp"):
        assert name in verdicts, result.out
    assert "template delivery_failed" in verdicts
    assert "not configured: mail is written to" in line_of(result, "smtp")
    assert "FAIL" not in result.out
    # The one thing it points out: no worker runs yet.
    assert [line for line in result.out.splitlines() if line.startswith("WARN")] == [
        "WARN  worker: none running (no heartbeat in the last three ticks)"
    ]


def test_a_worker_whose_sending_is_paused_is_a_failure_with_the_reason(workdir, run, db):
    from datetime import UTC, datetime

    from service import workers

    now = datetime.now(UTC)
    workers.beat(db, "worker@host:1", now, now, None)
    assert line_of(run("doctor"), "worker").startswith("ok    worker: 1 running")
    workers.beat(db, "worker@host:1", now, now, "SMTP smtp.x:587 (login): 535 bad credentials")
    result = run("doctor")
    assert result.code == 1
    line = line_of(result, "worker")
    assert line.startswith("FAIL") and "sending paused since" in line and "535" in line


def test_unmigrated_database_says_to_migrate(workdir, run, empty_db_url):
    result = run("doctor", env={"FOLLOWUP_DATABASE_URL": empty_db_url})
    assert result.code == 1
    assert lines(result)["database"] == "FAIL"
    assert "run `followup migrate`" in line_of(result, "database")
    # The other checks still run and say what they found.
    assert lines(result)["plan"] == "ok" and lines(result)["template thank_you"] == "ok"
    # And after migrating, the same database is fine.
    assert run("migrate", env={"FOLLOWUP_DATABASE_URL": empty_db_url}).code == 0
    assert run("doctor", env={"FOLLOWUP_DATABASE_URL": empty_db_url}).code == 0


def test_template_override_with_a_syntax_error_names_file_and_line(workdir, run, monkeypatch):
    folder = workdir / "my-templates"
    folder.mkdir()
    (folder / "thank_you.txt").write_text(
        "{% block subject %}Thanks{% endblock %}\n{% block body %}\nDear {{ contact.name }},\n"
        "Thanks for {{ interview.role | }}\n{% endblock %}\n"
    )
    monkeypatch.setenv("FOLLOWUP_TEMPLATES_DIR", str(folder))
    result = run("doctor")
    assert result.code == 1
    assert lines(result)["template thank_you"] == "FAIL"
    line = line_of(result, "template thank_you")
    assert str(folder / "thank_you.txt") in line and "line 4" in line
    assert "hint: fix the template" in line
    # The shipped ones it does not override are still fine.
    assert lines(result)["template status_check"] == "ok"


def test_broken_review_digest_is_reported_review_on_or_off(workdir, run, monkeypatch):
    folder = workdir / "my-templates"
    folder.mkdir()
    (folder / "review_digest.txt").write_text(
        "{% block subject %}{{ count }} waiting{% endblock %}\n{% block body %}\n"
        "{{ items[0].nonsense }}\n{% endblock %}\n"
    )
    monkeypatch.setenv("FOLLOWUP_TEMPLATES_DIR", str(folder))
    # With review off too: a follow-up with a doubtful greeting is held, and the digest says so.
    assert run("doctor").code == 1
    result = run("doctor", env={"FOLLOWUP_REVIEW": "on"})
    assert result.code == 1
    line = line_of(result, "template review_digest")
    assert line.startswith("FAIL") and "review_digest.txt line 3" in line
    # The shipped digest renders with what the doctor gives it.
    (folder / "review_digest.txt").unlink()
    assert run("doctor", env={"FOLLOWUP_REVIEW": "on"}).code == 0


def test_missing_sender_is_a_warning_in_outbox_mode_and_a_failure_for_smtp(
    workdir, run, monkeypatch
):
    monkeypatch.delenv("FOLLOWUP_FROM")
    result = run("doctor")
    assert result.code == 0
    line = line_of(result, "sender")
    assert line.startswith("WARN") and "FOLLOWUP_FROM is not set" in line
    assert 'hint: set FOLLOWUP_FROM="' in line
    result = run("doctor", env=dead_smtp())
    assert result.code == 1
    line = line_of(result, "sender")
    assert line.startswith("FAIL") and "FOLLOWUP_FROM is not set" in line


def test_the_example_sender_is_a_failure_once_smtp_is_set(workdir, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_FROM", "Your Name <you@example.com>")
    assert line_of(run("doctor"), "sender").startswith("WARN")
    result = run("doctor", env=dead_smtp())
    assert result.code == 1
    line = line_of(result, "sender")
    assert line.startswith("FAIL") and "still the example" in line


def test_doctor_says_which_env_file_it_used(workdir, run):
    assert f"settings from {workdir / '.env'}" in line_of(run("doctor"), "settings")


def test_smtp_server_that_is_down_is_a_failure_naming_host_and_port(workdir, run):
    env = dead_smtp()
    result = run("doctor", env=env)
    assert result.code == 1
    line = line_of(result, "smtp")
    assert line.startswith("FAIL")
    assert f"127.0.0.1:{env['FOLLOWUP_SMTP_PORT']}" in line
    assert "(connect)" in line
    assert "hint: check FOLLOWUP_SMTP_*" in line


def test_smtp_password_is_never_shown(workdir, run):
    env = dead_smtp(
        FOLLOWUP_SMTP_SECURITY="starttls",
        FOLLOWUP_SMTP_USERNAME="ada@candidate.example",
        FOLLOWUP_SMTP_PASSWORD=PASSWORD,
    )
    result = run("doctor", env=env)
    assert result.code == 1
    assert PASSWORD not in result.out + result.err
    line = line_of(result, "smtp")
    assert "user ada@candidate.example, password ****" in line


def test_every_problem_is_reported_at_once(workdir, run, monkeypatch):
    folder = workdir / "my-templates"
    folder.mkdir()
    (folder / "final_note.txt").write_text("{% block subject %}{{ oops }}{% endblock %}\n")
    monkeypatch.setenv("FOLLOWUP_TEMPLATES_DIR", str(folder))
    monkeypatch.delenv("FOLLOWUP_FROM")
    env = dead_smtp(
        FOLLOWUP_SMTP_SECURITY="starttls",
        FOLLOWUP_SMTP_USERNAME="ada",
        FOLLOWUP_SMTP_PASSWORD=PASSWORD,
    )
    result = run("doctor", env=env)
    assert result.code == 1
    verdicts = lines(result)
    failed = {name for name, verdict in verdicts.items() if verdict == "FAIL"}
    assert failed == {"sender", "template final_note", "smtp"}
    assert verdicts["database"] == "ok" and verdicts["template thank_you"] == "ok"
    assert "final_note.txt" in line_of(result, "template final_note")
    assert f"127.0.0.1:{env['FOLLOWUP_SMTP_PORT']}" in line_of(result, "smtp")
    assert PASSWORD not in result.out + result.err


def test_database_password_is_never_shown(workdir, run, backend, db_url):
    if backend == "sqlite":
        url = "postgresql+psycopg://followup:" + PASSWORD + f"@127.0.0.1:{free_port()}/nowhere"
    else:
        url = db_url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    result = run("doctor", env={"FOLLOWUP_DATABASE_URL": url})
    assert PASSWORD not in result.out + result.err
    assert "***" in line_of(result, "database")


# --- preview ------------------------------------------------------------------------------------


def snapshot(db_url) -> tuple[list, list]:
    db = Database(db_url)
    with db.engine.connect() as conn:
        followups = [tuple(r) for r in conn.execute(text("SELECT * FROM followups ORDER BY id"))]
        events = [tuple(r) for r in conn.execute(text("SELECT * FROM events ORDER BY id"))]
    db.dispose()
    return followups, events


def planned_id(db_url, step: str) -> int:
    db = Database(db_url)
    with db.engine.connect() as conn:
        fid = conn.execute(
            text("SELECT id FROM followups WHERE step = :step AND status = 'planned'"),
            {"step": step},
        ).scalar_one()
    db.dispose()
    return fid


def test_preview_prints_the_exact_message_and_changes_nothing(
    workdir, run, immediate_plan, record_interview, db_url
):
    record_interview()
    fid = planned_id(db_url, "thank_you")
    before = snapshot(db_url)
    assert before[0], "the interview planned no follow-ups"

    result = run("preview", str(fid))
    assert result.code == 0, result.err
    out = result.out.splitlines()
    assert out[0] == f"# follow-up {fid} (thank_you), status planned"
    assert "From: Ada Candidate <ada@candidate.example>" in out
    assert "To: Jane Roe <jane@acme.example>" in out
    assert "Subject: Thank you for the Staff Engineer interview" in out
    # The rest is the message as it goes out (transfer-encoded): it parses to the text.
    message = message_from_string(result.out.split("\n", 1)[1], policy=policy.default)
    assert message["Message-ID"].endswith("@candidate.example>")
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Dear Jane,\n")
    assert "I especially enjoyed our conversation about the move to event sourcing." in body
    assert body.rstrip().endswith("Ada Candidate")
    assert "\r" not in result.out

    # Twice, and for a reply further down the thread: still nothing stored.
    assert run("preview", str(fid)).out == result.out
    later = run("preview", str(planned_id(db_url, "status_check")))
    assert later.code == 0, later.err
    assert "Subject: Re: Thank you for the Staff Engineer interview" in later.out.splitlines()
    assert snapshot(db_url) == before


def test_preview_of_an_unknown_id_is_one_line_and_exit_2(workdir, run, immediate_plan):
    result = run("preview", "9999")
    assert result.code == 2
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1
    assert "follow-up 9999 does not exist" in result.err


# --- send-test ----------------------------------------------------------------------------------


def test_send_test_delivers_one_message_to_the_user(workdir, run, mailserver):
    result = run("send-test", env=mailserver.env())
    assert result.code == 0, result.err
    assert f"test message sent to ada@candidate.example via 127.0.0.1:{mailserver.port}" in (
        result.out
    )
    assert len(mailserver.received) == 1
    got = mailserver.received[0]
    assert got.mail_from == "ada@candidate.example"
    assert got.rcpt_tos == ["ada@candidate.example"]
    msg = got.message
    assert msg["From"] == "Ada Candidate <ada@candidate.example>"
    assert msg["To"] == "Ada Candidate <ada@candidate.example>"
    assert msg["Subject"] == "followup test message"
    assert msg["Message-ID"].endswith("@candidate.example>")
    assert "your mail settings work" in msg.get_body(("plain",)).get_content()


def test_send_test_to_a_dead_server_says_so(workdir, run):
    env = dead_smtp()
    result = run("send-test", env=env)
    assert result.code == 2
    assert result.err.startswith("followup: error: test message not sent")
    assert f"127.0.0.1:{env['FOLLOWUP_SMTP_PORT']}" in result.err


@pytest.fixture
def read_only_database(backend, db_url):
    """Make the test database unwritable: an immutable file, or a read-only Postgres database."""
    import subprocess

    import psycopg

    from service.db import sqlite_file

    if backend == "sqlite":
        path = sqlite_file(db_url)
        files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
        subprocess.run(["chattr", "+i", *map(str, files)], check=True)
        yield
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)
        return
    name = db_url.rsplit("/", 1)[1]
    admin = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    yield


def test_a_read_only_database_is_one_line_everywhere_and_doctor_says_so(
    workdir, run, read_only_database
):
    added = run(
        "interview", "add", "--company", "Acme", "--role", "Engineer",
        "--at", "2026-09-07 10:00", "--tz", "Europe/Berlin",
        "--contact", "Jane Roe <jane@acme.example> | topic=the secret roadmap",
    )  # fmt: skip
    assert added.code == 1 and added.err.count("\n") == 1, added.err
    assert "read" in added.err.lower() and "Traceback" not in added.err
    assert "secret roadmap" not in added.err  # SQL parameters hold the user's mail
    doctor = run("doctor")
    assert doctor.code == 1
    assert line_of(doctor, "database writable").startswith("FAIL")
    assert run("schedule").code == 0  # reading still works
