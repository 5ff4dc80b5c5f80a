"""Checks at the boundary: what a user may type into one-line fields, notes, addresses, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.errors import UsageError
from service.validation import (
    Mailbox,
    check_email,
    check_host,
    check_zone,
    clean_line,
    clean_text,
    parse_date,
    parse_duration,
    parse_local_datetime,
    parse_mailbox,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


# --- addresses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    ["jane@acme.example", "Jane.Roe+jobs@mail.acme.co.uk", "o'brien@acme.example"],
)
def test_valid_addresses_are_accepted(address):
    assert check_email(address) == address


@pytest.mark.parametrize("address", ["ann@bücher.example", "ann@xn--bcher-kva.example"])
def test_an_international_domain_is_kept_in_the_ascii_form_servers_take(address):
    assert check_email(address) == "ann@xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("address", "complaint"),
    [("jörg@example.com", "Internationalized characters"), ("a" * 65 + "@x.example", "at most 64")],
)
def test_addresses_no_server_could_deliver_are_refused(address, complaint):
    with pytest.raises(UsageError, match=complaint):
        check_email(address)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("smtp.fastmail.com", "smtp.fastmail.com"),
        ("SMTP.Example.COM.", "smtp.example.com"),
        ("mail.bücher.example", "mail.xn--bcher-kva.example"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
    ],
)
def test_host_names_are_kept_in_their_ascii_form(host, expected):
    assert check_host(host, "FOLLOWUP_SMTP_HOST") == expected


@pytest.mark.parametrize(
    "host", ["smtp..example.com", "a" * 64 + ".example.com", "smtp example.com", "-smtp.x", "a/b"]
)
def test_host_name_typos_are_refused_naming_the_setting(host):
    with pytest.raises(UsageError, match="FOLLOWUP_SMTP_HOST"):
        check_host(host, "FOLLOWUP_SMTP_HOST")


def test_the_domain_of_an_address_is_normalised_to_lower_case():
    assert check_email("Jane.Roe@ACME.Example") == "Jane.Roe@acme.example"


@pytest.mark.parametrize(
    "address",
    [
        "jane",
        "jane@",
        "@acme.example",
        "jane@acme",
        "jane@@acme.example",
        "jane roe@acme.example",
        "jane@acme..example",
        "jane@acme.example, bob@acme.example",
        "jane@acme.example\r\nBcc: x@evil.example",
        "jané@acme.example",
    ],
)
def test_invalid_addresses_are_refused_naming_the_field(address):
    with pytest.raises(UsageError, match="--contact"):
        check_email(address, "--contact")


@pytest.mark.parametrize(
    ("text", "mailbox"),
    [
        ("Jane Roe <jane@acme.example>", Mailbox("Jane Roe", "jane@acme.example")),
        ('"Roe, Jane" <jane@acme.example>', Mailbox("Roe, Jane", "jane@acme.example")),
        ("  Jane Roe   <jane@acme.example>  ", Mailbox("Jane Roe", "jane@acme.example")),
        ("<jane@acme.example>", Mailbox("", "jane@acme.example")),
        ("jane@acme.example", Mailbox("", "jane@acme.example")),
        ("José Müller <jose@acme.example>", Mailbox("José Müller", "jose@acme.example")),
    ],
)
def test_name_and_address_are_parsed(text, mailbox):
    assert parse_mailbox(text) == mailbox


@pytest.mark.parametrize(
    "text",
    [
        "Jane Roe <jane@acme.example",
        "Jane Roe jane@acme.example>",
        "Jane <jane@acme.example> <bob@acme.example>",
        "Jane Roe jane@acme.example",
        "Jane Roe <not-an-address>",
        "Jane\r\nBcc: x@evil.example <jane@acme.example>",
    ],
)
def test_ambiguous_or_broken_mailboxes_are_refused(text):
    with pytest.raises(UsageError, match="contact"):
        parse_mailbox(text)


def test_a_mailbox_prints_the_way_it_was_given():
    assert str(parse_mailbox("Jane Roe <jane@acme.example>")) == "Jane Roe <jane@acme.example>"
    assert str(parse_mailbox("jane@acme.example")) == "jane@acme.example"


# --- one-line and multi-line text -----------------------------------------------------------

BREAKS_AND_CONTROLS = [
    ("\r", "carriage return"),
    ("\n", "line feed"),
    ("\r\n", "CRLF"),
    ("\x00", "NUL"),
    ("\u2028", "line separator"),
    ("\u2029", "paragraph separator"),
    ("\x85", "next line"),
    ("\x1b", "escape"),
    ("\x07", "bell"),
    ("\t", "tab"),
    ("\x7f", "delete"),
    ("\u202e", "right-to-left override"),
]


@pytest.mark.parametrize(("char", "label"), BREAKS_AND_CONTROLS)
def test_one_line_fields_refuse_line_breaks_and_control_characters(char, label):
    with pytest.raises(UsageError, match="--company") as excinfo:
        clean_line(f"Acme{char}Bcc: x@evil.example", "--company")
    assert "single line" in str(excinfo.value)


def test_one_line_fields_are_stripped_and_keep_ordinary_unicode():
    assert clean_line("  Müller & Söhne — 東京  ", "--company") == "Müller & Söhne — 東京"
    # The zero-width joiner is part of ordinary emoji sequences.
    assert clean_line("Team 👩\u200d💻", "--company") == "Team 👩\u200d💻"


def test_a_required_one_line_field_may_not_be_blank():
    with pytest.raises(UsageError, match="--company is empty"):
        clean_line("   ", "--company")
    assert clean_line("", "--location", required=False) == ""


def test_one_line_fields_have_a_length_limit():
    assert clean_line("x" * 200, "--role", max_len=200) == "x" * 200
    with pytest.raises(UsageError, match="--role is 201 characters long"):
        clean_line("x" * 201, "--role", max_len=200)


def test_notes_keep_newlines_and_tabs():
    notes = "Talked about:\n\t- the on-call rota\n\t- Rust at the edge"
    assert clean_text(notes, "--notes") == notes


def test_notes_written_with_crlf_become_plain_newlines():
    assert clean_text("line one\r\nline two\r\n", "--notes") == "line one\nline two"


@pytest.mark.parametrize(
    "char", ["\r", "\x00", "\x1b", "\x07", "\x0b", "\x0c", "\x7f", "\u2028", "\u2029", "\u202e"]
)
def test_notes_refuse_other_control_characters(char):
    with pytest.raises(UsageError, match="--notes contains a control character"):
        clean_text(f"fine so far{char}not fine", "--notes")


def test_empty_notes_are_empty():
    assert clean_text(None, "--notes") == ""
    assert clean_text("  \n ", "--notes") == ""


# --- times and zones ------------------------------------------------------------------------


def test_a_local_time_is_read_in_the_given_zone():
    assert parse_local_datetime("2026-09-04 14:00", NY) == datetime(2026, 9, 4, 18, 0, tzinfo=UTC)
    assert parse_local_datetime("2026-01-15T14:00", BERLIN) == datetime(
        2026, 1, 15, 13, 0, tzinfo=UTC
    )


def test_the_result_is_timezone_aware_utc():
    moment = parse_local_datetime("2026-09-04 14:00:30", NY)
    assert moment.tzinfo is UTC and moment.second == 30


def test_a_time_skipped_by_the_clocks_springing_forward_is_refused():
    with pytest.raises(UsageError) as excinfo:
        parse_local_datetime("2026-03-08 02:30", NY)
    message = str(excinfo.value)
    assert "does not exist in America/New_York" in message
    assert "jump forward" in message


def test_a_time_repeated_when_the_clocks_go_back_is_refused_with_both_offsets_suggested():
    with pytest.raises(UsageError) as excinfo:
        parse_local_datetime("2026-11-01 01:30", NY)
    message = str(excinfo.value)
    assert "happens twice in America/New_York" in message
    assert "2026-11-01 01:30-04:00" in message and "2026-11-01 01:30-05:00" in message


def test_both_suggested_spellings_of_a_repeated_time_are_accepted_and_differ_by_an_hour():
    first = parse_local_datetime("2026-11-01 01:30-04:00", NY)
    second = parse_local_datetime("2026-11-01 01:30-05:00", NY)
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert second - first == timedelta(hours=1)


def test_an_explicit_offset_is_used_as_given_whatever_the_zone():
    assert parse_local_datetime("2026-03-08 02:30-05:00", NY) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    assert parse_local_datetime("2026-09-04 14:00Z", BERLIN) == datetime(
        2026, 9, 4, 14, 0, tzinfo=UTC
    )


def test_times_just_around_a_clock_change_are_fine():
    assert parse_local_datetime("2026-03-08 01:59", NY) == datetime(2026, 3, 8, 6, 59, tzinfo=UTC)
    assert parse_local_datetime("2026-03-08 03:00", NY) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert parse_local_datetime("2026-11-01 02:00", NY) == datetime(2026, 11, 1, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ("2026-02-30 10:00", "not a real date and time"),
        ("2026-09-04 25:00", "not a real date and time"),
        ("2026-09-04", "use 'YYYY-MM-DD HH:MM'"),
        ("next friday 10am", "use 'YYYY-MM-DD HH:MM'"),
        ("04/09/2026 10:00", "use 'YYYY-MM-DD HH:MM'"),
        ("2026-W36-5 10:00", "use 'YYYY-MM-DD HH:MM'"),
    ],
)
def test_impossible_or_unreadable_times_are_refused(value, complaint):
    with pytest.raises(UsageError, match="--at") as excinfo:
        parse_local_datetime(value, NY, "--at")
    assert complaint in str(excinfo.value)


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "UTC"])
def test_known_zones_are_accepted(name):
    assert check_zone(name).key == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "europe/berlin", "Berlin", "CEST", "../../etc/passwd"]
)
def test_unknown_zones_are_refused_with_an_example(name):
    with pytest.raises(UsageError, match="--tz") as excinfo:
        check_zone(name, "--tz")
    assert "Europe/Berlin" in str(excinfo.value)


def test_dates_are_iso_dates():
    assert parse_date("2026-09-18", "--decision-date").isoformat() == "2026-09-18"
    with pytest.raises(UsageError, match="--decision-date '18.09.2026' is not a date"):
        parse_date("18.09.2026", "--decision-date")
    with pytest.raises(UsageError, match="--decision-date"):
        parse_date("2026-02-30", "--decision-date")


# --- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("90", timedelta(seconds=90)),
        ("45m", timedelta(minutes=45)),
        ("45 min", timedelta(minutes=45)),
        ("2h", timedelta(hours=2)),
        ("2 hours", timedelta(hours=2)),
        ("1 hour", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        ("3 Days", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        (600, timedelta(minutes=10)),
    ],
)
def test_durations_read_as_expected(text, expected):
    assert parse_duration(text, "--duration") == expected


@pytest.mark.parametrize(
    "text", ["", "soon", "1.5h", "-5m", "5 parsecs", "h2", "²", "99999999999999999w"]
)
def test_bad_durations_are_refused_naming_the_field(text):
    with pytest.raises(UsageError, match="--duration"):
        parse_duration(text, "--duration")
