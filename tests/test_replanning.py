"""Changing an interview changes its schedule visibly, and a mistaken change can be undone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from service.db import Database
from service.models import Event, FollowUp, Kind

ADD = (
    "interview", "add", "--company", "Acme Corp", "--role", "Staff Engineer",
    "--at", "2026-09-07 10:00", "--tz", "Europe/Berlin",
    "--contact", "Jane Roe <jane@acme.example> | topic=the roadmap",
    "--contact", "Bob Lee <bob@acme.example> | topic=on-call",
)  # fmt: skip


def schedule(run) -> dict[tuple[str, str], dict]:
    rows = run("schedule", "--all", "--json").json()
    return {(r["step"], r["to"]): r for r in rows if r["kind"] == "followup"}


def snapshot(db_url) -> list:
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(select(FollowUp.id, FollowUp.status, FollowUp.due_at)).all()
        events = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    db.dispose()
    return sorted(rows) + [events]


def test_a_mistaken_date_expires_the_thank_yous_loudly_and_correcting_it_restores_them(
    workdir, run, clock, db_url
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    assert run(*ADD).code == 0
    thank_jane = ("thank_you", "jane@acme.example")
    before = schedule(run)
    assert before[thank_jane]["status"] == "planned"

    # The README's own example: a date already in the past (a typo for 2026-10-07, say).
    moved = run("interview", "update", "1", "--at", "2026-08-07 10:00")
    assert moved.code == 0, moved.err
    assert "schedule changes:" in moved.err
    assert "expires   thank_you to Jane Roe <jane@acme.example>" in moved.err
    assert "re-timed  status_check to Jane Roe" in moved.err
    after = schedule(run)
    assert after[thank_jane]["status"] == "expired"
    assert after[thank_jane]["reason"] == "schedule"

    fixed = run("interview", "update", "1", "--at", "2026-09-07 10:00")
    assert fixed.code == 0, fixed.err
    assert "restored  thank_you to Jane Roe <jane@acme.example>" in fixed.err
    restored = schedule(run)
    assert restored[thank_jane]["status"] == "planned"
    assert restored[thank_jane]["due_at"] == before[thank_jane]["due_at"]


def test_dry_run_shows_the_changes_and_writes_nothing(workdir, run, clock, db_url):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    run(*ADD)
    before = snapshot(db_url)
    dry = run("interview", "update", "1", "--at", "2026-08-07 10:00", "--dry-run")
    assert dry.code == 0, dry.err
    assert "would change the schedule (nothing was written):" in dry.err
    assert "expires   thank_you to Jane Roe" in dry.err
    assert snapshot(db_url) == before
    as_json = run("interview", "update", "1", "--remove-contact", "bob@acme.example",
                  "--dry-run", "--json").json()  # fmt: skip
    assert as_json["dry_run"] is True
    assert {(c["action"], c["step"]) for c in as_json["changes"]} == {("cancelled", "thank_you")}
    assert snapshot(db_url) == before


def test_contacts_are_added_and_removed_one_at_a_time_and_replacing_says_what_it_cancels(
    workdir, run, clock, db_url
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    run(*ADD)
    added = run("interview", "update", "1", "--add-contact", "Cleo Diaz <cleo@acme.example>")
    assert added.code == 0, added.err
    assert "added     thank_you to Cleo Diaz <cleo@acme.example>" in added.err
    removed = run("interview", "update", "1", "--remove-contact", "BOB@acme.example")
    assert removed.code == 0, removed.err
    assert "cancelled thank_you to Bob Lee <bob@acme.example>" in removed.err
    rows = schedule(run)
    assert rows[("thank_you", "bob@acme.example")]["status"] == "cancelled"
    assert rows[("thank_you", "cleo@acme.example")]["status"] == "planned"
    assert rows[("thank_you", "jane@acme.example")]["status"] == "planned"

    replaced = run("interview", "update", "1", "--contact", "Dev Khan <dev@acme.example>")
    assert replaced.code == 0, replaced.err
    for who in ("Jane Roe", "Cleo Diaz"):
        assert f"cancelled thank_you to {who}" in replaced.err
    contacts = run("interview", "show", "1", "--json").json()["contacts"]
    assert [c["email"] for c in contacts] == ["dev@acme.example"]


def test_retry_refuses_a_follow_up_whose_contact_is_gone_or_interview_closed(
    workdir, run, clock, db_url
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    run(*ADD)
    run("interview", "update", "1", "--at", "2026-08-07 10:00")  # the thank-yous expire
    run("interview", "update", "1", "--remove-contact", "bob@acme.example")
    bob = schedule(run)[("thank_you", "bob@acme.example")]
    assert bob["status"] == "expired"
    refused = run("retry", str(bob["id"]))
    assert refused.code == 2
    assert "no longer a contact of interview 1" in refused.err
    # And the date corrected: Bob's thank-you stays expired, he is no longer on the interview.
    run("interview", "update", "1", "--at", "2026-09-07 10:00")
    assert schedule(run)[("thank_you", "bob@acme.example")]["status"] == "expired"

    # Recorded late, its thank-you expired at once; then the interview is closed.
    late = [a.replace("2026-09-07", "2026-08-07") for a in ADD]
    assert run(*late, "--company", "Globex").code == 0
    expired = next(
        r for r in run("schedule", "--all", "--json").json()
        if r["interview_id"] == 2 and r["step"] == "thank_you" and r["status"] == "expired"
    )  # fmt: skip
    run("interview", "close", "2", "--outcome", "withdrawn")
    refused = run("retry", str(expired["id"]))
    assert refused.code == 2 and "which is closed (withdrawn)" in refused.err


def test_notes_to_the_user_are_labelled_and_never_cancelled_by_a_change(
    workdir, run, clock, db_url, monkeypatch
):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    monkeypatch.setenv("FOLLOWUP_REVIEW_LEAD", "30d")
    run("migrate")
    run(*ADD)
    run("worker", "--once")  # renders into review, and queues the digest to the user
    rows = run("schedule", "--all", "--json").json()
    notes = [r for r in rows if r["kind"] == "note"]
    assert [n["step"] for n in notes] == ["review_digest"] and notes[0]["interview_id"] is None
    assert "note: review digest" in run("schedule", "--all").out
    db = Database(db_url)
    with db.transaction() as session:
        kinds = set(session.scalars(select(FollowUp.kind)))
    db.dispose()
    assert kinds == {Kind.FOLLOWUP, Kind.NOTE}


def test_update_lists_a_re_time_only_when_the_minute_shown_changes(workdir, run, clock, db_url):
    clock.set(datetime(2026, 9, 1, 12, 0, tzinfo=UTC))
    run("migrate")
    assert run(*ADD).code == 0
    before = schedule(run)

    seconds = run("interview", "update", "1", "--at", "2026-09-07 10:00:30")
    assert seconds.code == 0, seconds.err
    assert "re-timed" not in seconds.err
    assert run("interview", "update", "1", "--at", "2026-09-07 10:00:30").err.count("re-timed") == 0

    minute = run("interview", "update", "1", "--at", "2026-09-07 10:01")
    assert minute.code == 0, minute.err
    assert "re-timed  status_check to Jane Roe" in minute.err
    after = schedule(run)
    assert after.keys() == before.keys()
    assert all(after[k]["status"] == before[k]["status"] for k in before)
