"""The follow-up schedule exported as a calendar, read back with icalendar, on both databases."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from service import followups
from service.config import load_settings
from service.formatting import local
from service.importing.export import calendar_bytes, load_schedule
from service.interviews import add_interview, close_interview, parse_input, update_interview
from service.models import FollowUp
from service.planner import Planner

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)  # Tuesday
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
DOMAIN = "candidate.example"


@pytest.fixture
def planner(tmp_path, db_url):
    settings = load_settings(
        tmp_path,
        environ={
            "FOLLOWUP_TIMEZONE": "Europe/Berlin",
            "FOLLOWUP_FROM": "Ada Candidate <ada@candidate.example>",
            "FOLLOWUP_DATABASE_URL": db_url,
        },
    )
    return Planner(settings)


@pytest.fixture
def interview_id(db, planner) -> int:
    data = parse_input(
        company="Acme Corp",
        role="Staff Engineer",
        at="2026-08-31 10:00",
        tz="America/New_York",
        duration="45m",
        contacts=[
            "Jane Roe <jane@acme.example> | Engineering Manager | +1 555 0100",
            "Bob Lee <bob@acme.example> | topic=on-call",
        ],
        questions=["How is on-call organised?"],
    )
    return add_interview(db, planner, data, NOW, actor="test").interview_id


def list_followups(db) -> list[FollowUp]:
    """Every follow-up with its interview and contact, soonest first."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    with db.reading() as session:
        return list(
            session.scalars(
                select(FollowUp)
                .options(selectinload(FollowUp.contact), selectinload(FollowUp.interview))
                .order_by(FollowUp.due_at, FollowUp.id)
            )
        )


def export(db, now=NOW) -> bytes:
    rows, sequences = load_schedule(db, now)
    return calendar_bytes(rows, sequences, domain=DOMAIN, user_zone=BERLIN, now=now)


def events_by_uid(body: bytes) -> dict[str, object]:
    calendar = Calendar.from_ical(body)
    assert calendar.errors == []
    events = calendar.walk("VEVENT")
    assert all(event.errors == [] for event in events)
    return {str(event["UID"]): event for event in events}


def test_each_upcoming_follow_up_is_an_event_at_its_due_time(db, interview_id):
    planned = list_followups(db)
    events = events_by_uid(export(db))
    assert set(events) == {f"followup-{f.id}@{DOMAIN}" for f in planned}
    assert len(planned) == 6  # two thank-yous, questions, status check, call reminder, final note
    for f in planned:
        event = events[f"followup-{f.id}@{DOMAIN}"]
        assert event["DTSTART"].dt == f.due_at
        assert event["SEQUENCE"] == 0
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["TRANSP"]) == "TRANSPARENT"


def test_a_follow_up_event_says_to_whom_which_step_and_their_local_time(db, interview_id):
    thanks = next(
        f
        for f in list_followups(db)
        if f.step == "thank_you" and f.contact.email == "jane@acme.example"
    )
    event = events_by_uid(export(db))[f"followup-{thanks.id}@{DOMAIN}"]
    assert str(event["SUMMARY"]) == "Follow-up to Jane Roe (Acme Corp): thank you"
    description = str(event["DESCRIPTION"])
    assert "To: Jane Roe <jane@acme.example>, Engineering Manager" in description
    assert "Step: thank_you" in description
    assert f"{local(thanks.due_at, BERLIN)} your time (Europe/Berlin)" in description
    assert f"{local(thanks.due_at, NEW_YORK)} for Jane Roe (America/New_York)" in description
    assert event.walk("VALARM") == []  # an email going out needs no alarm


def test_the_call_reminder_is_an_event_with_an_alarm_and_the_numbers(db, interview_id):
    reminder = next(f for f in list_followups(db) if f.step == "call_reminder")
    event = events_by_uid(export(db))[f"followup-{reminder.id}@{DOMAIN}"]
    assert str(event["SUMMARY"]) == "Call Acme Corp about the Staff Engineer role"
    assert "Call: Jane Roe, Engineering Manager: +1 555 0100" in str(event["DESCRIPTION"])
    assert "Call: Bob Lee: no number" in str(event["DESCRIPTION"])
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(0)


def test_exporting_again_without_changes_gives_the_same_calendar(db, interview_id):
    assert export(db) == export(db)


def test_a_re_timed_follow_up_keeps_its_uid_with_a_higher_sequence(db, planner, interview_id):
    before = events_by_uid(export(db))
    later = NOW + timedelta(minutes=5)
    moved = parse_input(at="2026-08-31 15:00", tz="America/New_York")
    update_interview(db, planner, interview_id, moved, later, actor="test")
    after = events_by_uid(export(db, later))
    assert set(after) == set(before)  # updates, never duplicates
    for uid, event in after.items():
        if event["DTSTART"].dt != before[uid]["DTSTART"].dt:
            assert event["SEQUENCE"] > before[uid]["SEQUENCE"]
    moved_count = sum(after[u]["DTSTART"].dt != before[u]["DTSTART"].dt for u in after)
    assert moved_count >= 4  # at least the status check, call reminder and final note moved


def test_cancelled_follow_ups_are_exported_as_cancelled_while_still_ahead(db, interview_id):
    reminder = next(f for f in list_followups(db) if f.step == "call_reminder")
    followups.cancel(db, reminder.id, NOW, actor="test")
    event = events_by_uid(export(db))[f"followup-{reminder.id}@{DOMAIN}"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1
    assert event.walk("VALARM") == []  # no alarm for a call that is off
    close_interview(db, interview_id, "offer", NOW, actor="test")
    statuses = {str(e["STATUS"]) for e in events_by_uid(export(db)).values()}
    assert statuses == {"CANCELLED"}


def test_past_cancelled_follow_ups_are_left_out(db, interview_id):
    close_interview(db, interview_id, "offer", NOW, actor="test")
    assert events_by_uid(export(db, NOW + timedelta(days=60))) == {}


def test_the_export_parses_back_to_the_same_bytes(db, interview_id):
    body = export(db)
    assert Calendar.from_ical(body).to_ical() == body
