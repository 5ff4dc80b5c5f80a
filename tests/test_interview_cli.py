"""Recording interviews from the command line, on both databases."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

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
