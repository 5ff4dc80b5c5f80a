"""Reading interviews from calendar invitations (.ics) and forwarded invitation emails (.eml)."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.errors import UsageError
from service.importing.files import read_files
from service.importing.records import ImportFailed, ImportOptions, ImportProblem, Problems
from service.importing.summary import suggest

DATA = Path(__file__).parent / "data" / "calendar"
ME = "ada@candidate.example"  # FOLLOWUP_FROM
MY_ALIAS = "ada.candidate@icloud.example"  # in FOLLOWUP_MY_ADDRESSES


def options(**flags) -> ImportOptions:
    return ImportOptions.build(user_zone="Europe/Berlin", my_addresses=[ME, MY_ALIAS], **flags)


def read(*paths, **flags):
    """(interviews, problems) of an import of the given files."""
    problems = Problems()
    found = list(read_files([Path(p) for p in paths], options(**flags), problems))
    return found, problems.items


def read_one(path, **flags):
    found, problems = read(path, **flags)
    assert problems == [], "\n".join(map(str, problems))
    assert len(found) == 1
    return found[0]


def read_text(tmp_path, text: str, name="invite.ics", **flags):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", "\r\n").encode())
    return read(path, **flags)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def emails(interview) -> list[str]:
    return [c.email for c in interview.contacts]


EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
{calendar}BEGIN:VEVENT
UID:event-1@test.example
DTSTAMP:20260901T080000Z
SUMMARY:{summary}
{start}
ORGANIZER;CN=Jane Roe:mailto:jane@acme.example
{extra}END:VEVENT
END:VCALENDAR
"""


def invite(
    start="DTSTART:20260908T140000Z",
    summary="Interview: Staff Engineer - Acme Corp",
    extra="",
    calendar="",
) -> str:
    extra = extra + "\n" if extra else ""
    return EVENT.format(start=start, summary=summary, extra=extra, calendar=calendar)


# --- invitations as the real clients write them ------------------------------------------------


def test_google_invitation_gives_company_role_time_and_the_interviewers():
    interview = read_one(DATA / "google-invite.ics")
    assert (interview.company, interview.role) == ("Acme Corp", "Staff Engineer")
    assert interview.starts_at == utc(2026, 9, 8, 14, 0)
    assert interview.duration == timedelta(hours=1)
    assert interview.location == "Acme HQ-3-Hudson (8)"
    # The user (CN is their address, as Google writes it) and the room are not contacts; the
    # organizer, also an attendee, is one contact and comes first.
    assert emails(interview) == ["jane@acme.example", "bob@acme.example"]
    assert [c.name for c in interview.contacts] == ["Jane Roe", "Bob Lee"]
    assert (interview.uid, interview.sequence) == ("2f9c6l1q3k8s7d5b0n4m6h2j1a@google.com", 0)
    assert not interview.cancelled
    assert interview.source.endswith("google-invite.ics:6/2f9c6l1q3k8s7d5b0n4m6h2j1a@google.com")


def test_a_utc_invitation_takes_the_users_zone_and_says_so_unless_tz_is_given():
    interview = read_one(DATA / "google-invite.ics")
    assert interview.timezone == "Europe/Berlin"
    assert any("give --tz" in w for w in interview.warnings)
    with_tz = read_one(DATA / "google-invite.ics", tz="America/New_York")
    assert with_tz.timezone == "America/New_York"
    assert with_tz.starts_at == interview.starts_at
    assert not with_tz.warnings


def test_outlook_windows_zone_name_is_mapped_to_iana_across_the_us_eu_daylight_gap():
    interview = read_one(DATA / "outlook-invite.ics")
    assert interview.timezone == "America/New_York"
    # 10:00 on 10 March 2026: New York is on daylight time (since 8 March), Berlin is not yet.
    assert interview.starts_at == utc(2026, 3, 10, 14, 0)
    assert interview.duration == timedelta(minutes=45)
    assert (interview.company, interview.role) == ("Contoso", "Senior Data Analyst")
    assert emails(interview) == ["marcus.webb@contoso.example", "priya.nair@contoso.example"]
    assert interview.location == "Microsoft Teams Meeting"


def test_apple_invitation_excludes_the_users_other_address_and_declined_attendees():
    interview = read_one(DATA / "apple-invite.ics")
    assert (interview.company, interview.role) == ("Fabrikam", "Staff Engineer")
    assert interview.timezone == "Europe/London"
    assert interview.starts_at == utc(2026, 9, 15, 9, 30)  # 10:30 BST
    assert emails(interview) == ["priya.shah@fabrikam.example", "tom.okafor@fabrikam.example"]
    assert any("dan.ng@fabrikam.example declined" in w for w in interview.warnings)
    assert interview.location == "Fabrikam HQ, 1 Canal Street, London EC1A 1AA"


def test_interview_the_day_after_the_clocks_change_is_at_the_new_offset():
    interview = read_one(DATA / "dst-edge.ics")
    assert interview.timezone == "Europe/Berlin"
    assert interview.starts_at == utc(2026, 3, 30, 7, 30)  # 09:30 CEST, not CET


def test_teams_invitation_email_reads_its_base64_calendar_part():
    interview = read_one(DATA / "teams-invite.eml")
    assert (interview.company, interview.role) == ("Tailspin Toys", "Platform Engineer")
    assert interview.timezone == "Europe/Berlin"  # "W. Europe Standard Time"
    assert interview.starts_at == utc(2026, 10, 26, 9, 0)  # 10:00 CET, the day after CEST ends
    assert [c.name for c in interview.contacts] == ["Lena Müller", "Jörg Bauer"]


def test_zoom_invitation_email():
    interview = read_one(DATA / "zoom-invite.eml")
    assert (interview.company, interview.role) == ("Northwind Traders", "Senior Backend Engineer")
    assert interview.timezone == "America/Los_Angeles"
    assert interview.starts_at == utc(2026, 9, 16, 16, 0)
    assert interview.location.startswith("https://us02web.zoom.us/j/87654321098")
    assert emails(interview) == ["sam.rivera@northwind.example"]


def test_forwarded_google_invitation_inline_and_attached_counts_once():
    interview = read_one(DATA / "google-forwarded.eml")
    assert interview.uid == "2f9c6l1q3k8s7d5b0n4m6h2j1a@google.com"
    assert emails(interview) == ["jane@acme.example", "bob@acme.example"]


def test_updated_invitation_keeps_the_uid_with_a_higher_sequence():
    first = read_one(DATA / "google-invite.ics")
    updated = read_one(DATA / "google-updated.ics")
    assert updated.uid == first.uid
    assert updated.sequence == first.sequence + 1
    assert updated.starts_at == utc(2026, 9, 10, 15, 0)


def test_outlook_cancellation_is_marked_cancelled_for_the_same_uid():
    invitation = read_one(DATA / "outlook-invite.ics")
    cancellation = read_one(DATA / "outlook-cancelled.ics")
    assert cancellation.cancelled
    assert (cancellation.uid, cancellation.sequence) == (invitation.uid, 1)
    # "Canceled: " in front of the title does not change what it says.
    assert (cancellation.company, cancellation.role) == ("Contoso", "Senior Data Analyst")


def test_status_cancelled_without_method_cancel_is_a_cancellation(tmp_path):
    found, problems = read_text(tmp_path, invite(extra="STATUS:CANCELLED"))
    assert problems == [] and found[0].cancelled


def test_a_cancellation_needs_neither_a_readable_title_nor_other_people(tmp_path):
    text = invite(summary="Catch-up", calendar="METHOD:CANCEL\n").replace(
        "ORGANIZER;CN=Jane Roe:mailto:jane@acme.example", f"ORGANIZER;CN=Ada:mailto:{ME}"
    )
    found, problems = read_text(tmp_path, text)
    assert problems == []
    assert found[0].cancelled and found[0].uid == "event-1@test.example"


# --- time zones --------------------------------------------------------------------------------


def test_floating_time_is_read_in_tz_else_the_calendars_zone_else_the_users(tmp_path):
    floating = invite(start="DTSTART:20260908T100000")
    in_tz = read_text(tmp_path, floating, tz="America/New_York")[0][0]
    assert (in_tz.starts_at, in_tz.timezone) == (utc(2026, 9, 8, 14, 0), "America/New_York")
    declared = invite(start="DTSTART:20260908T100000", calendar="X-WR-TIMEZONE:Europe/London\n")
    in_calendar_zone = read_text(tmp_path, declared)[0][0]
    assert in_calendar_zone.starts_at == utc(2026, 9, 8, 9, 0)
    in_user_zone = read_text(tmp_path, floating)[0][0]
    assert (in_user_zone.starts_at, in_user_zone.timezone) == (
        utc(2026, 9, 8, 8, 0),
        "Europe/Berlin",
    )
    assert any("(yours)" in w for w in in_user_zone.warnings)


def test_tz_names_the_interviewers_zone_but_does_not_move_a_zoned_time():
    interview = read_one(DATA / "outlook-invite.ics", tz="America/Chicago")
    assert interview.timezone == "America/Chicago"
    assert interview.starts_at == utc(2026, 3, 10, 14, 0)


def test_globally_unique_tzid_of_lightning_and_evolution(tmp_path):
    text = invite(start="DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260908T100000")
    interview = read_text(tmp_path, text)[0][0]
    assert (interview.timezone, interview.starts_at) == ("Europe/Berlin", utc(2026, 9, 8, 8, 0))


CUSTOM_ZONE = """BEGIN:VTIMEZONE
TZID:(UTC-05:00) Eastern Time (US & Canada)
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
END:VTIMEZONE
"""


def test_unknown_tzid_defined_by_the_file_needs_tz_and_then_uses_the_files_rules(tmp_path):
    start = 'DTSTART;TZID="(UTC-05:00) Eastern Time (US & Canada)":20260908T100000'
    text = invite(start=start, calendar=CUSTOM_ZONE)
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert "is not a time zone name followup knows: give the interviewers' zone with --tz" in (
        problems[0].message
    )
    interview = read_text(tmp_path, text, tz="America/New_York")[0][0]
    assert interview.starts_at == utc(2026, 9, 8, 14, 0)


def test_a_time_the_clocks_skip_is_refused(tmp_path):
    text = invite(start="DTSTART;TZID=America/New_York:20260308T023000")
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert "2026-03-08 02:30 does not exist in America/New_York" in problems[0].message


def test_a_time_that_happens_twice_is_the_first_one_as_rfc_5545_says(tmp_path):
    text = invite(start="DTSTART;TZID=America/New_York:20261101T013000")
    interview = read_text(tmp_path, text)[0][0]
    assert interview.starts_at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert any("happens twice" in w for w in interview.warnings)


def test_duration_instead_of_dtend_and_no_end_at_all(tmp_path):
    with_duration = read_text(tmp_path, invite(extra="DURATION:PT45M"))[0][0]
    assert with_duration.duration == timedelta(minutes=45)
    no_end = read_text(tmp_path, invite())[0][0]
    assert no_end.duration is None  # the usual default applies when it is stored


def test_end_before_start_or_a_three_day_event_is_refused(tmp_path):
    _, before = read_text(tmp_path, invite(extra="DTEND:20260908T130000Z"))
    assert "DTEND is before DTSTART" in before[0].message
    _, long = read_text(tmp_path, invite(extra="DURATION:P3D"))
    assert "between 1 minute and 24 hours" in long[0].message


# --- company and role from the title ------------------------------------------------------------


@pytest.mark.parametrize(
    "summary",
    [
        "Interview: Staff Engineer - Acme",
        "Interview: Staff Engineer at Acme",
        "Acme | Staff Engineer interview",
        "Acme - Staff Engineer Interview",
        "Staff Engineer interview with Acme",
        "Acme: Interview for Staff Engineer",
        "Interview for Staff Engineer at Acme",
        "Interview with Acme for the Staff Engineer role",
        "[Acme] Staff Engineer - Onsite Interview",
        "Acme - Technical Interview - Staff Engineer",
        "Updated invitation: Interview: Staff Engineer - Acme",
        "Acme: Interview for Staff Engineer (Zoom)",
        "Phone screen: Staff Engineer @ Acme",
    ],
)
def test_common_titles_suggest_company_and_role(summary):
    found = suggest(summary)
    assert (found.company, found.role) == ("Acme", "Staff Engineer")


def test_flags_override_the_title(tmp_path):
    interview = read_text(tmp_path, invite(), company="Acme Inc.", role="Principal Engineer")[0][0]
    assert (interview.company, interview.role) == ("Acme Inc.", "Principal Engineer")


def test_a_title_naming_one_thing_fills_whichever_flag_is_missing(tmp_path):
    text = invite(summary="Staff Engineer interview")
    interview = read_text(tmp_path, text, company="Acme")[0][0]
    assert (interview.company, interview.role) == ("Acme", "Staff Engineer")
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert "cannot tell the company and role from the title" in problems[0].message
    assert problems[0].message.endswith("give --company and --role")


def test_a_title_that_says_nothing_asks_only_for_the_missing_flag(tmp_path):
    found, problems = read_text(tmp_path, invite(summary="Catch-up"), company="Acme")
    assert found == []
    assert problems[0].message == "cannot tell the role from the title 'Catch-up': give --role"
    assert problems[0].line == 7  # the SUMMARY line


# --- people ------------------------------------------------------------------------------------


def test_an_attendee_without_a_name_gets_one_from_first_dot_last_or_is_a_problem(tmp_path):
    derived = invite(extra="ATTENDEE;CN=bob.lee@acme.example:mailto:bob.lee@acme.example")
    interview = read_text(tmp_path, derived)[0][0]
    assert interview.contacts[1].name == "Bob Lee"
    assert any("bob.lee@acme.example has no name" in w for w in interview.warnings)
    _, problems = read_text(tmp_path, invite(extra="ATTENDEE:mailto:blee@acme.example"))
    assert "ATTENDEE blee@acme.example has no name (CN)" in problems[0].message
    assert problems[0].line == 10  # the ATTENDEE line


def test_exchange_last_first_names_are_turned_around():
    assert read_one(DATA / "bom.ics").contacts[0].name == "Lena Vogel"  # CN="Vogel, Lena"


def test_an_invitation_with_no_one_but_the_user_is_a_problem(tmp_path):
    text = invite().replace("CN=Jane Roe:mailto:jane@acme.example", f"CN=Ada:mailto:{ME.upper()}")
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert "names no one but you" in problems[0].message


def test_a_method_reply_is_not_an_invitation(tmp_path):
    _, problems = read_text(tmp_path, invite(calendar="METHOD:REPLY\n"))
    assert "METHOD:REPLY answers an invitation" in problems[0].message


# --- refused events and bad files, every problem at once ----------------------------------------


def test_all_day_and_recurring_events_are_refused_with_the_reason():
    found, problems = read(DATA / "allday.ics", DATA / "recurring.ics")
    assert found == []
    assert [p.uid for p in problems] == [
        "0a1allday9x8w7v6u5t4s3r2q1p@google.com",
        "7r3e1c2u4r5r6i7n8g9w0e1e2k@google.com",
    ]
    assert "is an all-day event: an interview needs a start time" in problems[0].message
    assert "is a recurring event (RRULE)" in problems[1].message
    assert problems[1].line == 27  # the RRULE line


def test_one_occurrence_of_a_series_is_refused(tmp_path):
    _, problems = read_text(tmp_path, invite(extra="RECURRENCE-ID:20260908T140000Z"))
    assert "one occurrence of a recurring event" in problems[0].message


def test_every_problem_of_a_calendar_is_listed_with_its_event_and_line():
    found, problems = read(DATA / "several-problems.ics")
    assert found == []
    assert [(p.uid, p.line) for p in problems] == [
        ("ats-1001@ats.acme.example", 5),
        ("ats-1002@ats.acme.example", 16),
        ("ats-1003@ats.acme.example", 25),
        ("ats-1004@ats.acme.example", 30),
        ("ats-1005@ats.acme.example", 38),
    ]
    messages = [p.message for p in problems]
    assert messages[0] == "DTSTART is missing: the event has no start time"
    assert "TZID 'Acme Standard Time'" in messages[1]
    assert "'bob@@acme.example' is not a valid email address" in messages[2]
    assert "give --company and --role" in messages[3]
    assert "DTSTART cannot be read" in messages[4] and "20260230T140000Z" in messages[4]


def test_problems_of_several_files_are_reported_together_as_one_usage_error():
    problems = Problems()
    paths = [
        DATA / "google-invite.ics",
        DATA / "truncated.ics",
        DATA / "not-a-calendar.ics",
        DATA / "latin1.ics",
        DATA / "no-invitation.eml",
    ]
    found = list(read_files(paths, options(), problems))
    assert len(found) == 1  # the good file is read; storing waits for the verdict
    with pytest.raises(ImportFailed) as caught:
        problems.raise_if_any()
    error = caught.value
    assert isinstance(error, UsageError) and error.exit_code == 2
    assert [Path(p.file).name for p in error.problems] == [
        "truncated.ics",
        "not-a-calendar.ics",
        "latin1.ics",
        "no-invitation.eml",
    ]
    text = str(error)
    assert text.startswith("4 problems found, nothing was recorded:")
    assert "truncated.ics: line 6: BEGIN:VEVENT is never closed by END:VEVENT" in text
    assert "not-a-calendar.ics: is not a calendar (it starts with '<!DOCTYPE html>" in text
    assert "latin1.ics: line 11: is not UTF-8 text (byte 0xFC" in text
    assert "no-invitation.eml: holds no calendar invitation" in text


def test_a_long_list_of_problems_is_shortened_in_the_message_but_kept_whole():
    error = ImportFailed([ImportProblem("big.csv", "is wrong", row=n) for n in range(2, 152)])
    assert len(error.problems) == 150
    assert str(error).count("big.csv: row") == 100
    assert "... and 50 more (--json lists them all)" in str(error)


def test_a_byte_order_mark_is_not_content():
    interview = read_one(DATA / "bom.ics")
    assert (interview.company, interview.role) == ("Litware", "Site Reliability Engineer")
    assert interview.timezone == "Europe/Berlin"  # TZID="W. Europe Standard Time", quoted
    assert interview.starts_at == utc(2026, 9, 17, 12, 0)


def test_files_that_are_not_what_they_claim(tmp_path):
    (tmp_path / "invite.ics").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00")
    (tmp_path / "calendar.eml").write_bytes((DATA / "google-invite.ics").read_bytes())
    (tmp_path / "utf16.ics").write_bytes((DATA / "google-invite.ics").read_text().encode("utf-16"))
    (tmp_path / "meeting.msg").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00")
    (tmp_path / "notes.txt").write_text("Interview on Tuesday")
    (tmp_path / "empty.ics").write_bytes(b"")
    names = ["invite.ics", "calendar.eml", "utf16.ics", "meeting.msg", "notes.txt", "empty.ics"]
    found, problems = read(*(tmp_path / n for n in names), tmp_path / "missing.ics")
    assert found == []
    messages = {Path(p.file).name: p.message for p in problems}
    assert messages["invite.ics"] == "is a binary file, not a calendar (.ics)"
    assert messages["calendar.eml"].startswith("looks like a calendar (.ics), not an email")
    assert messages["utf16.ics"] == "is UTF-16 text: save it as UTF-8"
    assert messages["meeting.msg"].startswith("is an Outlook .msg file")
    assert messages["notes.txt"].startswith("is not a file followup imports")
    assert (
        messages["empty.ics"]
        == "is not a calendar (it is empty): export the invitation as an .ics file"
    )
    assert messages["missing.ics"].startswith("cannot be read: No such file")


def test_a_calendar_whose_blocks_do_not_nest_is_refused(tmp_path):
    text = invite().replace("END:VEVENT", "END:VTODO")
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert problems[0].message.startswith("END:VTODO does not close BEGIN:VEVENT (line 4)")
    assert problems[0].line == 10


def test_a_truncated_email_part_is_refused(tmp_path):
    data = (DATA / "zoom-invite.eml").read_bytes()
    cut = data[
        : data.index(b"--zm_b1f0c2d3e4a5968778695a4b3c2d1e0f\r\nContent-Type: text/cal") + 400
    ]
    (tmp_path / "cut.eml").write_bytes(cut)
    found, problems = read(tmp_path / "cut.eml")
    assert found == []
    assert len(problems) == 1 and Path(problems[0].file).name == "cut.eml"


def test_bad_flags_are_refused_before_any_file_is_read():
    with pytest.raises(UsageError, match="--tz 'Mars/Base' is not a known IANA time zone"):
        options(tz="Mars/Base")


def test_a_property_given_twice_or_unreadable_stops_the_event(tmp_path):
    _, twice = read_text(tmp_path, invite(extra="DTSTART:20260909T140000Z"))
    assert [p.message for p in twice] == ["DTSTART appears 2 times: an event has one"]
    found, broken = read_text(tmp_path, invite(extra="SEQUENCE:two"))
    assert found == []
    assert broken[0].message.startswith("SEQUENCE cannot be read")
    assert broken[0].line == 10
