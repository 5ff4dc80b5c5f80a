"""Review is decided when a follow-up would go out, from the settings and plan as they are then."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from processes import LogReader, seed_due, start_worker, statuses, worker_env
from sqlalchemy import select, update

from service.approval import ReviewRule
from service.db import Database
from service.models import FollowUp, Kind
from service.plan import parse_plan

PLAN = """
[window]
enabled = false

[[steps]]
name = "thank_you"
after = "0s"
template = "thank_you"
to = "interviewers"

[[steps]]
name = "call_reminder"
after = "0s"
template = "call_reminder"
to = "me"

[[steps]]
name = "status_check"
after = "1h"
template = "status_check"
to = "first"
{override}
"""


def use_plan(workdir, monkeypatch, override: str = "") -> None:
    path = workdir / "plan.toml"
    path.write_text(PLAN.format(override=override))
    monkeypatch.setenv("FOLLOWUP_PLAN", str(path))


def sent_to_contacts(server) -> list[str]:
    return [r.rcpt_tos[0] for r in server.received if r.rcpt_tos != ["ada@candidate.example"]]


def statuses_by_step(db_url) -> dict[str, str]:
    db = Database(db_url)
    with db.transaction() as session:
        rows = session.execute(
            select(FollowUp.step, FollowUp.status).where(FollowUp.kind == Kind.FOLLOWUP)
        ).all()
    db.dispose()
    return dict(rows)


# --- the rule ----------------------------------------------------------------------------------


def test_the_rule_follows_the_setting_for_mail_to_others_and_the_plan_overrides_it():
    plan = parse_plan(PLAN.format(override="review = false"), "plan")
    on, off = ReviewRule.of(True, plan), ReviewRule.of(False, plan)
    assert on.needs_review("followup", "thank_you", to_contact=True)
    assert not off.needs_review("followup", "thank_you", to_contact=True)
    # Reminders to the user never wait; a step that says review = false never does.
    assert not on.needs_review("followup", "call_reminder", to_contact=False)
    assert not on.needs_review("followup", "status_check", to_contact=True)
    # Notes from the service (a digest) never wait for review.
    assert not on.needs_review("note", "review_digest", to_contact=False)
    forced = ReviewRule.of(False, parse_plan(PLAN.format(override="review = true"), "plan"))
    assert forced.needs_review("followup", "status_check", to_contact=True)


def test_the_sql_form_of_the_rule_agrees_with_the_python_form(db):
    plan = parse_plan(PLAN.format(override="review = true"), "plan")
    seed_due(db.url, 2)
    with db.transaction() as session:
        session.execute(update(FollowUp).where(FollowUp.id == 2).values(step="status_check"))
    for default in (True, False):
        for current in (plan, parse_plan(PLAN.format(override="review = false"), "p")):
            rule = ReviewRule.of(default, current)
            with db.transaction() as session:
                rows = session.scalars(select(FollowUp)).all()
                by_sql = set(session.scalars(select(FollowUp.id).where(rule.sql())))
            assert by_sql == {r.id for r in rows if rule.of_row(r)}


# --- through the commands ----------------------------------------------------------------------


def test_turning_review_on_covers_follow_ups_planned_before(
    workdir, run, smtp, record_interview, db_url, monkeypatch
):
    """The README's walkthrough: record an interview, then switch review on, then run."""
    use_plan(workdir, monkeypatch)
    run("migrate")
    record_interview()  # planned while review was off
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    result = run("worker", "--once")
    assert result.code == 0, result.err
    assert "2 to review" in result.out  # the thank-you, and the status check due within 24 h
    assert sent_to_contacts(smtp) == []
    steps = statuses_by_step(db_url)
    assert steps["thank_you"] == steps["status_check"] == "pending_review"
    assert steps["call_reminder"] == "sent"  # a reminder to the user needs no approval


def test_turning_review_off_sends_what_was_planned_under_review(
    workdir, run, smtp, record_interview, db_url, monkeypatch
):
    use_plan(workdir, monkeypatch)
    run("migrate")
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    record_interview()
    monkeypatch.setenv("FOLLOWUP_REVIEW", "off")
    assert "1 sent" in run("worker", "--once").out.replace("2 sent", "1 sent")
    assert sent_to_contacts(smtp) == ["jane@acme.example"]


def test_a_step_that_says_review_true_waits_even_with_review_off(
    workdir, run, clock, smtp, record_interview, db_url, monkeypatch
):
    use_plan(workdir, monkeypatch, override="review = true")
    run("migrate")
    record_interview()
    run("worker", "--once")
    clock.advance(timedelta(hours=1, minutes=1))
    run("worker", "--once")
    assert sent_to_contacts(smtp) == ["jane@acme.example"]  # the thank-you only
    assert statuses_by_step(db_url)["status_check"] == "pending_review"


def test_a_deferred_follow_up_goes_to_review_when_review_was_turned_on_meanwhile(
    workdir, run, clock, smtp, record_interview, db_url, monkeypatch
):
    use_plan(workdir, monkeypatch)
    run("migrate")
    record_interview()
    smtp.recorder.mode = "defer"
    run("worker", "--once")
    assert statuses_by_step(db_url)["thank_you"] == "deferred"
    smtp.recorder.mode = "accept"
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    clock.advance(timedelta(hours=2))
    run("worker", "--once")
    assert sent_to_contacts(smtp) == []
    assert statuses_by_step(db_url)["thank_you"] == "pending_review"


def test_a_running_worker_picks_up_review_turned_on_in_env(tmp_path, db_url, mailserver):
    """A real worker started with review off; .env changes; a follow-up due after that waits."""
    env_file = tmp_path / ".env"
    env_file.write_text("FOLLOWUP_REVIEW=off\n")
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="1s", FOLLOWUP_LOG_LEVEL="INFO")
    worker = start_worker(tmp_path, env)
    log = LogReader(worker)
    try:
        log.wait_for("worker started")
        env_file.write_text("FOLLOWUP_REVIEW=on\n")
        log.wait_for("settings re-read")
        seed_due(db_url, 1, due=datetime.now(UTC) - timedelta(seconds=1))
        log.wait_for("to review")  # the pass that queued it
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    assert "review: off -> on" in log.finish()
    assert statuses(db_url)["pending_review"] == 1
    assert [r for r in mailserver.received if r.rcpt_tos != ["ada@candidate.example"]] == []


def test_a_broken_env_change_pauses_sending_instead_of_using_the_old_settings(
    tmp_path, db_url, mailserver
):
    env_file = tmp_path / ".env"
    env_file.write_text("FOLLOWUP_REVIEW=off\n")
    env = worker_env(db_url, mailserver.env(), FOLLOWUP_TICK="1s", FOLLOWUP_LOG_LEVEL="INFO")
    worker = start_worker(tmp_path, env)
    log = LogReader(worker)
    try:
        log.wait_for("worker started")
        env_file.write_text("FOLLOWUP_REVIEW=onn\n")  # meant "on"
        log.wait_for("sending is paused")
        seed_due(db_url, 1, due=datetime.now(UTC) - timedelta(seconds=1))
        # Three more passes at least: still nothing goes out.
        log.wait_for("sending is paused", times=log.count("sending is paused") + 3)
        assert mailserver.received == []
        env_file.write_text("FOLLOWUP_REVIEW=off\n")
        log.wait_for("sending resumes")
        log.wait_for("1 sent")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=20)
    assert len(mailserver.received) == 1
