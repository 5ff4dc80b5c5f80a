"""Opt-in review: nothing leaves until the user approved the exact text, on both databases."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from processes import worker_env
from sqlalchemy import select

from service.db import Database
from service.models import Event, FollowUp

REVIEW_PLAN = """
[window]
enabled = false

[[steps]]
name = "thank_you"
after = "2h"
template = "thank_you"
to = "interviewers"
expire_after = "3d"

[[steps]]
name = "status_check"
after = "7d"
template = "status_check"
to = "first"
"""


@pytest.fixture
def review_on(workdir, monkeypatch, mailserver):
    plan = workdir / "plan.toml"
    plan.write_text(REVIEW_PLAN)
    monkeypatch.setenv("FOLLOWUP_PLAN", str(plan))
    monkeypatch.setenv("FOLLOWUP_REVIEW", "on")
    monkeypatch.setenv("FOLLOWUP_DIGEST_INTERVAL", "6h")
    for k, v in mailserver.env().items():
        monkeypatch.setenv(k, v)
    return mailserver


def followup(db_url, fid: int) -> FollowUp:
    db = Database(db_url)
    with db.transaction() as session:
        row = session.get(FollowUp, fid)
    db.dispose()
    return row


def to_contacts(server) -> list:
    return [r for r in server.received if r.rcpt_tos != ["ada@candidate.example"]]


def digests(server) -> list:
    return [r for r in server.received if "waiting for your review" in r.message["Subject"]]


def body(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def setup_queue(run, record_interview, contacts=("Jane Roe <jane@acme.example>",)):
    run("migrate")
    record_interview(contacts=contacts)
    assert run("worker", "--once").code == 0  # renders what is due within the 24 h lead
    return run("queue", "--json").json()


def test_nothing_reaches_a_contact_until_approved(review_on, run, clock, record_interview, db_url):
    queue = setup_queue(run, record_interview)
    assert [q["subject"] for q in queue] == ["Thank you for the Staff Engineer interview"]
    item = queue[0]
    assert {"id", "interview_id", "to", "subject", "body", "due_at"} <= set(item)
    assert item["to"] == "jane@acme.example" and "Dear Jane," in item["body"]

    clock.advance(timedelta(hours=5))  # past its due time: it waits, unapproved
    for _ in range(3):
        run("worker", "--once")
    assert to_contacts(review_on) == []
    assert followup(db_url, item["id"]).status == "pending_review"

    assert run("approve", str(item["id"])).code == 0
    assert "1 sent" in run("worker", "--once").out  # approved and already due: the next tick
    sent = to_contacts(review_on)
    assert len(sent) == 1
    # Exactly the approved text, byte for byte once decoded.
    assert sent[0].message["Subject"] == item["subject"]
    assert body(sent[0]) == item["body"]
    run("worker", "--once")
    assert len(to_contacts(review_on)) == 1


def test_the_edited_text_is_what_is_sent(
    review_on, run, clock, record_interview, workdir, monkeypatch
):
    queue = setup_queue(run, record_interview)
    fid = queue[0]["id"]
    editor = workdir / "editor.py"
    editor.write_text(
        textwrap.dedent("""
        import sys
        path = sys.argv[1]
        text = open(path).read()
        text = text.replace("Subject: Thank you for", "Subject: Many thanks for")
        text = text.replace("Best regards,", "P.S. The architecture diagram was great.\\n\\nBest regards,")
        open(path, "w").write(text)
    """)
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    assert run("edit", str(fid)).code == 0
    edited = run("queue", "--json").json()[0]
    assert edited["subject"] == "Many thanks for the Staff Engineer interview"
    assert "P.S. The architecture diagram was great." in edited["body"]

    run("approve", str(fid))
    clock.advance(timedelta(hours=3))
    run("worker", "--once")
    sent = to_contacts(review_on)
    assert [s.message["Subject"] for s in sent] == [edited["subject"]]
    assert body(sent[0]) == edited["body"]


def test_an_edit_with_leftover_braces_or_an_injected_header_is_refused(
    review_on, run, record_interview, workdir, monkeypatch
):
    fid = setup_queue(run, record_interview)[0]["id"]
    before = run("queue", "--json").json()[0]
    for replacement in (
        "Dear {{ contact.first_name }},",
        "Subject: Hi\u2028Bcc: evil@attacker.example",
        "Subject: Hi\rBcc: evil@attacker.example",
    ):
        editor = workdir / "editor.py"
        editor.write_text(
            "import sys\np = sys.argv[1]\nt = open(p).read()\n"
            f"t = t.replace('Dear Jane,', {replacement!r}) if 'Dear' in {replacement!r} else "
            f"t.replace('Subject: Thank you', {replacement!r})\nopen(p, 'w').write(t)\n"
        )
        monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
        result = run("edit", str(fid))
        assert result.code == 2, result.out
        assert len(result.err.strip().splitlines()) == 1
    after = run("queue", "--json").json()[0]
    assert (after["subject"], after["body"]) == (before["subject"], before["body"])


def test_rejected_is_never_sent(review_on, run, clock, record_interview, db_url):
    fid = setup_queue(run, record_interview)[0]["id"]
    assert run("reject", str(fid)).code == 0
    clock.advance(timedelta(days=1))
    run("worker", "--once")
    assert to_contacts(review_on) == []
    assert followup(db_url, fid).status == "rejected"
    assert run("approve", str(fid)).code == 2  # the loser is told why
    assert run("queue", "--json").json() == []


def test_an_interview_change_after_approval_sends_it_back_to_the_queue(
    review_on, run, clock, record_interview, db_url
):
    queue = setup_queue(run, record_interview)
    fid, interview_id = queue[0]["id"], queue[0]["interview_id"]
    run("approve", str(fid))
    result = run("interview", "update", str(interview_id), "--role", "Principal Engineer")
    assert result.code == 0
    assert "back to review" in result.err
    again = run("queue", "--json").json()
    assert [q["id"] for q in again] == [fid]
    assert again[0]["subject"] == "Thank you for the Principal Engineer interview"
    clock.advance(timedelta(hours=3))
    run("worker", "--once")
    assert to_contacts(review_on) == []  # neither the stale nor the new text went out


def test_a_template_change_after_approval_sends_it_back_to_the_queue(
    review_on, run, clock, record_interview, db_url, workdir, monkeypatch
):
    fid = setup_queue(run, record_interview)[0]["id"]
    run("approve", str(fid))
    overrides = workdir / "mytemplates"
    overrides.mkdir()
    (overrides / "thank_you.txt").write_text(
        "{% block subject %}Thanks, {{ contact.first_name }}{% endblock %}\n"
        "{% block body %}Dear {{ contact.first_name }},\n\nThanks!\n\n{{ me.name }}\n{% endblock %}\n"
    )
    monkeypatch.setenv("FOLLOWUP_TEMPLATES_DIR", str(overrides))
    clock.advance(timedelta(hours=3))
    run("worker", "--once")
    assert to_contacts(review_on) == []
    row = followup(db_url, fid)
    assert row.status == "pending_review" and row.subject == "Thanks, Jane"
    assert "changed after approval" in row.last_error
    # Approving the new text sends the new text.
    run("approve", str(fid))
    run("worker", "--once")
    assert [s.message["Subject"] for s in to_contacts(review_on)] == ["Thanks, Jane"]


def test_digest_goes_out_once_per_interval(review_on, run, clock, record_interview):
    setup_queue(run, record_interview)
    first = digests(review_on)
    assert len(first) == 1
    text = body(first[0])
    assert "Thank you for the Staff Engineer interview" in text and "followup review" in text
    assert first[0].rcpt_tos == ["ada@candidate.example"]

    clock.advance(timedelta(hours=1))
    record_interview(company="Globex", contacts=("Hank Scorpio <hank@globex.example>",))
    run("worker", "--once")
    assert len(digests(review_on)) == 1  # within the interval: no second digest yet

    clock.advance(timedelta(hours=6))
    run("worker", "--once")
    assert len(digests(review_on)) == 2
    assert "Globex" in body(digests(review_on)[1])
    run("worker", "--once")
    assert len(digests(review_on)) == 2  # nothing new waits: no digest


def test_an_unapproved_thank_you_expires_after_three_days(
    review_on, run, clock, record_interview, db_url
):
    fid = setup_queue(run, record_interview)[0]["id"]
    clock.advance(timedelta(days=3, hours=1))
    run("worker", "--once")
    assert followup(db_url, fid).status == "pending_review"
    clock.advance(timedelta(hours=2))
    run("worker", "--once")
    assert followup(db_url, fid).status == "expired"
    assert run("approve", str(fid)).code == 2
    run("worker", "--once")
    assert to_contacts(review_on) == []


def test_checks_warn_and_leftover_braces_block(review_on, run, record_interview, db_url):
    queue = setup_queue(
        run,
        record_interview,
        contacts=("Jane Roe <jane@acme.example>", "Bob Lee <bob@gmail.example>"),
    )
    warnings = {q["to"]: q["warnings"] for q in queue}
    assert any("not on the domain" in w for w in warnings["bob@gmail.example"])
    # A stored text with leftover braces cannot be approved or sent.
    fid = queue[0]["id"]
    db = Database(db_url)
    with db.transaction() as session:
        row = session.get(FollowUp, fid)
        row.body_text = "Dear Bob,\n\n{{ oops }}\n"
        from service.rendering import content_hash

        row.content_hash = content_hash(row.subject, row.body_text, None)
    db.dispose()
    result = run("approve", str(fid))
    assert result.code == 2 and "leftover template braces" in result.err
    preview = run("preview", str(fid))
    assert "BLOCKS SENDING: the text has leftover template braces" in preview.err
    assert "the greeting names 'Bob' but it goes to Jane Roe" in preview.err


def test_greeting_that_names_someone_else_is_flagged(
    review_on, run, record_interview, db_url, workdir, monkeypatch
):
    fid = setup_queue(run, record_interview)[0]["id"]
    editor = workdir / "editor.py"
    editor.write_text(
        "import sys\np=sys.argv[1]\nt=open(p).read().replace('Dear Jane,','Dear Bob,')\nopen(p,'w').write(t)\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    result = run("edit", str(fid))
    assert result.code == 0
    assert "greeting names 'Bob' but it goes to Jane Roe" in result.err
    queue = run("queue", "--json").json()
    assert any("greeting" in w for w in queue[0]["warnings"])


def test_every_review_action_is_an_event(review_on, run, record_interview, db_url):
    fid = setup_queue(run, record_interview)[0]["id"]
    run("approve", str(fid))
    run("reject", str(fid))
    db = Database(db_url)
    with db.transaction() as session:
        kinds = [
            (e.kind, e.from_status, e.to_status)
            for e in session.scalars(
                select(Event).where(Event.followup_id == fid).order_by(Event.id)
            )
        ]
        times = [e.at for e in session.scalars(select(Event).where(Event.followup_id == fid))]
    db.dispose()
    assert kinds == [
        ("planned", None, "planned"),
        ("pending_review", "planned", "pending_review"),
        ("approved", "pending_review", "approved"),
        ("rejected", "approved", "rejected"),
    ]
    assert all(t is not None for t in times)


def _cli(cwd, env, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "service", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_approve_reject_and_worker_race_to_exactly_one_outcome(
    review_on, run, clock, record_interview, db_url, workdir
):
    """Real concurrent processes: whichever wins, the others are told, and the mail matches."""
    run("migrate")
    env = worker_env(
        db_url, review_on.env(), FOLLOWUP_REVIEW="on", FOLLOWUP_PLAN=str(workdir / "plan.toml")
    )
    outcomes = set()
    for _ in range(4):
        # A thank-you already due by the real clock (which the other processes use), in review.
        clock.set(datetime.now(UTC) - timedelta(hours=3))
        record_interview()
        run("worker", "--once")
        fid = max(q["id"] for q in run("queue", "--json").json())
        before = len(to_contacts(review_on))
        procs = [
            _cli(workdir, env, "approve", str(fid)),
            _cli(workdir, env, "reject", str(fid)),
            _cli(workdir, env, "worker", "--once"),
        ]
        results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
        (a_code, _, a_err), (r_code, _, r_err), (w_code, _, w_err) = results
        assert w_code == 0, w_err
        status = followup(db_url, fid).status
        delivered = len(to_contacts(review_on)) - before
        outcomes.add(status)
        if status == "sent":
            assert delivered == 1 and a_code == 0 and r_code == 2
            assert re.search(r"(is already on its way|has already gone) to \S+; sent at ", r_err)
        elif status == "approved":  # approved after the worker's pass: goes at the next tick
            assert delivered == 0 and a_code == 0 and r_code == 2
        else:
            assert status == "rejected" and delivered == 0 and r_code == 0
            assert a_code == 0 or "rejected" in a_err  # approve lost, or won before the reject
    assert outcomes <= {"sent", "approved", "rejected"}


def test_review_walks_the_queue_in_the_terminal(review_on, run, clock, record_interview, db_url):
    queue = setup_queue(
        run,
        record_interview,
        contacts=(
            "Jane Roe <jane@acme.example>",
            "Bob Lee <bob@acme.example>",
            "Carol Diaz <carol@acme.example>",
        ),
    )
    ids = [q["id"] for q in queue]
    later = clock().astimezone(UTC) + timedelta(days=2)
    # The new time is typed in the user's own zone (FOLLOWUP_TIMEZONE=Europe/Berlin).
    typed = later.astimezone(ZoneInfo("Europe/Berlin"))
    answers = f"a\nr\ns\n{typed:%Y-%m-%d %H:%M}\n"
    result = run("review", input=answers)
    assert result.code == 0, result.err
    # Each message is shown whole before the question.
    assert result.out.count("From: Ada Candidate <ada@candidate.example>") == 3
    assert "Dear Jane," in result.out and "Dear Bob," in result.out
    statuses = [followup(db_url, fid).status for fid in ids]
    assert statuses == ["approved", "rejected", "pending_review"]
    snoozed = followup(db_url, ids[2])
    assert snoozed.due_at.astimezone(UTC).replace(second=0) == later.replace(
        second=0, microsecond=0
    )


def test_approve_all_leaves_follow_ups_with_warnings_unless_forced(
    review_on, run, record_interview, db_url
):
    queue = setup_queue(
        run,
        record_interview,
        contacts=("Jane Roe <jane@acme.example> | topic=x", "J. Lee <jlee@acme.example> | topic=y"),
    )
    doubtful = next(q for q in queue if q["to"] == "jlee@acme.example")
    assert doubtful["warnings"]
    result = run("approve", "--all")
    assert result.code == 0, result.err
    assert f"follow-up {doubtful['id']}: not approved, it has warnings" in result.err
    assert "'J.' is only an initial" in result.err
    assert [q["id"] for q in run("queue", "--json").json()] == [doubtful["id"]]
    forced = run("approve", "--all", "--force")
    assert forced.code == 0 and f"follow-up {doubtful['id']}: approved" in forced.out
    assert run("queue", "--json").json() == []


def test_approval_exit_codes_follow_one_rule(review_on, run, record_interview):
    fid = setup_queue(run, record_interview)[0]["id"]
    assert run("approve", str(fid)).code == 0
    twice = run("approve", str(fid))
    assert twice.code == 2 and "is approved" in twice.err
    unknown = run("approve", "99")
    assert unknown.code == 2 and "does not exist" in unknown.err
    huge = run("approve", "99999999999999999999")
    assert huge.code == 2 and huge.err.count("\n") == 1


@pytest.mark.parametrize(
    ("editor", "complaint"),
    [("false", "the editor failed"), ("no-such-editor-here", "the editor failed")],
)
def test_a_failing_editor_is_one_line_exit_2_and_changes_nothing(
    review_on, run, record_interview, monkeypatch, editor, complaint
):
    before = setup_queue(run, record_interview)[0]
    monkeypatch.setenv("EDITOR", editor)
    result = run("edit", str(before["id"]))
    assert result.code == 2
    assert result.err.startswith(f"followup: error: {complaint}") and result.err.count("\n") == 1
    assert run("queue", "--json").json()[0]["body"] == before["body"]


def test_an_editor_that_writes_something_other_than_utf8_is_refused(
    review_on, run, record_interview, monkeypatch, tmp_path
):
    before = setup_queue(run, record_interview)[0]
    script = tmp_path / "latin1-editor"
    script.write_text("#!/bin/sh\nprintf 'Subject: Caf\\351\\n\\nBody\\n' > \"$1\"\n")
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    result = run("edit", str(before["id"]))
    assert result.code == 2 and "not UTF-8" in result.err
    assert run("queue", "--json").json()[0]["body"] == before["body"]


def test_queue_shows_each_follow_up_with_its_checks_and_what_blocks_it(
    review_on, run, record_interview, db_url
):
    run("migrate")
    assert run("queue").out == "Nothing waits for review.\n"
    queue = setup_queue(
        run,
        record_interview,
        contacts=("Jane Roe <jane@acme.example>", "J. Lee <jlee@acme.example>"),
    )
    jane, lee = (next(q for q in queue if q["to"].startswith(to)) for to in ("jane@", "jlee@"))
    listed = run("queue").out
    assert "DUE (Europe/Berlin)" in listed and "CHECKS" in listed
    assert "Jane Roe <jane@acme.example>" in listed and "1 warning(s)" in listed
    assert f"  #{lee['id']} warning: the name 'J. Lee' does not say how to greet them" in listed
    # A stored text with leftover braces is flagged as blocking, and why.
    db = Database(db_url)
    with db.transaction() as session:
        session.get(FollowUp, jane["id"]).body_text = "Dear Jane,\n\n{{ oops }}\n"
    db.dispose()
    shown = run("queue").out
    assert "BLOCKED" in shown
    assert f"  #{jane['id']} BLOCKS SENDING: the text has leftover template braces" in shown


def test_approve_needs_ids_or_all_and_tells_which_of_several_ids_failed(
    review_on, run, record_interview, db_url
):
    queue = setup_queue(
        run,
        record_interview,
        contacts=("Jane Roe <jane@acme.example>", "Bob Lee <bob@acme.example>"),
    )
    first, second = (q["id"] for q in queue)
    for args in ((), (str(first), "--all")):
        refused = run("approve", *args)
        assert refused.code == 2 and "give follow-up IDs or --all" in refused.err
    assert [followup(db_url, fid).status for fid in (first, second)] == ["pending_review"] * 2
    assert run("reject", str(second)).code == 0
    mixed = run("approve", str(first), str(second), "99")
    assert mixed.code == 2
    assert f"follow-up {first}: approved" in mixed.out
    assert f"follow-up {second}: not approved: follow-up {second} is rejected" in mixed.err
    assert "follow-up 99: not approved: follow-up 99 does not exist" in mixed.err
    # The one that could be approved was, whatever happened to the others.
    assert [followup(db_url, fid).status for fid in (first, second)] == ["approved", "rejected"]


@pytest.mark.parametrize(
    "editor",
    [
        "true",  # closed without saving
        "truncate -s 0",  # saved empty, as to abort a commit message
    ],
)
def test_an_edit_closed_without_saving_or_emptied_changes_nothing(
    review_on, run, record_interview, monkeypatch, editor
):
    before = setup_queue(run, record_interview)[0]
    monkeypatch.setenv("EDITOR", editor)
    result = run("edit", str(before["id"]))
    assert (result.code, result.out) == (0, "no change\n")
    after = run("queue", "--json").json()[0]
    assert (after["subject"], after["body"]) == (before["subject"], before["body"])


def test_review_shows_warnings_skips_what_changed_meanwhile_and_quits_when_asked(
    review_on, run, record_interview, db_url, workdir, monkeypatch
):
    queue = setup_queue(
        run,
        record_interview,
        contacts=(
            "Jane Roe <jane@acme.example>",
            "Bob Lee <bob@acme.example>",
            "J. Diaz <jdiaz@acme.example>",
        ),
    )
    jane, bob, diaz = (q["id"] for q in queue)
    # While Jane's follow-up is open in the editor, Bob's is rejected elsewhere (another
    # terminal, the web app): the editor here runs `followup reject` and saves nothing.
    editor = workdir / "editor.py"
    editor.write_text(
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-m', 'service', 'reject', '{bob}'], check=True)\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    result = run("review", input="e\nk\nq\n")
    assert result.code == 0, result.err
    assert "no change" in result.out
    assert result.out.count("=== 1/3 ") == 2  # after the edit, Jane's is shown again
    assert f"follow-up {bob} is now rejected; skipping" in result.out
    assert "warning: the name 'J. Diaz' does not say how to greet them" in result.out
    statuses = [followup(db_url, fid).status for fid in (jane, bob, diaz)]
    assert statuses == ["pending_review", "rejected", "pending_review"]  # quit: left as it was


def test_review_of_an_empty_queue_says_so(review_on, run):
    run("migrate")
    result = run("review")
    assert (result.code, result.out) == (0, "Nothing waits for review.\n")


def test_the_history_lists_events_of_the_same_moment_in_the_order_they_happened(
    review_on, run, clock, record_interview, db_url
):
    from service import history

    fid = setup_queue(run, record_interview)[0]["id"]
    # The clock stands still: approve and reject happen at the same `at`.
    assert run("approve", str(fid)).code == 0
    assert run("reject", str(fid)).code == 0
    db = Database(db_url)
    try:
        listed = history.events_of(db, followup_ids=[fid])[fid]
    finally:
        db.dispose()
    assert [e.kind for e in listed] == ["planned", "pending_review", "approved", "rejected"]


def test_the_history_keeps_the_order_events_were_written_when_a_clock_lags(
    review_on, run, clock, record_interview, db_url
):
    """An event written later with an earlier `at` (another process's clock, a `now` taken at
    the start of a long pass) is still listed after the ones written before it."""
    from service import history

    fid = setup_queue(run, record_interview)[0]["id"]
    clock.advance(timedelta(seconds=5))
    assert run("approve", str(fid)).code == 0
    clock.advance(timedelta(seconds=-3))
    assert run("reject", str(fid)).code == 0
    db = Database(db_url)
    try:
        listed = history.events_of(db, followup_ids=[fid])[fid]
    finally:
        db.dispose()
    assert [e.kind for e in listed][-2:] == ["approved", "rejected"]
