"""A mail server that repeats the password in its refusal: the password appears nowhere."""

from __future__ import annotations

import logging

import pytest
from mailserver import MailServer
from sqlalchemy import text

from service.db import Database

USER = "ada"
RIGHT = "right-password-4711"
#: Printed by FOLLOWUP_SMTP_PASSWORD_COMMAND: the secret the server repeats back.
WRONG = "wrong-from-command-0815"


@pytest.fixture
def echoing():
    server = MailServer(auth=(USER, RIGHT), echo=True).start()
    yield server
    server.stop()


def everything_stored(db_url: str) -> str:
    db = Database(db_url)
    with db.reading() as session:
        rows = [
            repr(tuple(row))
            for table in ("followups", "events", "interviews")
            for row in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        ]
    db.dispose()
    return "\n".join(rows)


def test_a_password_the_smtp_server_repeats_is_masked_everywhere(
    echoing,
    workdir,
    run,
    clock,
    immediate_plan,
    record_interview,
    db_url,
    monkeypatch,
    caplog,
    request,
):
    env = echoing.env(FOLLOWUP_SMTP_USERNAME=USER, FOLLOWUP_SMTP_PASSWORD_COMMAND=f"echo {WRONG}")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run("migrate")
    record_interview()
    caplog.set_level(logging.DEBUG, logger="service")

    shown = []
    for args in (("send-test",), ("doctor",), ("worker", "--once")):
        result = run(*args)
        assert result.code != 0, (args, result.out)
        shown += [result.out, result.err]
    # The server did say it: the refusal is shown, with the password masked.
    assert "Authentication failed for password ****" in "".join(shown)

    from service.config import load_settings
    from service.setup.apply import check_connections

    (smtp,) = check_connections(load_settings())  # `init`'s check
    assert not smtp.ok and "535" in smtp.detail
    shown.append(smtp.detail)

    page = request.getfixturevalue("logged_in").get("/setup")  # the web app's /setup
    assert page.status_code == 200 and "535" in page.text
    shown.append(page.text)

    # Logged in now, a refused recipient whose reply repeats the password: stored masked.
    monkeypatch.setenv("FOLLOWUP_SMTP_PASSWORD_COMMAND", f"echo {RIGHT}")
    echoing.recorder.refuse["jane@acme.example"] = f"550 5.1.1 no such user (pass {RIGHT})"
    result = run("worker", "--once")
    shown += [result.out, result.err]
    stored = everything_stored(db_url)
    assert "no such user (pass ****)" in stored
    assert any("****" in r.getMessage() for r in caplog.records)  # the worker's log

    for secret in (WRONG, RIGHT):
        assert secret not in "".join(shown)
        assert not [r for r in caplog.records if secret in r.getMessage()]
        assert secret not in stored
