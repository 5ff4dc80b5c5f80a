"""The pages do what the CLI does, through the same functions: the review queue (approve with
the race rules, edit, reject, snooze, approve all after a confirmation with the count), the
interview forms (errors next to the field, nothing written), the set-up check with secrets
masked, and the digest's single-use approve links. ASGI-level, on both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import API_TOKEN, WEB_PASSWORD, csrf_of

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def queue_two(run, clock, monkeypatch, record_interview):
    """Record an interview with two interviewers; the worker puts both thank-yous in review."""
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    interview = record_interview(
        contacts=(
            "Jane Roe <jane@acme.example> | topic=the move to event sourcing",
            "Bob Lee <bob@acme.example> | topic=how on-call works",
        )
    )
    clock.advance(timedelta(hours=20))
    assert run("worker", "--once").code == 0
    return interview


@pytest.fixture
def two_waiting(web, run, clock, monkeypatch, record_interview):
    """Two thank-yous in the queue, and the client logged in (after the clock moved)."""
    interview = queue_two(run, clock, monkeypatch, record_interview)
    logged_in = web
    logged_in.post("/login", data={"password": WEB_PASSWORD})
    waiting = [
        f["id"]
        for f in logged_in.get(
            "/api/v1/followups", headers=AUTH, params={"status": "pending_review"}
        ).json()["items"]
    ]
    assert len(waiting) == 2
    return interview, waiting


def test_the_queue_shows_each_message_whole_and_approve_sends_exactly_it(web, two_waiting):
    logged_in = web
    _, (first, second) = two_waiting
    page = logged_in.get("/review").text
    assert "Review queue (2)" in page
    assert "From</dt><dd>Ada Candidate &lt;ada@candidate.example&gt;" in page
    assert "Jane Roe &lt;jane@acme.example&gt;" in page and "Dear Jane," in page
    seen = re.search(rf'/review/{first}/approve">.*?name="seen" value="(\w+)"', page, re.S)[1]
    done = logged_in.post(f"/review/{first}/approve", data={"csrf": csrf_of(page), "seen": seen})
    assert f"Follow-up {first} is approved" in done.text
    assert "Review queue (1)" in done.text
    again = logged_in.post(f"/review/{first}/approve", data={"csrf": csrf_of(page), "seen": seen})
    assert f"follow-up {first} is approved: only a follow-up waiting for review" in again.text


def test_approving_text_that_changed_meanwhile_says_so(web, two_waiting, clock):
    logged_in = web
    _, (first, _second) = two_waiting
    page = logged_in.get("/review").text
    seen = re.search(rf'/review/{first}/approve">.*?name="seen" value="(\w+)"', page, re.S)[1]
    logged_in.put(
        f"/api/v1/followups/{first}/text",
        headers=AUTH,
        json={"subject": "Changed", "body": "Dear Jane,\n\nSomeone else wrote this.\n"},
    )
    response = logged_in.post(
        f"/review/{first}/approve", data={"csrf": csrf_of(page), "seen": seen}
    )
    assert f"follow-up {first} changed since you saw it: review it again" in response.text
    assert "Someone else wrote this." in response.text  # the queue shows the new text


def test_edit_is_checked_then_approved_and_reject_and_snooze_work(web, two_waiting):
    logged_in = web
    _, (first, second) = two_waiting
    form = logged_in.get(f"/review/{first}/edit").text
    refused = logged_in.post(
        f"/review/{first}/edit",
        data={"csrf": csrf_of(form), "subject": "Thanks", "body": "Dear {{ name }},\r\n"},
    )
    assert refused.status_code == 422 and "leftover template braces" in refused.text
    assert "Dear {{ name }}," in refused.text  # what the user typed comes back
    saved = logged_in.post(
        f"/review/{first}/edit",
        data={
            "csrf": csrf_of(form),
            "subject": "Thanks, Jane",
            "body": "Dear Jane,\r\n\r\nThanks!",
        },
    )
    assert f"Follow-up {first} is saved and approved" in saved.text
    shown = logged_in.get(f"/api/v1/followups/{first}", headers=AUTH).json()
    assert (shown["status"], shown["subject"], shown["body"]) == (
        "approved", "Thanks, Jane", "Dear Jane,\n\nThanks!\n"
    )  # fmt: skip

    page = logged_in.get("/review").text
    snoozed = logged_in.post(
        f"/review/{second}/snooze", data={"csrf": csrf_of(page), "until": "2026-09-10T09:30"}
    )
    assert "now waits until 2026-09-10 09:30" in snoozed.text
    due = logged_in.get(f"/api/v1/followups/{second}", headers=AUTH).json()["due_at"]
    assert due == "2026-09-10T07:30:00Z"  # 09:30 in Europe/Berlin
    past = logged_in.post(
        f"/review/{second}/snooze", data={"csrf": csrf_of(page), "until": "2020-01-01T00:00"}
    )
    assert "the new time is in the past" in past.text
    rejected = logged_in.post(f"/review/{second}/reject", data={"csrf": csrf_of(page)})
    assert f"Follow-up {second} is rejected" in rejected.text
    assert "Nothing waits for review" in rejected.text


def test_approve_all_asks_first_naming_the_count_and_leaves_warnings(web, two_waiting, db_url):
    logged_in = web
    from service.db import Database
    from service.models import Contact

    interview, (first, second) = two_waiting
    db = Database(db_url)  # a name that gives pause: that follow-up waits to be read
    with db.transaction() as session:
        contact = session.get(Contact, interview["contacts"][1]["id"])
        contact.name = "Recruiting Team"
    db.dispose()
    assert "Approve all…" in logged_in.get("/review").text
    confirm = logged_in.get("/review/approve-all").text
    assert "Approve 1 follow-up(s)?" in confirm and "Yes, approve all 1" in confirm
    assert "Left for you to read (1)" in confirm
    assert logged_in.get("/api/v1/followups", headers=AUTH,
                         params={"status": "approved"}).json()["items"] == []  # fmt: skip
    seen = re.findall(r'name="seen" value="(\d+:\w+)"', confirm)
    assert [int(s.split(":")[0]) for s in seen] == [first]
    done = logged_in.post("/review/approve-all", data={"csrf": csrf_of(confirm), "seen": seen})
    assert "1 follow-up(s) approved." in done.text
    statuses = {
        f["id"]: f["status"]
        for f in logged_in.get("/api/v1/followups", headers=AUTH).json()["items"]
    }
    assert statuses[first] == "approved" and statuses[second] == "pending_review"


def test_interview_form_errors_sit_next_to_the_field_and_nothing_is_written(logged_in):
    form = logged_in.get("/interviews/new").text
    data = {
        "csrf": csrf_of(form),
        "company": "Initech",
        "role": "Engineer",
        "at": "2026-09-07T10:00",
        "tz": "Europe/Berlin",
        "duration": "45",
        "contacts": "Peter Gibbons <peter@initech.example> | topic=the TPS reports",
    }
    response = logged_in.post("/interviews/new", data=data)
    assert response.status_code == 422
    field = re.search(r'<div class="field invalid">\s*<label for="(\w+)"', response.text)[1]
    assert field == "duration" and "has no unit" in response.text
    assert 'value="Initech"' in response.text  # the form keeps what was typed
    assert logged_in.get("/api/v1/interviews", headers=AUTH).json()["items"] == []

    added = logged_in.post("/interviews/new", data=data | {"duration": "45m"})
    assert "recorded: its follow-ups are below" in added.text
    assert "thank you" in added.text and "Europe/Berlin" in added.text
    interview = logged_in.get("/api/v1/interviews", headers=AUTH).json()["items"][0]

    edit = logged_in.get(f"/interviews/{interview['id']}/edit").text
    assert "Peter Gibbons &lt;peter@initech.example&gt; | topic=the TPS reports" in edit
    moved = logged_in.post(
        f"/interviews/{interview['id']}/edit",
        data={k: v for k, v in data.items()}
        | {"csrf": csrf_of(edit), "duration": "45m", "at": "2026-09-08T10:00"},  # fmt: skip
    )
    assert "re-timed" in moved.text and "Interview 1 saved" in moved.text.replace(
        f"Interview {interview['id']}", "Interview 1"
    )
    closed = logged_in.post(
        f"/interviews/{interview['id']}/close",
        data={"csrf": csrf_of(moved.text), "outcome": "offer"},
    )
    assert "closed (offer)" in closed.text and "follow-up(s) cancelled" in closed.text


def test_the_setup_check_shows_doctor_with_secrets_masked(logged_in, monkeypatch):
    page = logged_in.get("/setup").text
    assert "settings" in page and "database" in page
    assert "correct horse" not in page and API_TOKEN not in page
    assert "FOLLOWUP_API_TOKEN (set, ****)" in page


# --- approve links of the digest --------------------------------------------------------------


def digest_links(client) -> list[str]:
    notes = client.get("/api/v1/followups", headers=AUTH).json()["items"]
    digest = next(f for f in notes if f["step"] == "review_digest")
    body = client.get(f"/api/v1/followups/{digest['id']}", headers=AUTH).json()["body"]
    return re.findall(r"http://127\.0\.0\.1:8080(/approve/\S+)", body)


def test_a_digest_link_shows_the_message_and_only_its_post_approves_once(
    web, run, clock, monkeypatch, record_interview
):
    queue_two(run, clock, monkeypatch, record_interview)
    first, second = digest_links(web)
    shown = web.get(first)
    assert shown.status_code == 200 and "Approve follow-up #" in shown.text
    assert "Dear Jane," in shown.text
    assert web.get(first).status_code == 200  # a mail scanner's GETs approve nothing
    assert web.get("/api/v1/followups", headers=AUTH,
                   params={"status": "approved"}).json()["items"] == []  # fmt: skip

    seen = re.search(r'name="seen" value="(\w+)"', shown.text)[1]
    no_csrf = web.post(first, data={"seen": seen})
    assert no_csrf.status_code == 403
    approved = web.post(first, data={"csrf": csrf_of(shown.text), "seen": seen})
    assert approved.status_code == 200 and "is approved" in approved.text
    for again in (web.get(first), web.post(first, data={"csrf": csrf_of(shown.text)})):
        assert again.status_code == 410 and "was used already" in again.text

    forged = first[:-3] + ("abc" if not first.endswith("abc") else "xyz")
    for bad in (forged, "/approve/nonsense", second.split(".")[0] + ".AAAA"):
        response = web.get(bad)
        assert response.status_code == 410 and "not valid" in response.text


def test_a_digest_link_expires_with_the_review_window(
    web, run, clock, monkeypatch, record_interview
):
    queue_two(run, clock, monkeypatch, record_interview)
    link = digest_links(web)[0]
    clock.set(datetime(2026, 9, 20, tzinfo=UTC))
    response = web.get(link)
    assert response.status_code == 410 and "expired" in response.text


def test_without_the_web_address_the_digest_has_no_links(web, run, clock, monkeypatch,
                                                         record_interview):  # fmt: skip
    monkeypatch.delenv("FOLLOWUP_WEB_URL")
    queue_two(run, clock, monkeypatch, record_interview)
    assert digest_links(web) == []


def test_the_interview_form_sets_and_resets_the_language_of_its_follow_ups(logged_in):
    form = logged_in.get("/interviews/new").text
    data = {
        "csrf": csrf_of(form),
        "company": "Siemens",
        "role": "Engineer",
        "at": "2026-09-07T10:00",
        "tz": "Europe/Berlin",
        "duration": "45m",
        "contacts": "Frau Jana Roe <jana@siemens.example>",
        "language": "klingon",
    }
    refused = logged_in.post("/interviews/new", data=data)
    assert refused.status_code == 422
    field = re.search(r'<div class="field invalid">\s*<label for="(\w+)"', refused.text)[1]
    assert field == "language"
    logged_in.post("/interviews/new", data=data | {"language": "de"})
    (interview,) = logged_in.get("/api/v1/interviews", headers=AUTH).json()["items"]
    assert interview["language"] == "de"
    edit = logged_in.get(f"/interviews/{interview['id']}/edit").text
    assert 'name="language" type="text" value="de"' in edit
    logged_in.post(
        f"/interviews/{interview['id']}/edit", data=data | {"csrf": csrf_of(edit), "language": ""}
    )
    again = logged_in.get(f"/api/v1/interviews/{interview['id']}", headers=AUTH).json()
    assert again["language"] is None
