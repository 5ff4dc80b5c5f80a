"""A worker that heals and says how it is: heartbeat and `followup health`, systemd's ready
notification, exit 78 on bad settings (no restart loop), and the systemd unit itself."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from mailserver import free_port
from processes import LogReader, seed_due, start_worker, worker_env

from service import systemd, workers
from service.db import Database

REPO = Path(__file__).resolve().parents[1]


def test_health_is_0_while_a_worker_beats_and_1_when_it_is_stale_or_paused(
    workdir, run, clock, db_url
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    tick = {"FOLLOWUP_TICK": "30s"}
    none = run("health", env=tick)
    assert none.code == 1 and "no worker beat in the last three ticks (90s)" in none.out

    db = Database(db_url)
    here = f"worker@{socket.gethostname()}:4242"
    workers.beat(db, here, clock(), clock(), None)
    fresh = run("health", env=tick)
    assert fresh.code == 0, fresh.out
    assert fresh.out.startswith("ok  worker: 1 running, last beat 0s ago")

    clock.advance(timedelta(seconds=89))
    assert run("health", env=tick).code == 0
    clock.advance(timedelta(seconds=2))
    stale = run("health", "--json", env=tick)
    assert stale.code == 1
    assert stale.json() == {
        "healthy": False,
        "checks": [
            {
                "name": "worker",
                "ok": False,
                "detail": "no worker beat in the last three ticks (90s): the last beat was 91s ago",
            }
        ],
    }
    assert run("health", env={"FOLLOWUP_TICK": "1m"}).code == 0  # three ticks are 3 minutes now

    # Paused sending (a refused login) is not healthy: nothing goes out.
    workers.beat(db, here, clock(), clock(), "535 authentication failed")
    paused = run("health", env=tick)
    assert paused.code == 1 and "sending paused: 535 authentication failed" in paused.out

    # --this-host: a worker of another host (another container) does not count for this one.
    workers.forget(db, here)
    workers.beat(db, "worker@elsewhere:1", clock(), clock(), None)
    assert run("health", env=tick).code == 0
    mine = run("health", "--this-host", env=tick)
    assert mine.code == 1 and f"no worker on {socket.gethostname()}" in mine.out
    db.dispose()


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (the handler's name)
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_health_checks_the_web_app_when_asked(workdir, run, clock, db_url):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    try:
        up = run("health", "--no-worker", "--web", url)
        assert up.code == 0 and f"ok  web: {url} answered 200" in up.out
        _Answer.status = 503
        down = run("health", "--no-worker", "--web", url)
        assert down.code == 1 and "503" in down.out
    finally:
        _Answer.status = 200
        server.shutdown()
        server.server_close()
    gone = run("health", "--no-worker", "--web", url)
    assert gone.code == 1 and "does not answer" in gone.out
    bad = run("health", "--no-worker", "--web", "ftp://x")
    assert bad.code == 2 and "not an http(s) URL" in bad.err
    assert run("health", "--no-worker").code == 2


def test_health_says_unhealthy_when_the_database_cannot_be_reached(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("health", env={"FOLLOWUP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.code == 1
    assert result.out.startswith("unhealthy  database: cannot be read:")


@pytest.mark.parametrize(
    "setting",
    [
        {"FOLLOWUP_TIMEZONE": "Mars/Olympus_Mons"},
        {"FOLLOWUP_SMTP_HOST": "smtp.example.org", "FOLLOWUP_FROM": ""},  # who would it be from?
        {"FOLLOWUP_REVIEW": "perhaps"},
    ],
)
def test_a_worker_with_bad_settings_exits_78_once_not_in_a_loop(tmp_path, db_url, setting):
    env = worker_env(db_url, {}, **setting)
    worker = start_worker(tmp_path, env)
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 78, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("followup: error: ") and "FOLLOWUP_" in lines[0]
    # Run once (cron), the same mistake is a usage error.
    once = start_worker(tmp_path, env, "--once")
    once.communicate(timeout=60)
    assert once.returncode == 2


def test_a_worker_that_cannot_reach_its_database_exits_for_a_restart(tmp_path):
    env = worker_env("postgresql://nobody@127.0.0.1:1/followup", {})
    worker = start_worker(tmp_path, env)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode not in (0, 78), err  # systemd and Compose try again later
    assert "cannot reach" in err


def test_the_worker_tells_systemd_it_is_ready_and_keeps_beating(tmp_path, db_url, mailserver):
    """Type=notify: READY=1 once the worker runs, WATCHDOG=1 with each heartbeat, STOPPING=1."""
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(30)
    seed_due(db_url, 3)
    env = worker_env(
        db_url, mailserver.env(), NOTIFY_SOCKET=str(path), FOLLOWUP_TICK="1s",
        FOLLOWUP_LOG_LEVEL="INFO",
    )  # fmt: skip
    worker = start_worker(tmp_path, env)
    log = LogReader(worker)
    heard: list[str] = []
    try:
        while not any(m.startswith("READY=1") for m in heard):
            heard.append(listener.recv(4096).decode())
        assert "STATUS=sending via 127.0.0.1" in heard[-1]
        while heard.count("WATCHDOG=1") < 3:  # three ticks: the heartbeat goes on
            heard.append(listener.recv(4096).decode())
        assert len(mailserver.received) == 3
        db = Database(db_url)
        (row,) = workers.everyone(db)
        db.dispose()
        assert row.name.endswith(f":{worker.pid}")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        log.finish()
    while "STOPPING=1" not in heard:
        heard.append(listener.recv(4096).decode())
    listener.close()
    assert worker.returncode == 0


def test_a_notification_reaches_an_abstract_socket_and_one_that_is_gone_is_never_fatal(
    tmp_path, caplog
):
    """systemd may name a socket in Linux's abstract namespace ("@..."); a socket that is gone
    (systemd restarted) costs a warning, never the worker."""
    import uuid

    from service.notify import notify

    name = f"followup-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        listener.settimeout(30)
        assert notify("READY=1", {"NOTIFY_SOCKET": "@" + name}) is True
        assert listener.recv(4096) == b"READY=1"
    gone = tmp_path / "gone.sock"
    assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": str(gone)}) is False
    assert "cannot tell systemd 'WATCHDOG'" in caplog.text
    # Not started by systemd: nothing to tell, and nothing said.
    caplog.clear()
    assert notify("READY=1", {}) is False and notify("READY=1", {"NOTIFY_SOCKET": "x"}) is False
    assert caplog.text == ""


def test_a_long_pass_keeps_beating(tmp_path, db_url, mailserver):
    """A backlog through a slow server takes many ticks: the worker shows alive all along."""
    original = mailserver.recorder.handle_DATA
    arrived = threading.Semaphore(0)

    async def slow(server, session, envelope):
        import asyncio

        await asyncio.sleep(0.3)
        arrived.release()
        return await original(server, session, envelope)

    mailserver.recorder.handle_DATA = slow
    seed_due(db_url, 12)
    db = Database(db_url)
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="1s", FOLLOWUP_BATCH_SIZE="100")
    worker = start_worker(tmp_path, env)
    beats = set()
    try:
        for _ in range(12):  # the whole backlog is one pass of ~3.6 s, more than three ticks
            assert arrived.acquire(timeout=30)
            beats |= {w.heartbeat_at for w in workers.everyone(db)}
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
        db.dispose()
    assert len(beats) >= 4, "the heartbeat stood still during the pass"


def test_service_install_writes_a_unit_for_this_followup_and_these_settings(
    workdir, run, tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("FOLLOWUP_DATABASE_URL")
    monkeypatch.delenv("FOLLOWUP_FROM")
    monkeypatch.delenv("FOLLOWUP_TIMEZONE")
    (workdir / ".env").write_text("FOLLOWUP_FROM=Ada Candidate <ada@candidate.example>\n")
    result = run("service", "install", "--user")
    assert result.code == 0, result.err
    unit = tmp_path / "config" / "systemd" / "user" / "followup-worker.service"
    text = unit.read_text()
    assert f"WorkingDirectory={workdir}\n" in text
    assert f"Environment=FOLLOWUP_ENV_FILE={workdir / '.env'}\n" in text
    assert "RestartPreventExitStatus=78\n" in text and "Type=notify\n" in text
    assert "systemctl --user enable --now followup-worker" in result.out
    # Written again only when asked: the user may have edited it.
    unit.write_text(text + "# mine\n")
    again = run("service", "install", "--user")
    assert again.code == 2 and "--force" in again.err
    assert run("service", "install", "--force").code == 0 and unit.read_text() == text
    assert run("service", "install", "--print").out == text


def test_the_documented_unit_is_the_one_followup_writes():
    shipped = (REPO / "docs" / "systemd" / "followup-worker.service").read_text()
    assert shipped == systemd.documented_unit()


def _verify(unit: Path) -> subprocess.CompletedProcess:
    runtime = unit.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        timeout=60,
    )


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (.ci/run installs it)"
    followup = Path(sys.executable).with_name("followup")
    unit = tmp_path / systemd.UNIT_NAME
    unit.write_text(
        systemd.unit_text(str(followup), workdir=tmp_path, env_file=tmp_path / "my settings.env")
    )
    result = _verify(unit)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # The check is real: a mistyped key is reported.
    unit.write_text(unit.read_text().replace("RestartPreventExitStatus", "RestartPreventExit"))
    assert "Unknown key" in _verify(unit).stderr


def test_health_of_a_running_server_and_worker(tmp_path, db_url, mailserver):
    """`followup serve --with-worker` (what `make run` starts): health says 0 while both run,
    and 1 once they stopped."""
    from browser import Server, wait_until

    env = worker_env(
        db_url, mailserver.env(), FOLLOWUP_TICK="1s", FOLLOWUP_WEB_PASSWORD="correct horse battery"
    )
    server = Server(tmp_path, env).wait_ready()

    def health() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "service", "health", "--web", server.url + "/healthz"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    try:
        wait_until(lambda: health().returncode == 0, "followup health saying 0")
        result = health()
        assert "ok  worker: 1 running" in result.stdout
        assert f"ok  web: {server.url}/healthz answered 200" in result.stdout
    finally:
        server.stop()
    stopped = health()
    assert stopped.returncode == 1
    assert stopped.stderr.startswith("followup: error: unhealthy: worker: no worker beat")
    assert "does not answer" in stopped.stdout


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"FOLLOWUP_REVIEW": "perhaps"}, "FOLLOWUP_REVIEW"),
        ({"FOLLOWUP_WEB_HOST": "0.0.0.0"}, "FOLLOWUP_WEB_PASSWORD"),  # public, no password
    ],
)
def test_serve_with_bad_settings_exits_78(tmp_path, db_url, setting, named):
    env = worker_env(db_url, {}, **setting)
    result = subprocess.run(
        [sys.executable, "-m", "service", "serve", "--port", "8099"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 78, result.stderr
    assert named in result.stderr and result.stderr.count("\n") == 1


def _serve(tmp_path, env, *args: str) -> subprocess.CompletedProcess:
    """`followup serve ARGS` that is expected to refuse to start (it would block otherwise)."""
    return subprocess.run(
        [sys.executable, "-m", "service", "serve", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_serve_on_a_port_another_program_uses_says_so_in_one_line(tmp_path, db_url):
    env = worker_env(db_url, {})
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        from_settings = _serve(tmp_path, env | {"FOLLOWUP_WEB_PORT": str(port)})
        from_flags = _serve(tmp_path, env, "--host", "127.0.0.1", "--port", str(port))
    # From the settings: a settings error (78, no restart loop); from a flag: a usage error.
    for result, code in ((from_settings, 78), (from_flags, 2)):
        assert result.returncode == code, result.stderr
        assert result.stderr.count("\n") == 1
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
        assert "choose one with --port or FOLLOWUP_WEB_PORT" in result.stderr


def test_a_new_password_is_refused_while_the_settings_set_one(tmp_path, db_url):
    env = worker_env(db_url, {}, FOLLOWUP_WEB_PASSWORD="correct horse battery")
    result = _serve(tmp_path, env, "--port", str(free_port()), "--new-password")
    assert result.returncode == 2, result.stderr
    assert (
        "--new-password: FOLLOWUP_WEB_PASSWORD is set; change it in .env instead" in result.stderr
    )


def test_without_a_password_set_one_is_made_at_the_first_start_and_renewed_on_request(
    tmp_path, db_url
):
    """What `make run` does for a new user: the password is printed once, works from then on,
    and `--new-password` replaces it."""
    from browser import Server

    def start(*args: str) -> tuple[Server, str]:
        server = Server(tmp_path, worker_env(db_url, {}), *args).wait_ready()
        said = ""
        for line in server.process.stdout:  # what it printed before it started serving
            said += line
            if line.startswith("open http"):
                break
        return server, said

    def logs_in(server: Server, password: str) -> bool:
        response = httpx.post(server.url + "/login", data={"password": password}, timeout=30)
        return response.status_code == 303

    server, said = start()
    try:
        made = said.split("only its hash is kept): ", 1)[1].split()[0]
        assert logs_in(server, made) and not logs_in(server, made.upper())
    finally:
        server.stop()
    server, said = start()
    try:
        assert "log in with the password printed when `followup serve` first started" in said
        assert made not in said and logs_in(server, made)
    finally:
        server.stop()
    server, said = start("--new-password")
    try:
        renewed = said.split("only its hash is kept): ", 1)[1].split()[0]
        assert renewed != made and logs_in(server, renewed) and not logs_in(server, made)
    finally:
        server.stop()


def test_healthz_answers_without_a_login_and_says_when_the_database_is_gone(web):
    response = web.get("/healthz")
    assert response.status_code == 200 and response.text == "ok\n"
    web.app.state.web.db = Database("postgresql+psycopg://nobody@127.0.0.1:1/x")
    gone = web.get("/healthz")
    assert gone.status_code == 503 and gone.text == "database unavailable\n"


def test_a_worker_told_to_wait_for_its_settings_starts_once_they_are_fixed(
    tmp_path, db_url, mailserver
):
    """In a container (restart: unless-stopped) a bad .env must not become a restart loop: the
    worker says what is wrong once, waits, and starts by itself when the file is fixed."""
    settings = tmp_path / "followup.env"
    settings.write_text("FOLLOWUP_REVIEW=perhaps\n")
    seed_due(db_url, 1)
    env = worker_env(
        db_url, mailserver.env(), FOLLOWUP_ENV_FILE=str(settings), FOLLOWUP_LOG_LEVEL="INFO"
    )
    worker = start_worker(tmp_path, env, "--wait-for-settings")
    log = LogReader(worker)
    try:
        log.wait_for("waiting for the settings to be fixed")
        assert log.count("FOLLOWUP_REVIEW") == 1  # said once, not every few seconds
        assert worker.poll() is None and not mailserver.received
        settings.write_text("FOLLOWUP_REVIEW=off\n")
        log.wait_for("worker started")
        while not mailserver.received:
            assert worker.poll() is None, log.text
            threading.Event().wait(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert worker.returncode == 0, log.finish()
