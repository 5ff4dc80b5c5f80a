"""Recording interviews from the command line, on both databases."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from service.models import Contact, Event, FollowUp, Interview

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_friday_interview_before_labor_day_thanks_each_interviewer_on_tuesday(
    workdir, run, clock, monkeypatch
):
    monkeypatch.setenv("FOLLOWUP_HOLIDAYS", "US")
    clock.set(datetime(2026, 9, 4, 20, 0, tzinfo=UTC))  # Friday evening, after the interview
    assert run("migrate").code == 0
    result = run(
        "interview",
        "add",
        "--company",
        "Acme Corp",
        "--role",
        "Staff Engineer",
        "--at",
        "2026-09-04 14:00",
        "--tz",
        "America/New_York",
        "--duration",
        "45m",
        "--contact",
        "Jane Roe <jane@acme.example>",
        "--contact",
        "Bob Lee <bob@acme.example>",
        "--json",
    )
    assert result.code == 0, result.err
    interview = result.json()
    thanks = [f for f in interview["followups"] if f["step"] == "thank_you"]
    assert sorted(f["to"] for f in thanks) == ["bob@acme.example", "jane@acme.example"]
    for f in thanks:
        due = datetime.fromisoformat(f["due_at"]).astimezone(NY)
        assert due.strftime("%A") == "Tuesday"  # Monday 2026-09-07 is Labor Day
        assert 9 <= due.hour < 17
    # The human view shows the user's (Berlin) and the recipient's (New York) local times.
    text = run("interview", "show", str(interview["id"])).out
    assert "Tue 2026-09-08 20:45" in text and "Tue 2026-09-08 14:45 America/New_York" in text


# --- recording, changing and closing interviews ---------------------------------------------

ADD = (
    "interview", "add", "--company", "Acme Corp", "--role", "Staff Engineer",
    "--at", "2026-09-07 10:00", "--tz", "Europe/Berlin",
    "--contact", "Jane Roe <jane@acme.example> | Engineering Manager | +49 30 1234567",
    "--contact", "Bob Lee <bob@acme.example>",
)  # fmt: skip
ME = "ada@candidate.example"  # FOLLOWUP_FROM in the workdir fixture


def add(run, *extra: str) -> dict:
    result = run(*ADD, *extra, "--json")
    assert result.code == 0, result.err
    return result.json()


def schedule(run, *flags: str) -> list[dict]:
    result = run("schedule", "--json", *flags)
    assert result.code == 0, result.err
    return result.json()


def by_step_and_address(followups: list[dict]) -> dict[tuple[str, str], dict]:
    return {(f["step"], f["to"]): f for f in followups}


def utc(text: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", text), text
    return datetime.fromisoformat(text)


def test_add_with_json_gives_the_interview_its_contacts_and_follow_ups(workdir, run):
    interview = add(run)
    assert isinstance(interview["id"], int)
    assert (interview["company"], interview["role"]) == ("Acme Corp", "Staff Engineer")
    assert interview["starts_at"] == "2026-09-07T08:00:00Z"
    assert interview["timezone"] == "Europe/Berlin"
    assert interview["duration_minutes"] == 60
    assert interview["contacts"][0] == {
        "id": interview["contacts"][0]["id"],
        "name": "Jane Roe",
        "email": "jane@acme.example",
        "title": "Engineering Manager",
        "phone": "+49 30 1234567",
    }
    assert [c["email"] for c in interview["contacts"]] == ["jane@acme.example", "bob@acme.example"]
    assert sorted(by_step_and_address(interview["followups"])) == [
        ("call_reminder", ME),
        ("final_note", "jane@acme.example"),
        ("status_check", "jane@acme.example"),
        ("thank_you", "bob@acme.example"),
        ("thank_you", "jane@acme.example"),
    ]
    assert all(f["status"] == "planned" for f in interview["followups"])


def test_list_shows_every_interview_in_the_users_time_zone(workdir, run):
    assert run("interview", "list").out.startswith("No interviews yet")
    first = add(run)
    second = add(run, "--company", "Globex")
    listed = run("interview", "list", "--json").json()
    assert [i["id"] for i in listed] == [first["id"], second["id"]]
    text = run("interview", "list").out
    assert "Acme Corp" in text and "Globex" in text
    assert "Mon 2026-09-07 10:00" in text  # FOLLOWUP_TIMEZONE is Europe/Berlin


def test_show_gives_the_same_interview_as_add_did(workdir, run):
    interview = add(run)
    assert run("interview", "show", str(interview["id"]), "--json").json() == interview
    text = run("interview", "show", str(interview["id"])).out
    assert f"Interview {interview['id']}: Acme Corp — Staff Engineer [active]" in text
    assert "Jane Roe <jane@acme.example> (Engineering Manager, +49 30 1234567)" in text


def test_show_of_an_unknown_interview_says_so(workdir, run):
    result = run("interview", "show", "999")
    assert result.code == 2
    assert (
        result.err
        == "followup: error: interview 999 does not exist: see `followup interview list`\n"
    )


def test_schedule_json_lists_upcoming_follow_ups_soonest_first_in_utc(workdir, run):
    interview = add(run)
    rows = schedule(run)
    assert len(rows) == 5
    for row in rows:
        assert row["interview_id"] == interview["id"]
        assert isinstance(row["id"], int)
        assert row["status"] == "planned"
        assert utc(row["due_at"]).utcoffset() == timedelta(0)
    assert [r["due_at"] for r in rows] == sorted(r["due_at"] for r in rows)
    due = {(r["step"], r["to"]): r["due_at"] for r in rows}
    assert due[("thank_you", "jane@acme.example")] == "2026-09-08T09:00:00Z"  # Tue 11:00 Berlin
    assert due[("status_check", "jane@acme.example")] == "2026-09-14T09:00:00Z"
    assert due[("call_reminder", ME)] == "2026-09-14T09:00:00Z"
    assert due[("final_note", "jane@acme.example")] == "2026-09-21T09:00:00Z"


def test_update_at_re_times_the_pending_follow_ups(workdir, run, clock):
    interview = add(run)
    before = by_step_and_address(interview["followups"])
    clock.advance(timedelta(hours=1))
    result = run("interview", "update", str(interview["id"]), "--at", "2026-09-09 10:00", "--json")
    assert result.code == 0, result.err
    updated = result.json()
    assert updated["starts_at"] == "2026-09-09T08:00:00Z"
    after = by_step_and_address(updated["followups"])
    assert after.keys() == before.keys()
    for key, row in after.items():
        assert row["id"] == before[key]["id"]  # the same follow-ups, moved
        assert row["status"] == "planned"
    thanks = after[("thank_you", "jane@acme.example")]
    assert thanks["due_at"] == "2026-09-10T09:00:00Z"  # Thursday 11:00 Berlin
    assert {r["id"]: r["due_at"] for r in schedule(run)} == {
        r["id"]: r["due_at"] for r in updated["followups"]
    }


def test_update_tz_keeps_the_wall_clock_time_in_the_new_zone(workdir, run):
    interview = add(run)
    updated = run("interview", "update", str(interview["id"]), "--tz", "America/New_York", "--json")
    assert updated.code == 0, updated.err
    assert updated.json()["starts_at"] == "2026-09-07T14:00:00Z"  # 10:00 in New York
    thanks = by_step_and_address(updated.json()["followups"])[("thank_you", "jane@acme.example")]
    assert thanks["due_at"] == "2026-09-08T15:00:00Z"  # Tuesday 11:00 in New York


def test_update_with_fewer_contacts_cancels_the_dropped_contacts_follow_ups(workdir, run):
    interview = add(run)
    result = run(
        "interview", "update", str(interview["id"]), "--contact", "Jane Roe <jane@acme.example>",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    updated = result.json()
    assert [c["email"] for c in updated["contacts"]] == ["jane@acme.example"]
    rows = by_step_and_address(updated["followups"])
    assert rows[("thank_you", "bob@acme.example")]["status"] == "cancelled"
    assert rows[("thank_you", "jane@acme.example")]["status"] == "planned"
    assert "bob@acme.example" not in {r["to"] for r in schedule(run)}
    every = by_step_and_address(schedule(run, "--all"))
    assert every[("thank_you", "bob@acme.example")]["status"] == "cancelled"


def test_dropping_the_first_contact_hands_their_follow_ups_to_the_next(workdir, run):
    interview = add(run)
    result = run(
        "interview", "update", str(interview["id"]), "--contact", "Bob Lee <bob@acme.example>",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    upcoming = {(r["step"], r["to"]) for r in schedule(run)}
    assert upcoming == {
        ("thank_you", "bob@acme.example"),
        ("status_check", "bob@acme.example"),
        ("call_reminder", ME),
        ("final_note", "bob@acme.example"),
    }


def test_a_deferred_follow_up_to_a_dropped_contact_is_cancelled_too(workdir, run, db):
    interview = add(run)
    bobs = by_step_and_address(interview["followups"])[("thank_you", "bob@acme.example")]
    with db.transaction() as session:  # as after a temporary SMTP failure
        session.execute(update(FollowUp).where(FollowUp.id == bobs["id"]).values(status="deferred"))
    result = run(
        "interview", "update", str(interview["id"]), "--contact", "Jane Roe <jane@acme.example>"
    )
    assert result.code == 0, result.err
    assert (
        by_step_and_address(schedule(run, "--all"))[("thank_you", "bob@acme.example")]["status"]
        == "cancelled"
    )


def test_close_cancels_what_has_not_gone_out(workdir, run):
    interview = add(run)
    result = run("interview", "close", str(interview["id"]), "--outcome", "rejected", "--json")
    assert result.code == 0, result.err
    assert result.json() == {"id": interview["id"], "status": "rejected", "cancelled": 5}
    assert schedule(run) == []
    assert run("schedule").out.startswith("Nothing scheduled.")
    every = schedule(run, "--all")
    assert len(every) == 5 and {r["status"] for r in every} == {"cancelled"}
    assert run("interview", "list", "--json").json()[0]["status"] == "rejected"


def test_a_closed_interview_cannot_change_or_close_again(workdir, run):
    interview = add(run)
    assert run("interview", "close", str(interview["id"]), "--outcome", "offer").code == 0
    changed = run("interview", "update", str(interview["id"]), "--company", "Initech")
    assert changed.code == 2
    assert "is closed (offer)" in changed.err
    again = run("interview", "close", str(interview["id"]), "--outcome", "withdrawn")
    assert again.code == 1
    assert "already offer" in again.err


# --- bad input: one line on stderr, exit 2, nothing written ---------------------------------


def snapshot(db) -> dict[str, list[tuple]]:
    """Every row of every table the commands write, read back from the same database."""
    with db.engine.connect() as conn:
        return {
            model.__tablename__: sorted(tuple(r) for r in conn.execute(select(model.__table__)))
            for model in (Interview, Contact, FollowUp, Event)
        }


def with_option(flag: str, value: str) -> tuple[str, ...]:
    """ADD with one option's value replaced (or the option added)."""
    args = list(ADD)
    if flag in args and flag != "--contact":
        args[args.index(flag) + 1] = value
        return tuple(args)
    return (*args, flag, value)


def without(flag: str) -> tuple[str, ...]:
    args = list(ADD)
    while flag in args:
        at = args.index(flag)
        del args[at : at + 2]
    return tuple(args)


EVIL = "\r\nBcc: x@evil.example"
ONE_CONTACT = (*without("--contact"), "--contact")

BAD_INPUT = [
    pytest.param((*ONE_CONTACT, "Jane Roe <jane@acme>"), "not a valid email address", id="address"),
    pytest.param((*ONE_CONTACT, "jane@acme.example"), "has no name", id="contact-without-name"),
    pytest.param((*ONE_CONTACT, f"Jane Roe <jane@acme.example>{EVIL}"), "line break",
                 id="contact-crlf"),
    pytest.param((*ONE_CONTACT, f"Jane Roe{EVIL} <jane@acme.example>"), "line break",
                 id="contact-name-crlf"),
    pytest.param(with_option("--company", f"Acme{EVIL}"), "--company contains a line break",
                 id="company-crlf"),
    pytest.param(with_option("--company", "Acme\u2028Bcc: x@evil.example"),
                 "--company contains a line break", id="company-u2028"),
    pytest.param(with_option("--role", "Engineer\nBcc: x@evil.example"),
                 "--role contains a line break", id="role-lf"),
    pytest.param(with_option("--location", f"Room 4{EVIL}"), "--location contains a line break",
                 id="location-crlf"),
    pytest.param(with_option("--notes", "Talked about\x00"), "--notes contains a control",
                 id="notes-nul"),
    pytest.param(with_option("--notes", "Fine\rBcc: x@evil.example"), "--notes contains a control",
                 id="notes-lone-cr"),
    pytest.param(with_option("--question", "Why?\x1b[2J"), "--question contains a control",
                 id="question-escape"),
    pytest.param(with_option("--at", "2026-02-30 10:00"), "not a real date and time",
                 id="impossible-date"),
    pytest.param(with_option("--at", "2026-09-07"), "use 'YYYY-MM-DD HH:MM'", id="date-only"),
    pytest.param(with_option("--at", "next monday"), "use 'YYYY-MM-DD HH:MM'", id="prose-date"),
    pytest.param(with_option("--at", "2026-03-29 02:30"), "does not exist in Europe/Berlin",
                 id="spring-forward-gap"),
    pytest.param(with_option("--at", "2026-10-25 02:30"), "happens twice in Europe/Berlin",
                 id="fall-back-repeat"),
    pytest.param(with_option("--tz", "Mars/Olympus_Mons"), "not a known IANA time zone",
                 id="unknown-zone"),
    pytest.param(with_option("--duration", "0m"), "between 1 minute and 24 hours",
                 id="zero-duration"),
    pytest.param(with_option("--duration", "forever"), "not a duration", id="bad-duration"),
    pytest.param(with_option("--decision-date", "2026-09-31"), "--decision-date", id="bad-date"),
    pytest.param(without("--company"), "Missing option '--company'", id="missing-company"),
    pytest.param(without("--contact"), "--contact is missing", id="missing-contact"),
    pytest.param((*ADD, "--contact", "Jane Again <JANE@acme.example>"), "given twice",
                 id="same-address-twice"),
    pytest.param(("interview", "update", "{id}", "--company", f"Acme{EVIL}"),
                 "--company contains a line break", id="update-company-crlf"),
    pytest.param(("interview", "update", "{id}", "--at", "2026-03-29 02:30"),
                 "does not exist in Europe/Berlin", id="update-spring-forward-gap"),
    pytest.param(("interview", "update", "{id}", "--tz", "Europe/Berlinn"),
                 "not a known IANA time zone", id="update-unknown-zone"),
    pytest.param(("interview", "update", "{id}", "--contact", "Jane <jane@acme>"),
                 "not a valid email address", id="update-address"),
    pytest.param(("interview", "update", "999", "--company", "Initech"),
                 "interview 999 does not exist", id="update-unknown-interview"),
    pytest.param(("interview", "close", "{id}", "--outcome", "ghosted"),
                 "Invalid value for '--outcome'", id="unknown-outcome"),
    pytest.param(("interview", "close", "{id}"), "Missing option '--outcome'",
                 id="close-without-outcome"),
    pytest.param(("interview", "close", "999", "--outcome", "rejected"),
                 "interview 999 does not exist", id="close-unknown-interview"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "complaint"), BAD_INPUT)
def test_bad_input_is_one_line_on_stderr_exit_2_and_writes_nothing(
    workdir, run, db, args, complaint
):
    interview = add(run)  # something to change, and rows to see unchanged
    before = snapshot(db)
    result = run(*(a.replace("{id}", str(interview["id"])) for a in args))
    assert result.code == 2, result
    assert result.out == ""
    assert result.err.startswith("followup: error: ")
    assert result.err.count("\n") == 1 and result.err.endswith("\n")
    assert complaint in result.err
    assert snapshot(db) == before
