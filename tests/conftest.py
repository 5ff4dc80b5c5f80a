"""Shared test fixtures: both databases, a patched clock, the CLI run in-process."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service import cli
from service.db import Database, migrate

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("FOLLOWUP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch, tmp_path_factory):
    """Tests never see the developer's FOLLOWUP_* settings, nor their ~/.config and
    ~/.local/share (the user's config and data folders are fresh, empty temporary ones)."""
    for name in list(os.environ):
        if name.startswith("FOLLOWUP_") and name != "FOLLOWUP_TEST_PG":
            monkeypatch.delenv(name)
    monkeypatch.setenv("FOLLOWUP_TIMEZONE", "Europe/Berlin")
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture(autouse=True)
def _forget_secrets():
    """Passwords and tokens printed by commands are kept per process: each test starts afresh."""
    from service import credentials

    credentials.passwords.clear()
    credentials.tokens.clear()
    yield
    credentials.passwords.clear()
    credentials.tokens.clear()


def _pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(name: str) -> str:
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_template():
    """A migrated Postgres database that each test's fresh database is copied from."""
    name = f"followup_tmpl_{uuid.uuid4().hex[:10]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    db = Database(_pg_url(name))
    migrate(db)
    db.dispose()
    yield name
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_empty_url():
    """A fresh, empty Postgres database (dropped afterwards)."""
    name = f"followup_t_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def db_url(backend, request, tmp_path):
    """The URL of a fresh, migrated database of each kind."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'followup.db'}"
        db = Database(url)
        migrate(db)
        db.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"followup_t_{uuid.uuid4().hex[:12]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    yield _pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    yield database
    database.dispose()


class Clock:
    """The time the code under test sees; tests move it explicitly."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        assert moment.tzinfo is not None
        self.now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Patch the CLI's clock (and only the clock) to a fixed time."""
    c = Clock(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(cli.App, "now", lambda self: c())
    return c


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def workdir(tmp_path, monkeypatch, db_url) -> Path:
    """A working directory for the CLI, with FOLLOWUP_DATABASE_URL pointing at the test database."""
    wd = tmp_path / "work"
    wd.mkdir()
    (wd / ".env").write_text("# the tests' settings come from the environment\n")
    monkeypatch.chdir(wd)
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", db_url)
    monkeypatch.setenv("FOLLOWUP_FROM", "Ada Candidate <ada@candidate.example>")
    return wd


@pytest.fixture
def run(clock):
    """Run `followup ARGS...` in-process; returns exit code, stdout and stderr."""

    def _run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        old_stdin = sys.stdin
        if input is not None:
            sys.stdin = io.StringIO(input)
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    cli.main(list(args))
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.stdin = old_stdin
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return Result(code, out.getvalue(), err.getvalue())

    return _run


# --- mail -------------------------------------------------------------------------------------

IMMEDIATE_PLAN = """
[window]
enabled = false

[[steps]]
name = "thank_you"
after = "0s"
template = "thank_you"
to = "interviewers"

[[steps]]
name = "status_check"
after = "1h"
template = "status_check"
to = "first"
"""


@pytest.fixture
def immediate_plan(workdir, monkeypatch) -> Path:
    """A plan whose thank-you is due at the interview's end and a status check an hour later."""
    path = workdir / "plan.toml"
    path.write_text(IMMEDIATE_PLAN)
    monkeypatch.setenv("FOLLOWUP_PLAN", str(path))
    return path


@pytest.fixture
def mailserver():
    """A plain SMTP server on 127.0.0.1 that records what it accepts."""
    from mailserver import MailServer

    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(workdir, monkeypatch, mailserver):
    """The CLI (and anything reading the settings) set up to send through `mailserver`."""
    for k, v in mailserver.env().items():
        monkeypatch.setenv(k, v)
    return mailserver


@pytest.fixture(scope="session")
def tls_ca():
    """A private CA, a certificate for localhost/127.0.0.1 and the CA's PEM file."""
    import ssl
    import tempfile

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    folder = Path(tempfile.mkdtemp())
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_ctx, ca_file


@pytest.fixture
def record_interview(run, clock):
    """Record an interview that ended at the clock's time; returns its JSON."""

    def _record(
        *extra: str,
        company: str = "Acme Corp",
        role: str = "Staff Engineer",
        contacts=("Jane Roe <jane@acme.example> | topic=the move to event sourcing",),
    ):
        start = clock().astimezone(UTC) - timedelta(minutes=30)
        args = [
            "interview",
            "add",
            "--company",
            company,
            "--role",
            role,
            "--at",
            start.strftime("%Y-%m-%d %H:%M"),
            "--tz",
            "UTC",
            "--duration",
            "30m",
            "--notes",
            "PRIVATE: they lowballed me on salary",
            "--json",
        ]
        for c in contacts:
            args += ["--contact", c]
        result = run(*args, *extra)
        assert result.code == 0, result.err
        return result.json()

    return _record


# --- inbox (IMAP) -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot():
    """A real Dovecot IMAP server on 127.0.0.1 for the whole test session (see imapserver.py)."""
    from imapserver import Dovecot

    server = Dovecot().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox_user(dovecot) -> str:
    """A fresh IMAP account on the session's Dovecot; emptied afterwards."""
    user = dovecot.new_user()
    yield user
    dovecot.reset(user)


# --- web (issue 11) ---------------------------------------------------------------------------

WEB_PASSWORD = "correct horse battery staple"
API_TOKEN = "test-token-0123456789abcdefghij"


@pytest.fixture
def web_env(workdir, monkeypatch):
    """Settings for the web app: a password, an API token, digest links to 127.0.0.1:8080."""
    monkeypatch.setenv("FOLLOWUP_WEB_PASSWORD", WEB_PASSWORD)
    monkeypatch.setenv("FOLLOWUP_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("FOLLOWUP_WEB_URL", "http://127.0.0.1:8080")
    return workdir


@pytest.fixture
def web(web_env, db, clock):
    """A client of the ASGI app (in process, the test's database and clock); not logged in."""
    import warnings

    from service.config import load_settings
    from service.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette: "install httpx2 instead"
        from fastapi.testclient import TestClient

    app = create_app(load_settings(), db, clock=clock)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        yield client


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    import re

    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.fixture
def logged_in(web):
    """The client after logging in with the password."""
    response = web.post("/login", data={"password": WEB_PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return web
