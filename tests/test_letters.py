"""How the mail reads: private notes stay private, and names, greetings and dates are written as
a careful person writes them; when in doubt, a follow-up waits for the user instead of guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from service.db import Database
from service.models import FollowUp, Kind

ALL_AT_ONCE = """
[window]
enabled = false

[[steps]]
name = "thank_you"
after = "0s"
template = "thank_you"
to = "interviewers"

[[steps]]
name = "question_follow_up"
after = "1h"
template = "question_follow_up"
to = "first"
when = "questions"

[[steps]]
name = "status_check"
after = "2h"
template = "status_check"
to = "first"

[[steps]]
name = "call_reminder"
after = "2h"
template = "call_reminder"
to = "me"

[[steps]]
name = "final_note"
after = "3h"
template = "final_note"
to = "first"
"""
SECRET = "Manager seemed disorganised; salary 120k, they lowballed me"


@pytest.fixture
def smtp(workdir, monkeypatch, mailserver):
    plan = workdir / "plan.toml"
    plan.write_text(ALL_AT_ONCE)
    monkeypatch.setenv("FOLLOWUP_PLAN", str(plan))
    for k, v in mailserver.env().items():
        monkeypatch.setenv(k, v)
    return mailserver


def text_of(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def run_all_steps(run, clock) -> None:
    for _ in range(4):
        assert run("worker", "--once").code == 0
        clock.advance(timedelta(hours=1, minutes=1))


def add(run, clock, *extra: str, tz: str = "UTC"):
    start = (clock() - timedelta(minutes=30)).astimezone(ZoneInfo(tz))
    result = run(
        "interview", "add", "--company", "Acme Corp", "--role", "Staff Engineer",
        "--at", start.strftime("%Y-%m-%d %H:%M"), "--tz", tz, "--duration", "30m",
        "--json", *extra,
    )  # fmt: skip
    assert result.code == 0, result.err
    return result


def statuses(db_url) -> dict[tuple[str, int | None], str]:
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.step, FollowUp.contact_id, FollowUp.status).where(
                FollowUp.kind == Kind.FOLLOWUP
            )
        ).all()
    db.dispose()
    return {(step, contact): status for step, contact, status in rows}


# --- private notes -----------------------------------------------------------------------------


def test_private_notes_reach_the_users_own_reminder_and_no_one_else(workdir, run, clock, smtp):
    run("migrate")
    add(
        run, clock,
        "--contact", "Jane Roe <jane@acme.example> | topic=the move to event sourcing",
        "--notes", SECRET, "--question", "How is on-call organised?",
    )  # fmt: skip
    run_all_steps(run, clock)
    to_jane = [r for r in smtp.received if r.rcpt_tos == ["jane@acme.example"]]
    to_me = [r for r in smtp.received if r.rcpt_tos == ["ada@candidate.example"]]
    assert len(to_jane) == 4  # thank-you, questions, status check, final note
    for received in to_jane:
        assert "salary" not in received.data.decode() and "disorganised" not in text_of(received)
    assert "I especially enjoyed our conversation about the move to event sourcing." in text_of(
        to_jane[0]
    )
    reminder = next(r for r in to_me if r.message["Subject"].startswith("Reminder"))
    assert SECRET in text_of(reminder)


def test_a_template_that_tries_to_mail_the_notes_fails_naming_the_cause(
    workdir, run, clock, smtp, db_url, monkeypatch
):
    mine = workdir / "my-templates"
    mine.mkdir()
    (mine / "thank_you.txt").write_text(
        "{% block subject %}Thanks{% endblock %}\n{% block body %}\n{{ contact.greeting }},\n\n"
        "About {{ interview.notes }}.\n{% endblock %}\n"
    )
    monkeypatch.setenv("FOLLOWUP_TEMPLATES_DIR", str(mine))
    run("migrate")
    add(run, clock, "--contact", "Jane Roe <jane@acme.example>", "--notes", SECRET)
    doctor = run("doctor")
    assert doctor.code == 1 and "notes" in doctor.out
    run("worker", "--once")
    assert not [r for r in smtp.received if r.rcpt_tos == ["jane@acme.example"]]
    assert statuses(db_url)[("thank_you", 1)] == "failed"


def test_each_interviewer_gets_a_note_of_their_own(workdir, run, clock, smtp):
    run("migrate")
    add(
        run, clock,
        "--contact", "Jane Roe <jane@acme.example> | topic=the move to event sourcing",
        "--contact", "Bob Lee <bob@acme.example> | topic=how on-call works",
    )  # fmt: skip
    run("worker", "--once")
    jane, bob = (
        next(text_of(r) for r in smtp.received if r.rcpt_tos == [who])
        for who in ("jane@acme.example", "bob@acme.example")
    )
    assert "event sourcing" in jane and "event sourcing" not in bob
    assert "how on-call works" in bob


def test_notes_that_would_read_alike_are_pointed_out(workdir, run, clock, smtp):
    run("migrate")
    result = add(
        run, clock,
        "--contact", "Jane Roe <jane@acme.example>", "--contact", "Bob Lee <bob@acme.example>",
    )  # fmt: skip
    assert "warning: the thank-you notes to Jane Roe and Bob Lee would read alike" in result.err
    assert result.json()["warnings"]


# --- names and greetings -----------------------------------------------------------------------


def test_greetings_use_the_title_and_the_right_name(workdir, run, clock, smtp):
    run("migrate")
    add(
        run, clock,
        "--contact", "Dr. Lucius Fox <lucius@acme.example> | topic=applied research",
        "--contact", "Roe, Jane <jane@acme.example> | topic=the roadmap",
        "--contact", "bruce wayne <bruce@acme.example> | topic=the board",
    )  # fmt: skip
    run("worker", "--once")
    first_lines = {r.rcpt_tos[0]: text_of(r).splitlines()[0] for r in smtp.received}
    assert first_lines["lucius@acme.example"] == "Dear Dr. Fox,"
    assert first_lines["jane@acme.example"] == "Dear Jane,"
    assert first_lines["bruce@acme.example"] == "Dear Bruce,"


def test_a_name_read_with_doubt_is_held_for_review_even_with_review_off(
    workdir, run, clock, smtp, db_url
):
    run("migrate")
    add(run, clock, "--contact", "J. Roe <jroe@acme.example>")
    result = run("worker", "--once")
    assert "1 held for review" in result.out
    # Only the digest went out, to the user: it says what waits and why.
    assert [r.rcpt_tos for r in smtp.received] == [["ada@candidate.example"]]
    assert "waiting for your review" in smtp.received[0].message["Subject"]
    assert statuses(db_url)[("thank_you", 1)] == "pending_review"
    queued = run("queue", "--json").json()
    assert len(queued) == 1
    assert any("'J.' is only an initial" in w for w in queued[0]["warnings"])
    assert "held for your review" in queued[0]["last_error"]
    # The user may set the greeting; then the next text goes out by itself.
    fixed = run(
        "interview", "update", "1", "--greeting", "jroe@acme.example=Dear Ms. Roe", "--json"
    )
    assert fixed.code == 0, fixed.err
    assert run("queue", "--json").json()[0]["body"].startswith("Dear Ms. Roe,\n")
    assert run("approve", str(queued[0]["id"])).code == 0
    run("worker", "--once")
    assert text_of(smtp.received[-1]).startswith("Dear Ms. Roe,\n")


def test_a_greeting_given_with_the_contact_is_used_as_written(workdir, run, clock, smtp):
    run("migrate")
    add(run, clock, "--contact", "Jane <jane@acme.example> | greeting=Hi Jane | topic=teams")
    run("worker", "--once")
    assert text_of(smtp.received[0]).startswith("Hi Jane,\n")


# --- dates and order ---------------------------------------------------------------------------


def test_dates_read_as_the_recipients_locale_writes_them_and_the_date_header_is_local(
    workdir, run, clock, smtp
):
    clock.set(datetime(2026, 11, 26, 20, 0, tzinfo=UTC))  # Thursday 15:00 in New York
    run("migrate")
    add(
        run, clock,
        "--contact", "Jane Roe <jane@acme.example> | topic=teams",
        "--decision-date", "2026-11-27", tz="America/New_York",
    )  # fmt: skip
    run_all_steps(run, clock)
    status = next(r for r in smtp.received if "I am writing to follow up" in text_of(r))
    text = text_of(status)
    assert "on Thursday, November 26, 2026 for the Staff Engineer position" in text
    # The decision-date sentence is its own paragraph.
    assert (
        "Acme Corp.\n\nYou mentioned a decision was expected by Friday, November 27, 2026" in text
    )
    # Date: the user's own zone (FOLLOWUP_TIMEZONE=Europe/Berlin), as their mail client writes it.
    assert status.message["Date"].endswith("+0100")


def test_a_decision_date_on_the_interview_day_keeps_the_thank_you_first_and_alone(
    workdir, run, clock, smtp
):
    run("migrate")
    day = clock().strftime("%Y-%m-%d")
    result = add(run, clock, "--contact", "Jane Roe <jane@acme.example> | topic=teams",
                 "--decision-date", day)  # fmt: skip
    planned = {
        f["step"]: f["due_at"]
        for f in result.json()["followups"]
        if f["to"] != "ada@candidate.example"
    }
    assert planned["thank_you"] < planned["status_check"] < planned["final_note"]
    run_all_steps(run, clock)
    for _ in range(10):
        clock.advance(timedelta(days=1))
        run("worker", "--once")
    subjects = [r.message["Subject"] for r in smtp.received if r.rcpt_tos == ["jane@acme.example"]]
    assert subjects[0] == "Thank you for the Staff Engineer interview"
    assert all(s.startswith("Re: Thank you") for s in subjects[1:])
