"""Reading interviews from CSV files, and the progress bar of long imports."""

import fcntl
import io
import os
import select
import struct
import termios
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from service.config import load_settings
from service.importing.csvfile import COLUMNS, letter, read_csv
from service.importing.files import read_files, total_size
from service.importing.progress import Progress
from service.importing.records import ImportOptions, Problems
from service.interviews import add_interview
from service.listings import interviews as list_interviews
from service.planner import Planner

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "docs" / "import-example.csv"
DATA = Path(__file__).parent / "data" / "csv"
HEADER = ",".join(COLUMNS)


def options(**flags) -> ImportOptions:
    return ImportOptions.build(user_zone="Europe/Berlin", my_addresses=["ada@x.example"], **flags)


def read(path: Path, **flags):
    problems = Problems()
    return list(read_files([path], options(**flags), problems)), problems.items


def read_text(tmp_path, text: str, **flags):
    path = tmp_path / "interviews.csv"
    path.write_text(text, encoding="utf-8")
    return read(path, **flags)


def row(**cells) -> str:
    """One CSV line in the documented column order; quotes every cell."""
    values = {"at": "2026-09-07 14:00", "contacts": "Jane Roe <jane@acme.example>"} | cells
    return ",".join('"' + values.get(c, "").replace('"', '""') + '"' for c in COLUMNS)


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_the_documented_example_file_reads_as_documented():
    found, problems = read(EXAMPLE)
    assert problems == []
    acme, fabrikam, northwind = found
    assert (acme.company, acme.role) == ("Acme Corp", "Staff Engineer")
    assert (acme.starts_at, acme.timezone) == (utc(2026, 9, 7, 18, 0), "America/New_York")
    assert acme.duration == timedelta(minutes=45)
    assert [(c.name, c.email, c.title, c.phone) for c in acme.contacts] == [
        ("Jane Roe", "jane@acme.example", "Engineering Manager", "+1 555 0100"),
        ("Bob Lee", "bob@acme.example", "", ""),
    ]
    assert acme.questions == (
        "How is on-call organised?",
        "What does the first quarter look like?",
    )
    assert acme.decision_date == date(2026, 9, 18)
    assert acme.source.endswith("import-example.csv:row 2")
    # A quoted cell may hold commas and line breaks.
    assert fabrikam.location == "Fabrikam HQ, 1 Canal Street, London"
    assert fabrikam.notes == "They liked the dbt example.\nAsk Priya about the Spark migration."
    assert fabrikam.source.endswith(":row 3")  # rows count records, not lines
    assert northwind.duration is None and northwind.questions == ()
    assert (northwind.uid, northwind.sequence, northwind.cancelled) == (None, 0, False)


def test_every_problem_is_listed_at_once_by_row_and_column():
    found, problems = read(DATA / "several-problems.csv")
    assert [f.company for f in found] == ["Acme Corp"]  # only the good row; nothing is stored
    located = [(p.row, p.column) for p in problems]
    assert located == [
        (3, "A (company)"),
        (3, "D (tz)"),
        (4, "C (at)"),
        (4, "E (duration)"),
        (4, "F (contacts)"),
        (5, "C (at)"),
        (5, "H (decision_date)"),
        (5, "F (contacts)"),
        (6, "F (contacts)"),
        (7, None),
    ]
    text = [str(p) for p in problems]
    assert text[0].endswith(
        "several-problems.csv: row 3, column A (company): company is empty: fill it in, or give "
        "--company for every row"
    )
    # The CLI's own rules and words, naming the column instead of the flag.
    assert "tz 'Mars/Olympus_Mons' is not a known IANA time zone" in text[1]
    assert "at 2026-03-08 02:30 does not exist in America/New_York" in text[2]
    assert "duration '3 days' must be between 1 minute and 24 hours" in text[3]
    assert "'bill@initech' is not a valid email address" in text[4]
    assert "at 'next tuesday' is not a date and time" in text[5]
    assert "decision_date '2026-02-30' is not a date" in text[6]
    assert "the same address is given twice" in text[7]
    assert "contacts is empty: give at least one" in text[8]
    assert "has 9 cells but the first row names 8 columns" in text[9]


def test_contact_rules_are_the_clis(tmp_path):
    _, problems = read_text(
        tmp_path, HEADER + "\n" + row(company="A", role="B", contacts="jane@acme.example") + "\n"
    )
    assert "has no name: use 'Name <email>' so the greeting is right" in problems[0].message
    assert (problems[0].row, problems[0].column) == (2, "G (contacts)")


def test_header_problems_stop_before_the_rows(tmp_path):
    text = "Company,Role,When,contacts,notes,Notes\nAcme,SRE,2026-09-07 14:00,x,,\n"
    found, problems = read_text(tmp_path, text)
    assert found == []
    assert [(p.row, p.column, p.message) for p in problems] == [
        (
            1,
            "C (When)",
            "unknown column 'When': the columns are company, role, at, tz, duration, location, "
            "contacts, notes, questions, decision_date, language",
        ),
        (1, "F", "the column 'notes' appears twice"),
        (1, None, "the column 'at' is missing: the first row must name it"),
    ]


def test_headers_are_read_forgivingly_as_people_type_them(tmp_path):
    text = "Company,ROLE,At,TZ,Decision Date,Contacts\nAcme,SRE,2026-09-07 14:00,UTC,2026-09-20,Jane Roe <jane@acme.example>\n"
    found, problems = read_text(tmp_path, text)
    assert problems == []
    assert found[0].decision_date == date(2026, 9, 20)


def test_flags_fill_empty_cells_and_absent_columns_but_the_files_values_win(tmp_path):
    text = "at,contacts,company\n"
    text += "2026-09-07 14:00,Jane Roe <jane@acme.example>,\n"
    text += "2026-09-08 14:00,Bob Lee <bob@globex.example>,Globex\n"
    found, problems = read_text(tmp_path, text, company="Acme", role="SRE", tz="Asia/Tokyo")
    assert problems == []
    assert [(f.company, f.role, f.timezone) for f in found] == [
        ("Acme", "SRE", "Asia/Tokyo"),
        ("Globex", "SRE", "Asia/Tokyo"),
    ]
    assert found[0].starts_at == utc(2026, 9, 7, 5, 0)


def test_without_a_tz_cell_or_flag_the_users_zone_is_used(tmp_path):
    found, _ = read_text(tmp_path, HEADER + "\n" + row(company="A", role="B") + "\n")
    assert (found[0].timezone, found[0].starts_at) == ("Europe/Berlin", utc(2026, 9, 7, 12, 0))


def test_excel_csv_utf8_with_a_byte_order_mark_reads_like_the_plain_file():
    plain, _ = read(EXAMPLE)
    excel, problems = read(DATA / "excel-utf8-bom.csv")
    assert problems == []
    assert [(f.company, f.starts_at, f.contacts, f.notes) for f in excel] == [
        (f.company, f.starts_at, f.contacts, f.notes) for f in plain
    ]


def test_semicolon_separated_excel_file():
    found, problems = read(DATA / "excel-semicolon-utf8.csv")
    assert problems == []
    assert [c.name for c in found[0].contacts] == ["Jürgen Müller", "Anna Schmidt"]


def test_a_file_that_is_not_utf8_is_refused_with_its_line():
    _, problems = read(DATA / "excel-windows-1252.csv")
    assert [(p.line, p.message) for p in problems] == [
        (2, "is not UTF-8 text: save it as UTF-8 (in Excel: 'CSV UTF-8')")
    ]


def test_utf16_binary_and_empty_files_are_refused(tmp_path):
    (tmp_path / "a.csv").write_bytes((HEADER + "\n").encode("utf-16"))
    (tmp_path / "b.csv").write_bytes(b"PK\x03\x04\x14\x00\x06\x00")  # an .xlsx renamed
    (tmp_path / "c.csv").write_bytes(b"")
    problems = Problems()
    found = list(
        read_files([tmp_path / n for n in ("a.csv", "b.csv", "c.csv")], options(), problems)
    )
    assert found == []
    assert [(Path(p.file).name, p.message) for p in problems.items] == [
        ("a.csv", "is UTF-16 text: save it as UTF-8 (in Excel: 'CSV UTF-8')"),
        ("b.csv", "is a binary file, not a CSV file"),
        ("c.csv", f"is empty: its first row names the columns ({', '.join(COLUMNS)})"),
    ]


def test_rows_are_yielded_while_the_file_is_still_being_read():
    """Memory stays flat: the first interview arrives before the rest of the file is read."""
    rows = "\n".join(row(company=f"Company {n}", role="SRE") for n in range(5000))
    stream = io.BytesIO((HEADER + "\n" + rows + "\n").encode())
    reader = read_csv(stream, "big.csv", options(), Problems())
    first = next(reader)
    assert first.company == "Company 0"
    assert stream.tell() < len(stream.getvalue()) / 100
    assert sum(1 for _ in reader) == 4999


def test_column_letters_match_a_spreadsheet():
    assert [letter(i) for i in (0, 2, 25, 26, 27, 51, 52)] == [
        "A", "C", "Z", "AA", "AB", "AZ", "BA"
    ]  # fmt: skip


# --- the progress bar ---------------------------------------------------------------------------


def test_progress_counts_every_byte_read():
    counted = []
    problems = Problems()
    list(read_files([EXAMPLE, DATA / "excel-utf8-bom.csv"], options(), problems, counted.append))
    assert sum(counted) == total_size([EXAMPLE, DATA / "excel-utf8-bom.csv"])


def test_no_progress_bar_when_not_a_terminal():
    into_file = io.StringIO()
    with Progress(10**9, stream=into_file, smallest=0) as progress:
        progress.advance(10**8)
    assert not progress.shown
    assert into_file.getvalue() == ""


@pytest.fixture
def terminal():
    """A real pseudo-terminal: what the user's shell gives followup."""
    controller, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))  # 80x24
    stream = os.fdopen(follower, "w")
    yield stream, controller
    stream.close()
    os.close(controller)


def test_progress_bar_on_a_terminal_but_not_with_json(terminal):
    stream, controller = terminal
    with Progress(10**9, json_output=True, stream=stream, smallest=0) as quiet:
        quiet.advance(10**8)
    assert not quiet.shown
    with Progress(10**9, stream=stream, smallest=0) as shown:
        shown.advance(10**8)
    assert shown.shown
    stream.flush()
    readable, _, _ = select.select([controller], [], [], 10)
    assert readable and b"importing" in os.read(controller, 65536)


def test_no_progress_bar_for_a_small_import(terminal):
    stream, _ = terminal
    with Progress(1000, stream=stream) as progress:
        progress.advance(1000)
    assert not progress.shown


# --- what the lead's storage receives -----------------------------------------------------------


def test_imported_rows_record_through_the_clis_add_interview(tmp_path, db, db_url):
    settings = load_settings(
        tmp_path, environ={"FOLLOWUP_TIMEZONE": "Europe/Berlin", "FOLLOWUP_DATABASE_URL": db_url}
    )
    planner = Planner(settings)
    found, _ = read(EXAMPLE)
    now = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
    for item in found:
        add_interview(db, planner, item.to_input(), now, actor="test")
    stored = list(list_interviews(db))
    assert [(i.company, i.starts_at, i.duration_minutes) for i in stored] == [
        ("Acme Corp", utc(2026, 9, 7, 18, 0), 45),
        ("Fabrikam", utc(2026, 9, 8, 9, 30), 60),
        ("Northwind Traders", utc(2026, 9, 16, 16, 0), 60),
    ]
    assert [c.phone for c in stored[0].contacts] == ["+1 555 0100", ""]
    assert stored[1].notes == "They liked the dbt example.\nAsk Priya about the Spark migration."


def test_dry_run_json_shape():
    found, _ = read(EXAMPLE)
    assert found[0].as_json() == {
        "source": str(EXAMPLE) + ":row 2",
        "uid": None,
        "sequence": 0,
        "cancelled": False,
        "company": "Acme Corp",
        "role": "Staff Engineer",
        "starts_at": "2026-09-07T18:00:00Z",
        "timezone": "America/New_York",
        "duration_minutes": 45,
        "location": "Video call",
        "contacts": [
            {
                "name": "Jane Roe",
                "email": "jane@acme.example",
                "title": "Engineering Manager",
                "phone": "+1 555 0100",
            },
            {"name": "Bob Lee", "email": "bob@acme.example", "title": "", "phone": ""},
        ],
        "notes": "the move to event sourcing",
        "questions": ["How is on-call organised?", "What does the first quarter look like?"],
        "decision_date": "2026-09-18",
        "warnings": [],
    }
