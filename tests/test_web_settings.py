"""The web app serves with the settings in force (issue 19): a change to `.env` or the plan file
shows on the next request without a restart (and at once on SIGHUP); a change that does not
check out keeps the last good settings and says what is wrong; nothing is read again while
nothing changed. In process on both databases, and `followup serve` as a real process."""

from __future__ import annotations

import os
import signal
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import API_TOKEN, IMMEDIATE_PLAN, WEB_PASSWORD

from service.config import load_settings
from service.web.views import when

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ADA = "Ada Lovelace <ada@lovelace.example>"
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")


def write(path, text: str, moment: int) -> None:
    """Write a settings file with an explicit modification time (no waiting for the clock)."""
    path.write_text(text)
    os.utime(path, (moment, moment))


@pytest.fixture
def env_file(web_env, monkeypatch):
    """The .env the settings come from: FROM and TIMEZONE only there, not in the environment
    (which would win over the file)."""
    monkeypatch.delenv("FOLLOWUP_FROM")
    monkeypatch.delenv("FOLLOWUP_TIMEZONE")
    path = web_env / ".env"
    write(path, "FOLLOWUP_TIMEZONE=Europe/Berlin\n", 1_000_000)
    return path


@pytest.fixture
def reads(monkeypatch):
    """Each time the web app reads the settings again."""
    done: list[object] = []

    def load():
        done.append(None)
        return load_settings()

    return done, load


@pytest.fixture
def live(env_file, db, clock, reads):
    """A client of the app as `followup serve` makes it: settings read again when they change."""
    import warnings

    from service.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette: "install httpx2 instead"
        from fastapi.testclient import TestClient

    app = create_app(load_settings(), db, clock=clock, load=reads[1])
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        client.app_state = app.state
        yield client


@pytest.fixture
def waiting(run, clock, monkeypatch, record_interview, env_file):
    """A thank-you waiting for review, due at this moment (UTC)."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    record_interview()
    clock.advance(timedelta(hours=20))
    assert run("worker", "--once").code == 0


def due_of(client) -> datetime:
    [item] = client.get(
        "/api/v1/followups", headers=AUTH, params={"status": "pending_review"}
    ).json()["items"]
    return datetime.fromisoformat(item["due_at"])


def test_review_and_setup_show_from_and_zone_set_in_env_while_serving(
    waiting, live, env_file, reads
):
    live.post("/login", data={"password": WEB_PASSWORD})
    due = due_of(live)
    page = live.get("/review").text
    assert "From</dt><dd>Your Name &lt;you@example.invalid&gt;" in page
    assert when(due, BERLIN) in page and "New due time (Europe/Berlin)" in page
    assert "FOLLOWUP_FROM is not set" in live.get("/setup").text

    write(env_file, f'FOLLOWUP_FROM="{ADA}"\nFOLLOWUP_TIMEZONE=America/New_York\n', 1_000_060)
    page = live.get("/review").text
    assert "From</dt><dd>Ada Lovelace &lt;ada@lovelace.example&gt;" in page
    assert when(due, NEW_YORK) in page and "New due time (America/New_York)" in page
    assert when(due, BERLIN) not in page and "you@example.invalid" not in page
    assert "FOLLOWUP_FROM is not set" not in live.get("/setup").text
    # The From shown is the From that goes out: the message as it will be sent says it too.
    [followup_id] = [
        i["id"]
        for i in live.get(
            "/api/v1/followups", headers=AUTH, params={"status": "pending_review"}
        ).json()["items"]
    ]
    assert (
        "From: Ada Lovelace &lt;ada@lovelace.example&gt;"
        in live.get(f"/followups/{followup_id}").text
    )
    assert len(reads[0]) == 1  # read once, when the file changed


def test_the_settings_are_not_read_again_while_nothing_changed(live, env_file, reads):
    live.post("/login", data={"password": WEB_PASSWORD})
    web = live.app_state.web
    first = web.settings
    for path in ("/", "/review", "/setup", "/interviews"):
        assert live.get(path).status_code == 200
    assert live.get("/api/v1/followups", headers=AUTH).status_code == 200
    assert reads[0] == [] and web.settings is first

    web.watch.ask()  # what SIGHUP does: read again, changed or not
    assert live.get("/").status_code == 200
    assert len(reads[0]) == 1 and web.settings is not first
    assert live.get("/").status_code == 200
    assert len(reads[0]) == 1


def test_a_broken_env_change_keeps_the_last_good_settings_and_says_what_is_wrong(
    waiting, live, env_file
):
    live.post("/login", data={"password": WEB_PASSWORD})
    due = due_of(live)
    write(env_file, "FOLLOWUP_TIMEZONE=Mars/Olympus_Mons\n", 1_000_060)
    page = live.get("/review").text
    assert "does not check out" in page
    assert "FOLLOWUP_TIMEZONE=&#39;Mars/Olympus_Mons&#39; is not accepted" in page
    assert when(due, BERLIN) in page  # served as before
    assert live.get("/api/v1/followups", headers=AUTH).status_code == 200
    live.cookies.clear()  # a visitor who has not logged in learns nothing about the settings
    assert "Mars/Olympus_Mons" not in live.get("/login").text
    live.post("/login", data={"password": WEB_PASSWORD})

    write(env_file, "FOLLOWUP_TIMEZONE=America/New_York\n", 1_000_120)
    page = live.get("/review").text
    assert "does not check out" not in page and when(due, NEW_YORK) in page


def test_a_plan_file_change_shows_on_the_setup_page(immediate_plan, live):
    live.post("/login", data={"password": WEB_PASSWORD})
    assert "thank_you, status_check" in live.get("/setup").text

    changed = IMMEDIATE_PLAN.replace('name = "status_check"', 'name = "checking_in"')
    write(immediate_plan, changed, 1_000_060)
    page = live.get("/setup").text
    assert "thank_you, checking_in" in page and "does not check out" not in page

    write(immediate_plan, "[[steps]]\nname = \n", 1_000_120)  # not TOML
    page = live.get("/setup").text
    assert "does not check out" in page and f"{immediate_plan}: not valid TOML" in page


def test_followup_serve_reads_the_settings_again_at_once_on_sighup(tmp_path, db_url):
    """The real `followup serve --with-worker`: a change its look at the files cannot see (same
    size, inode and modification time) is read at once on SIGHUP, by the worker beside it too."""
    import httpx
    from browser import Server
    from processes import worker_env

    env = worker_env(db_url, {}, FOLLOWUP_WEB_PASSWORD=WEB_PASSWORD, FOLLOWUP_LOG_LEVEL="INFO")
    del env["FOLLOWUP_TIMEZONE"]
    env_file = tmp_path / ".env"
    write(env_file, "FOLLOWUP_TIMEZONE=Europe/Berlin\n", 1_000_000)
    server = Server(tmp_path, env).wait_ready()
    try:
        server.log.wait_for("worker started")
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.post("/login", data={"password": WEB_PASSWORD})
            assert "Europe/Berlin" in client.get("/setup").text
            write(env_file, "FOLLOWUP_TIMEZONE=Europe/Zurich\n", 1_000_000)
            assert "Europe/Berlin" in client.get("/setup").text  # the files look the same
            server.process.send_signal(signal.SIGHUP)
            # Read again at once, by the server and by the worker, without a request.
            server.log.wait_for("timezone: Europe/Berlin -> Europe/Zurich", times=2)
            page = client.get("/setup").text
            assert "Europe/Zurich" in page and "Europe/Berlin" not in page
    finally:
        text = server.stop()
    assert "worker stopped" in text


def test_a_password_changed_in_env_is_the_one_that_logs_in_and_cannot_be_removed_while_public(
    env_file, monkeypatch, db, clock
):
    import warnings

    from service.web.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    monkeypatch.delenv("FOLLOWUP_WEB_PASSWORD")
    public = "FOLLOWUP_TIMEZONE=Europe/Berlin\nFOLLOWUP_WEB_HOST=0.0.0.0\n"
    write(env_file, public + "FOLLOWUP_WEB_PASSWORD=first-password\n", 1_000_000)
    app = create_app(load_settings(), db, clock=clock, load=load_settings)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        write(env_file, public + "FOLLOWUP_WEB_PASSWORD=second-password\n", 1_000_060)
        assert client.post("/login", data={"password": "first-password"}).status_code == 401
        assert client.post("/login", data={"password": "second-password"}).status_code == 200

        write(env_file, public, 1_000_120)  # no password, yet listening beyond this machine
        page = client.get("/").text
        assert "FOLLOWUP_WEB_PASSWORD is not set while serving on 0.0.0.0" in page
        assert "second-password" not in page
        client.cookies.clear()
        assert client.post("/login", data={"password": "second-password"}).status_code == 200
