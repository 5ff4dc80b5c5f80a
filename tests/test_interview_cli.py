"""Recording interviews from the command line, on both databases."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def test_an_added_interview_is_listed_and_shown_as_recorded(workdir, run):
    assert run("interview", "list").out.startswith("No interviews yet")
    interview = add(run)
    assert isinstance(interview["id"], int)
    assert (interview["company"], interview["role"]) == ("Acme Corp", "Staff Engineer")
    assert (interview["starts_at"], interview["timezone"]) == (
        "2026-09-07T08:00:00Z",
        "Europe/Berlin",
    )
    assert interview["duration_minutes"] == 60
    jane = interview["contacts"][0]
    assert (jane["name"], jane["email"], jane["title"], jane["phone"]) == (
        "Jane Roe",
        "jane@acme.example",
        "Engineering Manager",
        "+49 30 1234567",
    )
    assert [c["email"] for c in interview["contacts"]] == ["jane@acme.example", "bob@acme.example"]
    assert sorted(by_step_and_address(interview["followups"])) == [
        ("call_reminder", ME),
        ("final_note", "jane@acme.example"),
        ("status_check", "jane@acme.example"),
        ("thank_you", "bob@acme.example"),
        ("thank_you", "jane@acme.example"),
    ]
    assert all(f["status"] == "planned" for f in interview["followups"])

    other = add(run, "--company", "Globex")
    listed = run("interview", "list", "--json").json()
    assert [i["id"] for i in listed] == [interview["id"], other["id"]]
    shown = run("interview", "show", str(interview["id"]), "--json").json()
    assert listed[0] == {k: v for k, v in shown.items() if k not in ("followups", "replies")}
    text = run("interview", "list").out
    assert "Acme Corp" in text and "Globex" in text
    assert "Mon 2026-09-07 10:00" in text  # FOLLOWUP_TIMEZONE is Europe/Berlin

    recorded = {k: v for k, v in interview.items() if k not in ("changes", "warnings")}
    assert run("interview", "show", str(interview["id"]), "--json").json() == recorded
    text = run("interview", "show", str(interview["id"])).out
    assert f"Interview {interview['id']}: Acme Corp — Staff Engineer [active]" in text
    assert "Jane Roe <jane@acme.example> (Engineering Manager, +49 30 1234567)" in text
    unknown = run("interview", "show", "999")
    assert unknown.code == 2
    assert unknown.err == (
        "followup: error: interview 999 does not exist: see `followup interview list`\n"
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


def test_update_re_times_the_pending_follow_ups(workdir, run, clock):
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
    assert after[("thank_you", "jane@acme.example")]["due_at"] == "2026-09-10T09:00:00Z"  # Thu
    assert {r["id"]: r["due_at"] for r in schedule(run)} == {
        r["id"]: r["due_at"] for r in updated["followups"]
    }

    # A corrected zone keeps the wall-clock time: 10:00 in New York.
    result = run("interview", "update", str(interview["id"]), "--tz", "America/New_York", "--json")
    assert result.code == 0, result.err
    assert result.json()["starts_at"] == "2026-09-09T14:00:00Z"
    thanks = by_step_and_address(result.json()["followups"])[("thank_you", "jane@acme.example")]
    assert thanks["due_at"] == "2026-09-10T15:00:00Z"  # Thursday 11:00 in New York


def test_update_with_fewer_contacts_cancels_the_dropped_contacts_follow_ups(workdir, run, db):
    interview = add(run)
    bobs = by_step_and_address(interview["followups"])[("thank_you", "bob@acme.example")]
    with db.transaction() as session:  # as after a temporary SMTP failure: retried later
        session.execute(update(FollowUp).where(FollowUp.id == bobs["id"]).values(status="deferred"))
    result = run(
        "interview", "update", str(interview["id"]), "--contact", "Jane Roe <jane@acme.example>",
        "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    updated = result.json()
    assert [c["email"] for c in updated["contacts"]] == ["jane@acme.example"]
    listed = run("interview", "list", "--json").json()
    assert [c["email"] for c in listed[0]["contacts"]] == ["jane@acme.example"]
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
    )  # fmt: skip
    assert result.code == 0, result.err
    assert {(r["step"], r["to"]) for r in schedule(run)} == {
        ("thank_you", "bob@acme.example"),
        ("status_check", "bob@acme.example"),
        ("call_reminder", ME),
        ("final_note", "bob@acme.example"),
    }
    janes = [r for r in schedule(run, "--all") if r["to"] == "jane@acme.example"]
    assert len(janes) == 3 and {r["status"] for r in janes} == {"cancelled"}


def test_close_cancels_what_has_not_gone_out_and_ends_the_interview(workdir, run):
    interview = add(run)
    result = run("interview", "close", str(interview["id"]), "--outcome", "rejected", "--json")
    assert result.code == 0, result.err
    assert result.json() == {
        "id": interview["id"],
        "status": "rejected",
        "cancelled": 5,
        "on_the_wire": [],
    }
    assert schedule(run) == []
    assert run("schedule").out.startswith("Nothing scheduled.")
    every = schedule(run, "--all")
    assert len(every) == 5 and {r["status"] for r in every} == {"cancelled"}
    assert run("interview", "list", "--json").json()[0]["status"] == "rejected"

    changed = run("interview", "update", str(interview["id"]), "--company", "Initech")
    assert changed.code == 2
    assert "is closed (rejected)" in changed.err
    again = run("interview", "close", str(interview["id"]), "--outcome", "withdrawn")
    assert again.code == 2  # the request cannot be done as asked
    assert "already rejected" in again.err


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

BAD_INPUT = [  # (what is wrong, the command, what the error says)
    ("address", (*ONE_CONTACT, "Jane Roe <jane@acme>"), "not a valid email address"),
    ("contact-without-name", (*ONE_CONTACT, "jane@acme.example"), "has no name"),
    ("contact-crlf", (*ONE_CONTACT, f"Jane Roe <jane@acme.example>{EVIL}"), "line break"),
    ("contact-name-crlf", (*ONE_CONTACT, f"Jane Roe{EVIL} <jane@acme.example>"), "line break"),
    ("company-crlf", with_option("--company", f"Acme{EVIL}"), "--company contains a line break"),
    ("company-u2028", with_option("--company", "Acme\u2028Bcc: x@evil.example"), "--company contains a line break"),
    ("role-lf", with_option("--role", "Engineer\nBcc: x@evil.example"), "--role contains a line break"),
    ("location-crlf", with_option("--location", f"Room 4{EVIL}"), "--location contains a line break"),
    ("notes-nul", with_option("--notes", "Talked about\x00"), "--notes contains a control"),
    ("notes-lone-cr", with_option("--notes", "Fine\rBcc: x@evil.example"), "--notes contains a control"),
    ("question-escape", with_option("--question", "Why?\x1b[2J"), "--question contains a control"),
    ("impossible-date", with_option("--at", "2026-02-30 10:00"), "not a real date and time"),
    ("date-only", with_option("--at", "2026-09-07"), "use 'YYYY-MM-DD HH:MM'"),
    ("prose-date", with_option("--at", "next monday"), "use 'YYYY-MM-DD HH:MM'"),
    ("spring-forward-gap", with_option("--at", "2026-03-29 02:30"), "does not exist in Europe/Berlin"),
    ("fall-back-repeat", with_option("--at", "2026-10-25 02:30"), "happens twice in Europe/Berlin"),
    ("unknown-zone", with_option("--tz", "Mars/Olympus_Mons"), "not a known IANA time zone"),
    ("zero-duration", with_option("--duration", "0m"), "between 1 minute and 24 hours"),
    ("bad-duration", with_option("--duration", "forever"), "not a duration"),
    ("bad-date", with_option("--decision-date", "2026-09-31"), "--decision-date"),
    ("decision-before-interview", with_option("--decision-date", "2026-09-01"), "is before the interview"),
    ("duration-without-unit", with_option("--duration", "45"), "has no unit: write 45m"),
    ("fixed-offset-zone", with_option("--tz", "EST"), "ignores local daylight-saving"),
    ("year-9999", with_option("--at", "9999-12-31 23:59"), "between the years 2000 and 2099"),
    ("year-1", with_option("--at", "0001-01-01 00:30"), "between the years 2000 and 2099"),
    ("decision-year-9999", with_option("--decision-date", "9999-12-31"), "between the years 2000 and 2099"),
    ("contact-unknown-field", (*ONE_CONTACT, "Jane Roe <jane@acme.example> | salary=120k"), "not a contact field"),
    ("contact-too-many-parts", (*ONE_CONTACT, "Jane Roe <jane@acme.example> | a | b | c"), "too many parts"),
    ("topic-for-a-stranger", (*ADD, "--topic", "nobody@acme.example=x"), "no such contact"),
    ("topic-without-address", (*ADD, "--topic", "the roadmap"), "use --topic 'address=text'"),
    ("missing-company", without("--company"), "Missing option '--company'"),
    ("missing-contact", without("--contact"), "--contact is missing"),
    ("same-address-twice", (*ADD, "--contact", "Jane Again <JANE@acme.example>"), "given twice"),
    ("update-company-crlf", ("interview", "update", "{id}", "--company", f"Acme{EVIL}"), "--company contains a line break"),
    ("update-spring-forward-gap", ("interview", "update", "{id}", "--at", "2026-03-29 02:30"), "does not exist in Europe/Berlin"),
    ("update-unknown-zone", ("interview", "update", "{id}", "--tz", "Europe/Berlinn"), "not a known IANA time zone"),
    ("update-address", ("interview", "update", "{id}", "--contact", "Jane <jane@acme>"), "not a valid email address"),
    ("update-unknown-interview", ("interview", "update", "999", "--company", "Initech"), "interview 999 does not exist"),
    ("unknown-outcome", ("interview", "close", "{id}", "--outcome", "ghosted"), "Invalid value for '--outcome'"),
    ("close-without-outcome", ("interview", "close", "{id}"), "Missing option '--outcome'"),
    ("close-unknown-interview", ("interview", "close", "999", "--outcome", "rejected"), "interview 999 does not exist"),
    ("update-remove-stranger", ("interview", "update", "{id}", "--remove-contact", "x@acme.example"), "no such contact on this interview"),
    ("update-remove-everyone", ("interview", "update", "{id}", "--remove-contact", "jane@acme.example", "--remove-contact", "bob@acme.example"), "needs at least one contact"),
    ("update-add-twice", ("interview", "update", "{id}", "--add-contact", "Jane <jane@acme.example>"), "already a contact"),
    ("update-decision-before", ("interview", "update", "{id}", "--decision-date", "2026-01-01"), "is before the interview"),
    ("show-huge-id", ("interview", "show", "99999999999999999999"), "is not in the range"),
    ("close-huge-id", ("interview", "close", "99999999999999999999", "--outcome", "offer"), "is not in the range"),
]  # fmt: skip


def test_bad_input_is_one_line_on_stderr_exit_2_and_writes_nothing(workdir, run, db):
    interview = add(run)  # something to change, and rows to see unchanged
    before = snapshot(db)
    wrong = []
    for name, args, complaint in BAD_INPUT:
        result = run(*(a.replace("{id}", str(interview["id"])) for a in args))
        if not (
            result.code == 2
            and result.out == ""
            and result.err.startswith("followup: error: ")
            and result.err.count("\n") == 1
            and result.err.endswith("\n")
            and complaint in result.err
        ):
            wrong.append(
                f"{name}: exit {result.code}, stdout {result.out!r}, stderr {result.err!r}"
            )
        after = snapshot(db)
        if after != before:
            wrong.append(f"{name}: wrote to the database")
            before = after
    assert not wrong, "\n".join(wrong)


def test_a_reply_heard_some_other_way_stops_the_follow_ups_and_shows_on_the_interview(workdir, run):
    interview = add(run)
    result = run("interview", "replied", str(interview["id"]), "--note", "HR called me")
    assert result.code == 0, result.err
    rows = schedule(run, "--all")
    contact_rows = [r for r in rows if r["kind"] == "followup"]
    assert {r["status"] for r in contact_rows} == {"cancelled"}
    assert {r["reason"] for r in contact_rows} == {"replied"}
    shown = run("interview", "show", str(interview["id"]), "--json").json()
    assert [(r["subject"], r["source"]) for r in shown["replies"]] == [("HR called me", "manual")]
    assert "recorded by you: HR called me" in run("interview", "show", str(interview["id"])).out
