"""A user in Chromium: logs in, records an interview and sees its schedule, approves, edits and
rejects in the review queue, approves from a digest's link (once), and does the approve flow
with the keyboard alone on a phone-wide screen. Against the real `followup serve --with-worker`
process, a real database and an SMTP sink: what the sink receives is what the page showed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from browser import Server, browser, plain_text, received_by, statuses, wait_until
from conftest import API_TOKEN, IMMEDIATE_PLAN, WEB_PASSWORD
from processes import worker_env

CONTACTS = (
    "Jane Roe <jane@acme.example> | Engineering Manager | topic=the move to event sourcing\n"
    "Bob Lee <bob@acme.example> | topic=how on-call works"
)


@pytest.fixture
def server(workdir, db_url, mailserver):
    """The real server and worker: review on, a plan whose thank-yous are due at once."""
    plan = workdir / "plan.toml"
    plan.write_text(IMMEDIATE_PLAN)
    env = worker_env(
        db_url,
        mailserver.env(),
        FOLLOWUP_REVIEW="on",
        FOLLOWUP_TICK="1s",
        FOLLOWUP_PLAN=str(plan),
        FOLLOWUP_WEB_PASSWORD=WEB_PASSWORD,
        FOLLOWUP_API_TOKEN=API_TOKEN,
        FOLLOWUP_LOG_LEVEL="INFO",
    )
    running = Server(workdir, env).wait_ready()
    yield running
    log = running.stop()
    assert "Traceback" not in log, log


def log_in(page, server: Server) -> None:
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/login")
    page.fill("#password", WEB_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")


def record_by_api(server: Server) -> dict:
    """An interview that ended half an hour ago, recorded as a script would."""
    start = datetime.now(UTC) - timedelta(hours=1)
    response = httpx.post(
        server.url + "/api/v1/interviews",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
        json={
            "company": "Acme Corp",
            "role": "Staff Engineer",
            "at": f"{start:%Y-%m-%d %H:%M}",
            "tz": "UTC",
            "duration": "30m",
            "contacts": CONTACTS.split("\n"),
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_log_in_record_an_interview_then_approve_edit_and_reject_in_the_queue(
    server, db_url, mailserver
):
    with browser() as chromium:
        page = chromium.new_page()
        log_in(page, server)

        page.click("text=Interviews")
        page.click("text=Record an interview")
        start = datetime.now(UTC) - timedelta(hours=1)
        page.fill("#company", "Acme Corp")
        page.fill("#role", "Staff Engineer")
        page.fill("#at", f"{start:%Y-%m-%dT%H:%M}")
        page.fill("#tz", "UTC")
        page.fill("#duration", "30m")
        page.fill("#contacts", CONTACTS)
        page.click("text=Record the interview")
        assert "recorded: its follow-ups are below" in page.inner_text(".flashes")
        schedule = page.inner_text("table.schedule")
        assert schedule.count("thank you") == 2 and "status check" in schedule
        assert "Jane Roe" in schedule and "Bob Lee" in schedule

        waiting = wait_until(
            lambda: (
                len(statuses(db_url, "pending_review")) == 3 and statuses(db_url, "pending_review")
            ),
            "the worker putting three follow-ups up for review",
        )
        jane, bob, status_check = waiting

        # Approve Jane's thank-you: the sink receives exactly the text the page showed.
        page.goto(server.url + "/review")
        shown = page.text_content(f"#f{jane} pre.text")
        assert shown.startswith("Dear Jane,")
        page.click(f"#f{jane} button:has-text('Approve')")
        assert f"Follow-up {jane} is approved" in page.inner_text(".flashes")
        sent = wait_until(lambda: received_by(mailserver, "jane@acme.example"), "mail to Jane")
        assert plain_text(sent) == shown

        # Edit Bob's, then approve: the sink receives the edited text byte for byte.
        page.click(f"#f{bob} a:has-text('Edit')")
        typed = "Dear Bob,\n\nThank you for the tour of the on-call rota — très utile.\n\nAda"
        page.fill("#subject", "Thank you, Bob")
        page.fill("#body", typed)
        page.click("text=Save and approve")
        assert f"Follow-up {bob} is saved and approved" in page.inner_text(".flashes")
        sent = wait_until(lambda: received_by(mailserver, "bob@acme.example"), "mail to Bob")
        assert plain_text(sent).encode() == (typed + "\n").encode()
        assert sent.message["Subject"] == "Thank you, Bob"

        # Reject the status check: it is never sent.
        page.click(f"#f{status_check} button:has-text('Reject')")
        assert f"Follow-up {status_check} is rejected" in page.inner_text(".flashes")
        assert statuses(db_url, "rejected") == [status_check]
        assert "Nothing waits for review" in page.inner_text("main")


def test_approve_from_the_digest_link_once(server, db_url, mailserver):
    record_by_api(server)
    digest = wait_until(
        lambda: received_by(mailserver, "ada@candidate.example"), "the review digest to the user"
    )
    links = re.findall(r"(http://127\.0\.0\.1:\d+/approve/\S+)", plain_text(digest))
    assert len(links) == 3
    wanted = statuses(db_url, "pending_review")[0]
    with browser() as chromium:
        page = chromium.new_page()  # not logged in: the link is the credential
        page.goto(links[0])
        assert page.inner_text("h1") == f"Approve follow-up #{wanted}?"
        shown = page.text_content("pre.text")
        assert statuses(db_url, "approved") == []  # opening the link approved nothing
        page.click("button:has-text('Approve')")
        assert page.inner_text("h1") == "Approved"
        sent = wait_until(lambda: received_by(mailserver, "jane@acme.example"), "mail to Jane")
        assert plain_text(sent) == shown

        page.goto(links[0])
        assert page.inner_text("h1") == "This link cannot be used"
        assert "was used already" in page.inner_text("main")


@pytest.mark.parametrize("backend", ["sqlite"])  # the flow, not the database, is under test
def test_the_approve_flow_with_the_keyboard_only_on_a_phone(server, db_url, mailserver):
    record_by_api(server)
    wait_until(lambda: len(statuses(db_url, "pending_review")) == 3, "three follow-ups in review")
    first = statuses(db_url, "pending_review")[0]
    with browser() as chromium:
        page = chromium.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        page.goto(server.url + "/")
        # The password field takes the focus by itself (autofocus, applied after the page
        # loaded): wait for it, not for the machine to be fast enough, before typing.
        page.wait_for_function("document.activeElement.id === 'password'")
        page.keyboard.type(WEB_PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(server.url + "/")

        def tab_to(selector: str) -> None:
            for _ in range(80):
                page.keyboard.press("Tab")
                if page.evaluate("s => document.activeElement.matches(s)", selector):
                    return
            raise AssertionError(f"Tab never reached {selector}")

        tab_to("nav a[href='/review']")
        page.keyboard.press("Enter")
        page.wait_for_url(server.url + "/review")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing off-screen
        shown = page.text_content(f"#f{first} pre.text")
        tab_to(f"#f{first} button.primary")
        page.keyboard.press("Enter")
        page.wait_for_selector(".flashes")
        assert f"Follow-up {first} is approved" in page.inner_text(".flashes")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        sent = wait_until(lambda: received_by(mailserver, "jane@acme.example"), "mail to Jane")
        assert plain_text(sent) == shown
