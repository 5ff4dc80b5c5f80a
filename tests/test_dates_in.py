"""One check for every date that enters: years 2000-2099, one line, nothing written (issue 20)."""

from __future__ import annotations

import pytest
from conftest import API_TOKEN
from sqlalchemy import func, select

from service.db import Database
from service.models import FollowUp, Interview

OUT_OF_RANGE = "is not between the years 2000 and 2099: check the year"

ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:event-1@test.example\r\nDTSTAMP:20260901T080000Z\r\n"
    "SUMMARY:Interview: Acme Corp - Staff Engineer\r\nDTSTART:{start}\r\nDTEND:{end}\r\n"
    "ORGANIZER;CN=Jane Roe:mailto:jane@acme.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)

EML = (
    "From: Jane Roe <jane@acme.example>\r\nTo: ada@candidate.example\r\n"
    "Subject: Invitation\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain\r\n\r\nSee the invitation.\r\n"
    '--b\r\nContent-Type: text/calendar; method=REQUEST; name="invite.ics"\r\n\r\n'
    "{ics}\r\n--b--\r\n"
)


def stored(db_url: str) -> tuple[int, int]:
    db = Database(db_url)
    with db.reading() as session:
        counts = (
            session.scalar(select(func.count()).select_from(Interview)),
            session.scalar(select(func.count()).select_from(FollowUp)),
        )
    db.dispose()
    return counts


def one_line_refusal(result) -> None:
    assert result.code == 2, (result.out, result.err)
    assert OUT_OF_RANGE in result.err and result.err.count("\n") == 1
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("00010101T000000Z", "00010101T010000Z"),  # year 1: broke every listing on SQLite
        ("99991231T100000Z", "99991231T110000Z"),  # year 9999: OverflowError
        ("99991231T100000", "99991231T110000"),  # floating
        ("20260916T090000Z", "99991231T110000Z"),  # a sound start, an end in year 9999
        ("20991231T230000Z", "20991231T233000Z"),  # in 2099 as written, 2100 in the user's zone
    ],
)
@pytest.mark.parametrize("kind", ["ics", "eml"])
def test_a_calendar_date_outside_the_years_is_refused_on_one_line(
    workdir, run, db_url, tmp_path, start, end, kind
):
    run("migrate")
    ics = ICS.format(start=start, end=end)
    path = tmp_path / f"invite.{kind}"
    path.write_text(ics if kind == "ics" else EML.format(ics=ics.strip()), newline="")
    result = run("import", "--tz", "Pacific/Kiritimati", str(path))
    if start.startswith("2099"):
        # 2099-12-31 23:00 UTC is fine: only the UTC year counts, not the wall clock's.
        assert result.code == 0, result.err
        return
    one_line_refusal(result)
    assert stored(db_url) == (0, 0)


def test_a_csv_date_outside_the_years_is_refused_on_one_line(workdir, run, db_url, tmp_path):
    run("migrate")
    sheet = tmp_path / "interviews.csv"
    for at, tz in (("0001-01-01 10:00", "UTC"), ("2099-12-31 23:30", "Pacific/Honolulu")):
        sheet.write_text(
            f"company,role,at,tz,contacts\nAcme,Engineer,{at},{tz},Jo Roe <jo@acme.example>\n"
        )
        one_line_refusal(run("import", str(sheet)))
    assert stored(db_url) == (0, 0)


def test_the_cli_refuses_a_time_that_is_in_2100_in_utc(workdir, run, db_url):
    run("migrate")
    result = run(
        "interview", "add", "--company", "Acme", "--role", "Engineer",
        "--at", "2099-12-31 23:30", "--tz", "Pacific/Honolulu",
        "--contact", "Jo Roe <jo@acme.example>",
    )  # fmt: skip
    one_line_refusal(result)
    assert stored(db_url) == (0, 0)


@pytest.mark.parametrize("at", ["0001-01-01 00:00", "9999-12-31 23:00", "2099-12-31 23:30"])
def test_the_api_answers_422_for_a_date_outside_the_years(web, db_url, at):
    web.headers.update({"Authorization": f"Bearer {API_TOKEN}"})
    new = {
        "company": "Acme",
        "role": "Engineer",
        "at": at,
        "tz": "Pacific/Honolulu",
        "contacts": ["Jo Roe <jo@acme.example>"],
    }
    response = web.post("/api/v1/interviews", json=new)
    assert response.status_code == 422, response.text
    assert "2000 and 2099" in response.text
    assert stored(db_url) == (0, 0)
    good = web.post("/api/v1/interviews", json={**new, "at": "2026-09-16 09:00"})
    assert good.status_code == 201, good.text
    changed = web.patch(f"/api/v1/interviews/{good.json()['id']}", json={"at": at})
    assert changed.status_code == 422, changed.text
    assert web.get("/api/v1/interviews").json()["items"][0]["starts_at"].startswith("2026-09-16")
