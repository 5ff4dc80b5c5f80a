"""`followup import` and `followup export --ics` as a user runs them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from icalendar import Calendar
from sqlalchemy import func, select

from service.db import Database
from service.models import Event, FollowUp, Interview

CALENDAR = Path(__file__).parent / "data" / "calendar"
GOOGLE, UPDATED = CALENDAR / "google-invite.ics", CALENDAR / "google-updated.ics"
OUTLOOK, CANCELLED = CALENDAR / "outlook-invite.ics", CALENDAR / "outlook-cancelled.ics"


def counts(db_url) -> tuple[int, int, int]:
    db = Database(db_url)
    with db.transaction() as session:
        found = tuple(
            session.scalar(select(func.count()).select_from(t))
            for t in (Interview, FollowUp, Event)
        )
    db.dispose()
    return found


def schedule(run, interview_id: int) -> dict[str, dict]:
    rows = run("schedule", "--all", "--interview", str(interview_id), "--json").json()
    return {f"{r['step']}:{r['to']}": r for r in rows}


def test_an_invitation_is_recorded_with_its_plan_after_a_dry_run_shows_it(
    workdir, run, clock, db_url
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    dry = run("import", "--dry-run", str(GOOGLE))
    assert dry.code == 0, dry.err
    assert "would be added, 5 follow-up(s) planned" in dry.out
    assert "thank_you to Jane Roe <jane@acme.example>" in dry.out
    assert "dry run, nothing written" in dry.out
    assert counts(db_url) == (0, 0, 0)

    done = run("import", "--json", str(GOOGLE))
    assert done.code == 0, done.err
    [stored] = done.json()["interviews"]
    assert stored["action"] == "added"
    shown = run("interview", "show", str(stored["interview_id"]), "--json").json()
    assert (shown["company"], shown["role"]) == ("Acme Corp", "Staff Engineer")
    # The candidate herself and the meeting room are not interviewers.
    assert [c["email"] for c in shown["contacts"]] == ["jane@acme.example", "bob@acme.example"]
    assert {f["step"] for f in shown["followups"]} >= {"thank_you", "status_check"}


def test_the_updated_invitation_moves_the_follow_ups_and_sends_approved_text_back_to_review(
    workdir, run, clock, monkeypatch
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    monkeypatch.setenv("FOLLOWUP_REVIEW_LEAD", "30d")
    run("migrate")
    interview_id = run("import", "--json", str(GOOGLE)).json()["interviews"][0]["interview_id"]
    run("worker", "--once")  # into the review queue
    jane = schedule(run, interview_id)["thank_you:jane@acme.example"]
    assert run("approve", str(jane["id"])).code == 0

    again = run("import", str(GOOGLE))
    assert again.code == 0 and "SEQUENCE 0 is the same version: nothing changed" in again.out

    moved = run("import", str(UPDATED))
    assert moved.code == 0, moved.err
    assert "was updated" in moved.out and "re-timed  thank_you to Jane Roe" in moved.out
    after = schedule(run, interview_id)["thank_you:jane@acme.example"]
    assert after["due_at"] > jane["due_at"]
    assert after["status"] == "pending_review"  # approved text about the old date: see it again
    older = run("import", str(GOOGLE))
    assert "older than version 1: nothing changed" in older.out


def test_a_cancelled_invitation_closes_its_interview(workdir, run, clock):
    clock.set(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    interview_id = run("import", "--json", str(OUTLOOK)).json()["interviews"][0]["interview_id"]
    result = run("import", str(CANCELLED))
    assert result.code == 0, result.err
    assert "was cancelled" in result.out
    shown = run("interview", "show", str(interview_id), "--json").json()
    assert shown["status"] == "cancelled"
    assert {f["status"] for f in shown["followups"]} == {"cancelled"}


def test_the_users_own_addresses_are_never_interviewers(workdir, run, clock, monkeypatch):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setenv("FOLLOWUP_MY_ADDRESSES", "bob@acme.example")  # as if Bob were the user
    run("migrate")
    [stored] = run("import", "--json", str(GOOGLE)).json()["interviews"]
    shown = run("interview", "show", str(stored["interview_id"]), "--json").json()
    assert [c["email"] for c in shown["contacts"]] == ["jane@acme.example"]


def test_one_broken_file_and_nothing_of_any_file_is_written(workdir, run, clock, db_url):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    result = run(
        "import", str(GOOGLE), str(CALENDAR / "truncated.ics"), str(CALENDAR / "allday.ics")
    )
    assert result.code == 2
    assert "truncated.ics" in result.err and "allday.ics" in result.err
    assert counts(db_url) == (0, 0, 0)


def test_the_exported_calendar_reads_back_and_is_stable(workdir, run, clock, tmp_path):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    run("import", str(GOOGLE))
    out = tmp_path / "followups.ics"
    result = run("export", "--ics", "--out", str(out))
    assert result.code == 0, result.err
    calendar = Calendar.from_ical(out.read_bytes())
    events = calendar.walk("VEVENT")
    assert len(events) == 5 and all(str(e["UID"]).endswith("@candidate.example") for e in events)
    first = out.read_bytes()
    run("export", "--ics", "--out", str(out), "--force")
    assert out.read_bytes() == first  # nothing changed: the same calendar
    assert run("export").code == 2


def test_a_csv_row_may_name_the_language_of_its_follow_ups(workdir, run, clock, tmp_path):
    run("migrate")
    sheet = tmp_path / "interviews.csv"
    sheet.write_text(
        "company,role,at,tz,contacts,language\n"
        "Acme,Engineer,2026-09-07 10:00,Europe/Berlin,Frau Jana Roe <jana@acme.example>,de\n"
        "Globex,Engineer,2026-09-08 10:00,Europe/Paris,Jean Roe <jean@globex.example>,\n"
    )
    result = run("import", str(sheet))
    assert result.code == 0, result.err
    assert run("interview", "show", "1", "--json").json()["language"] == "de"
    assert run("interview", "show", "2", "--json").json()["language"] is None
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "company,role,at,contacts,language\nAcme,Engineer,2026-09-07 10:00,Jo <jo@a.example>,xx\n"
    )
    refused = run("import", str(bad))
    assert refused.code == 2 and "language" in refused.err
