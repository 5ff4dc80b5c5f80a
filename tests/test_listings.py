"""Listings filter and stream: `schedule` and `interview list` with --status, --since, --limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

ADD = (
    "interview", "add", "--role", "Staff Engineer", "--tz", "Europe/Berlin",
    "--contact", "Jane Roe <jane@acme.example> | topic=the roadmap",
)  # fmt: skip


def add(run, company: str, at: str) -> None:
    result = run(*ADD, "--company", company, "--at", at)
    assert result.code == 0, result.err


def test_schedule_filters_by_status_day_interview_and_count(workdir, run, clock):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    add(run, "Acme", "2026-09-07 10:00")
    add(run, "Globex", "2026-10-05 10:00")
    run("interview", "close", "2", "--outcome", "rejected")

    everything = run("schedule", "--all", "--json").json()
    assert {r["status"] for r in everything} == {"planned", "cancelled"}
    upcoming = run("schedule", "--json").json()
    assert {r["company"] for r in upcoming} == {"Acme"}
    cancelled = run("schedule", "--status", "cancelled", "--json").json()
    assert cancelled and {r["company"] for r in cancelled} == {"Globex"}
    both = run("schedule", "--status", "cancelled", "--status", "planned", "--json").json()
    assert len(both) == len(everything)

    late = run("schedule", "--all", "--since", "2026-09-20", "--json").json()
    assert late and all(r["due_at"] >= "2026-09-19T22:00:00Z" for r in late)  # Berlin's midnight
    assert len(late) < len(everything)
    assert [r["interview_id"] for r in run("schedule", "--interview", "1", "--json").json()] == [
        1
    ] * len(upcoming)
    first_two = run("schedule", "--all", "--limit", "2", "--json").json()
    assert [r["id"] for r in first_two] == [r["id"] for r in everything[:2]]
    bad = run("schedule", "--since", "next week")
    assert bad.code == 2 and "--since" in bad.err


def test_interview_list_filters_and_its_json_is_one_object_a_line(workdir, run, clock):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    add(run, "Acme", "2026-09-07 10:00")
    add(run, "Globex", "2026-10-05 10:00")
    run("interview", "close", "2", "--outcome", "offer")
    out = run("interview", "list", "--json").out
    lines = out.strip().splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 4
    assert [json.loads(line.rstrip(","))["company"] for line in lines[1:-1]] == ["Acme", "Globex"]
    active = run("interview", "list", "--status", "active", "--json").json()
    assert [i["company"] for i in active] == ["Acme"]
    assert [i["company"] for i in run("interview", "list", "--limit", "1", "--json").json()] == [
        "Acme"
    ]
    assert run("interview", "list", "--status", "offer").out.count("Globex") == 1


def test_a_bounce_cancellation_stored_by_an_earlier_version_says_cancelled_once(
    workdir, run, clock, db_url
):
    from sqlalchemy import update

    from service.db import Database
    from service.models import FollowUp

    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    add(run, "Acme", "2026-09-07 10:00")
    run("interview", "close", "1", "--outcome", "rejected")
    db = Database(db_url)
    with db.transaction() as session:  # the text earlier versions stored on a bounce
        session.execute(
            update(FollowUp).values(last_error="cancelled: mail to jane@acme.example bounced")
        )
    db.dispose()

    shown = run("schedule", "--all").out
    assert "cancelled: mail to jane@acme.example bounced" in shown
    assert "cancelled: cancelled" not in shown
