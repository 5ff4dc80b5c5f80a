"""Machine mail against a real Dovecot, on SQLite and Postgres: the six false replies of issue 21
cancel nothing; a read receipt or a calendar answer goes on the interview's history; a company
system's decision holds what is left for review; a broken message stops no batch."""

from __future__ import annotations

import logging

import pytest
import test_inbox_imap as base
from sqlalchemy import select
from test_inbox_imap import MAIL, by_step, check, deliver, schedule

from service.models import Event, InboxMessage

imap = base.imap
sent = base.sent


def deliver_as(dovecot, user, name: str, sender: str) -> None:
    """A sample, sent from another address at the company."""
    raw = (MAIL / name).read_bytes().replace(b"careers@acme.example", sender.encode())
    dovecot.append(user, raw)


def nothing_cancelled(run, interview_id: int) -> dict[str, dict]:
    steps = by_step(schedule(run), interview_id)
    assert not [s for s in steps.values() if s["status"] == "cancelled"], steps
    shown = run("interview", "show", str(interview_id), "--json").json()
    assert not any(f["status"] == "cancelled" for f in shown["followups"])
    return steps


@pytest.mark.parametrize(
    ("name", "sender", "kind"),
    [
        ("auto_body_en.eml", None, "auto_reply"),  # out-of-office in the body alone (en)
        ("auto_body_de.eml", None, "auto_reply"),  # ... and (de)
        ("bulk_company_newsletter.eml", None, "bulk"),  # List-Id / List-Unsubscribe
        ("role_careers.eml", "careers@acme.example", "automated"),
        ("role_careers.eml", "jobs@acme.example", "automated"),
        ("role_careers.eml", "recruiting@acme.example", "automated"),
        (
            "dsn_postmaster_plain.eml",
            None,
            "bounce",
        ),  # plain text, from postmaster@: a report, recipient unread
        ("receipt_outlook.eml", None, "receipt"),
        ("itip_accepted_google.eml", None, "calendar"),  # "Accepted: ..." from a contact
    ],
)
def test_machine_mail_cancels_nothing(dovecot, imap, sent, db, run, name, sender, kind):
    interview, thank_you = sent
    if sender:
        deliver_as(dovecot, imap, name, sender)
    else:
        deliver(dovecot, imap, name, thank_you["message_id"])

    report = check(run)

    [acted] = report["acted"]  # matched (thread, contact or company domain) ...
    assert (acted["kind"], acted["interview_id"]) == (kind, interview["id"])
    steps = nothing_cancelled(run, interview["id"])  # ... and nothing stopped
    assert not [s for s in steps.values() if s["step"].startswith("reply_")]  # no "reply" note
    with db.reading() as session:
        kinds = session.scalars(select(InboxMessage.kind)).all()
    assert kinds == [kind]


def test_a_read_receipt_and_a_calendar_answer_go_on_the_history_and_change_nothing(
    dovecot, imap, sent, db, run
):
    interview, thank_you = sent
    before = schedule(run)
    deliver(dovecot, imap, "receipt_outlook.eml", thank_you["message_id"])
    deliver(dovecot, imap, "itip_accepted_google.eml")

    receipt, answer = check(run)["acted"]

    assert receipt["actions"] == ["noted: Roe, Jane's mail program reported your message read"]
    assert answer["actions"] == ["noted: Jane Roe accepted the invitation 'Interview — Acme'"]
    assert schedule(run) == before
    with db.reading() as session:
        events = session.scalars(
            select(Event).where(Event.interview_id == interview["id"]).order_by(Event.id)
        ).all()
    notes = [
        (e.kind, e.detail) for e in events if e.kind in ("receipt_received", "calendar_received")
    ]
    assert [k for k, _ in notes] == ["receipt_received", "calendar_received"]
    assert "Jane Roe accepted the invitation 'Interview — Acme'" in notes[1][1]


def test_an_applicant_tracking_systems_decision_holds_the_rest_for_review_and_cancels_nothing(
    dovecot, imap, sent, db, run
):
    """It is not a person's answer (nothing is cancelled), but nothing careless goes out: every
    follow-up not yet on its way waits for the user's review, with the system's words."""
    interview, _ = sent
    deliver(dovecot, imap, "ats_rejection.eml")

    [acted] = check(run)["acted"]

    assert acted["kind"] == "auto_reply"
    assert acted["actions"] and all(a.startswith("held follow-up") for a in acted["actions"])
    steps = nothing_cancelled(run, interview["id"])
    held = [s for s in steps.values() if s["step"] != "thank_you"]
    assert held and all(s["status"] == "pending_review" for s in held)
    why = "held for your review: the company's system wrote: 'decided to move forward with other"
    assert all(s["last_error"].startswith(why) for s in held)
    with db.reading() as session:
        [event] = session.scalars(
            select(Event).where(
                Event.interview_id == interview["id"], Event.kind == "decision_received"
            )
        ).all()
    assert "decided to move forward with other" in event.detail


def test_a_broken_message_between_two_good_ones_is_logged_once_and_reading_goes_on(
    dovecot, imap, sent, run, caplog
):
    interview, thank_you = sent
    deliver(dovecot, imap, "bounce_qmail.eml", thank_you["message_id"])
    dovecot.append(imap, b"Subject: failure notice\r\n\r\nHi\r\n")  # no From, no Date: no message
    deliver(dovecot, imap, "reply_address_de_rejection.eml")

    with caplog.at_level(logging.WARNING, logger="service.inbox"):
        first = check(run)
        deliver(dovecot, imap, "reply_domain_offer.eml")
        second = check(run)

    assert first["read"] == {"INBOX": 3} and first["skipped"] == 1
    assert [a["kind"] for a in first["acted"]] == ["bounce", "reply"]
    assert second["read"] == {"INBOX": 1} and second["skipped"] == 0
    assert [a["kind"] for a in second["acted"]] == ["reply"]
    skipped = [r for r in caplog.records if "skipping INBOX UID" in r.getMessage()]
    assert len(skipped) == 1
    steps = by_step(schedule(run), interview["id"])
    assert steps[f"thank_you:{thank_you['to']}"]["status"] == "bounced"
    assert steps["call_reminder"]["status"] == "cancelled"


# --- inbox classify: a batch never dies of one file -------------------------------------------------


def test_classify_gives_every_file_a_result_and_says_which_could_not_be_read(
    imap, sent, run, tmp_path
):
    bare = tmp_path / "fragment.eml"
    bare.write_bytes(b"Subject: Undelivered Mail\n\nHi\n")  # no From, no Date: no message
    files = [
        str(MAIL / "reply_address_de_rejection.eml"),
        str(MAIL / "not_a_message.txt"),
        str(bare),
        str(tmp_path / "missing.eml"),
        str(MAIL / "receipt_outlook.eml"),
    ]

    result = run("inbox", "classify", *files, "--json")

    assert result.code == 1, result.err
    reply, junk, daemon, missing, receipt = result.json()
    assert (reply["kind"], receipt["kind"]) == ("reply", "receipt")
    for failed, name in ((junk, files[1]), (daemon, files[2]), (missing, files[3])):
        assert failed["file"] == name and failed["kind"] == "error" and failed["reason"]
        assert set(failed) == set(reply)
        assert failed["interview_id"] is None and failed["failed_recipients"] == []
    assert daemon["reason"]
    assert "cannot be read" in missing["reason"]

    text = run("inbox", "classify", *files)
    assert text.code == 1
    assert f"{files[1]}: error" in text.out.splitlines()
    good = run("inbox", "classify", files[0], files[4], "--json")
    assert good.code == 0 and [r["kind"] for r in good.json()] == ["reply", "receipt"]


def test_a_rule_that_fails_on_one_file_is_an_error_for_that_file_only(imap, sent, run, monkeypatch):
    """A bug in a rule is simulated (no real message is known to make one fail): that file is
    an error, the next one is still read."""
    from service.inbox import receipts

    def broken(message):
        if b"Hallo Frau Candidate" in message.raw:
            raise ValueError("a rule fell over")
        return None

    monkeypatch.setattr(receipts, "calendar_answer", broken)
    files = [str(MAIL / "reply_address_de_rejection.eml"), str(MAIL / "reply_thread.eml")]

    result = run("inbox", "classify", *files, "--json")

    assert result.code == 1
    failed, fine = result.json()
    assert (failed["kind"], failed["reason"]) == ("error", "a rule failed on it: a rule fell over")
    assert fine["kind"] in ("reply", "unrelated")
