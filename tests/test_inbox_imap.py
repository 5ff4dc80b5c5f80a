"""The inbox against a real Dovecot: replies stop follow-ups, bounces mark them, auto-replies
re-time them; the mailbox is only read (never marked, moved or deleted), read once, and a
server that is down stops nothing else. Every test runs on SQLite and Postgres."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from imapserver import PASSWORD, free_port

from service.config import load_settings

MAIL = Path(__file__).parent / "data" / "mail"
SAMPLE_ID = b"<176463.1f2e3d4c5b6a@candidate.example>"
#: A contact of the interview in `sent`: a reply from her acts.
JANE = "Jane Roe <jane@acme.example>"

PLAN = """
[window]
hours = "09:00-17:00"
days = ["mon", "tue", "wed", "thu", "fri"]

[[steps]]
name = "thank_you"
after = "0s"
template = "thank_you"
to = "interviewers"

[[steps]]
name = "status_check"
after = "7d"
template = "status_check"
to = "first"

[[steps]]
name = "call_reminder"
after = "7d"
template = "call_reminder"
to = "me"
"""


@pytest.fixture
def imap(workdir, monkeypatch, dovecot, mailbox_user):
    """followup set up to read mailbox_user's mailbox over TLS, with a plan that sends the
    thank-you now and the status check (and a call reminder) a week later."""
    plan = workdir / "plan.toml"
    plan.write_text(PLAN)
    monkeypatch.setenv("FOLLOWUP_PLAN", str(plan))
    monkeypatch.setenv("FOLLOWUP_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("FOLLOWUP_IMAP_PORT", str(dovecot.port))
    monkeypatch.setenv("FOLLOWUP_IMAP_USERNAME", mailbox_user)
    monkeypatch.setenv("FOLLOWUP_IMAP_PASSWORD", PASSWORD)
    monkeypatch.setenv("FOLLOWUP_SMTP_CA_FILE", str(dovecot.ca_file))
    return mailbox_user


@pytest.fixture
def sent(imap, run, record_interview):
    """An interview whose thank-you went out (to the outbox); returns (interview, thank-you)."""
    interview = record_interview(
        contacts=(
            "Jane Roe <jane@acme.example> | topic=the roadmap",
            "Rita Moreno <rita.recruits@gmail.com> | topic=the team",
        )
    )
    result = run("worker", "--once")
    assert result.code == 0, result.err
    thank_you = next(
        f for f in schedule(run) if f["step"] == "thank_you" and f["to"] == "jane@acme.example"
    )
    assert thank_you["status"] == "sent"
    return interview, thank_you


def schedule(run) -> list[dict]:
    result = run("schedule", "--all", "--json")
    assert result.code == 0, result.err
    return result.json()


def deliver(
    dovecot, user, name: str, message_id: str | None = None, folder="INBOX", sender=None
) -> int:
    """APPEND a sample message, pointing its thread headers at our real Message-ID (and, with
    `sender`, sent by someone else)."""
    raw = (MAIL / name).read_bytes()
    if message_id:
        raw = raw.replace(SAMPLE_ID, message_id.encode())
    if sender:
        raw = re.sub(rb"(?m)^From: .*$", b"From: " + sender.encode(), raw, count=1)
    return dovecot.append(user, raw, folder)


def check(run) -> dict:
    result = run("inbox", "check", "--json")
    assert result.code == 0, result.err
    return result.json()


def by_step(rows, interview_id) -> dict[str, dict]:
    return {
        (f["step"] if f["recipient"] == "me" else f"{f['step']}:{f['to']}"): f
        for f in rows
        if f["interview_id"] == interview_id
    }


# --- replies -----------------------------------------------------------------------------------


def test_a_reply_in_the_thread_stops_every_remaining_follow_up_and_never_marks_mail_read(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"], sender=JANE)

    report = check(run)

    assert report["read"] == {"INBOX": 1}
    [acted] = report["acted"]
    assert acted["kind"] == "reply"
    assert acted["interview_id"] == interview["id"]
    assert acted["followup_id"] == thank_you["id"]
    assert acted["hiring"] == "scheduling"
    assert "answers follow-up" in acted["reason"]
    steps = by_step(schedule(run), interview["id"])
    assert steps["status_check:jane@acme.example"]["status"] == "cancelled"
    assert steps["status_check:jane@acme.example"]["last_error"].startswith(
        "replied: Jane Roe <jane@acme.example>"
    )
    assert steps["call_reminder"]["status"] == "cancelled"
    # The user is told, and the note itself is not cancelled.
    [notice] = [f for f in schedule(run) if f["step"].startswith("reply_")]
    assert notice["status"] == "planned" and notice["recipient"] == "me"
    # Nothing in the mailbox changed: no \Seen, nothing moved or deleted.
    [(flags, _)] = dovecot.messages(imap).values()
    assert b"\\Seen" not in flags


def test_a_reply_from_a_contact_s_address_matches_without_thread_headers(dovecot, imap, sent, run):
    interview, _ = sent
    deliver(dovecot, imap, "reply_address_de_rejection.eml")

    [acted] = check(run)["acted"]

    assert (acted["kind"], acted["interview_id"]) == ("reply", interview["id"])
    assert acted["hiring"] == "rejection"
    assert "is a contact of interview" in acted["reason"]
    shown = run("interview", "show", str(interview["id"]), "--json").json()
    assert {f["status"] for f in shown["followups"] if f["step"] != "thank_you"} >= {"cancelled"}


def test_someone_else_at_the_company_s_domain_is_a_reply(dovecot, imap, sent, run):
    interview, _ = sent
    deliver(dovecot, imap, "reply_domain_offer.eml")

    [acted] = check(run)["acted"]

    assert (acted["kind"], acted["hiring"]) == ("reply", "offer")
    assert "acme.example is the domain of a contact" in acted["reason"]


def test_a_free_mail_domain_matches_only_exact_addresses(dovecot, imap, sent, run):
    interview, _ = sent
    deliver(dovecot, imap, "reply_freemail.eml")  # another gmail.com address than Rita's

    report = check(run)

    assert report["read"] == {"INBOX": 1}
    assert report["acted"] == []
    live = by_step(schedule(run), interview["id"])
    assert live["status_check:jane@acme.example"]["status"] == "planned"


# --- auto-replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "moved_to"),
    [
        ("auto_gmail_vacation.eml", "2026-09-14T09:00:00Z"),  # back Monday 14 September
        ("auto_exchange.eml", "2026-09-14T09:00:00Z"),  # until Friday 11th: back Saturday -> Monday
        ("auto_zimbra_de.eml", "2026-09-11T09:00:00Z"),  # "ab dem 11. September wieder"
        ("auto_dovecot_vacation_fr.eml", "2026-09-11T09:00:00Z"),  # "de retour le vendredi 11"
    ],
)
def test_an_out_of_office_reply_moves_the_next_follow_up_to_the_return_day_and_stops_nothing(
    dovecot, imap, sent, run, name, moved_to
):
    interview, thank_you = sent
    before = by_step(schedule(run), interview["id"])["status_check:jane@acme.example"]
    assert before["due_at"] == "2026-09-08T12:00:00Z"
    deliver(dovecot, imap, name, thank_you["message_id"])

    [acted] = check(run)["acted"]

    assert acted["kind"] == "auto_reply"
    after = by_step(schedule(run), interview["id"])
    assert after["status_check:jane@acme.example"]["status"] == "planned"
    assert after["status_check:jane@acme.example"]["due_at"] == moved_to
    assert after["call_reminder"]["status"] == "planned"  # an auto-reply is not a reply


# --- bounces ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["bounce_postfix.eml", "bounce_exim.eml", "bounce_exchange.eml", "bounce_gmail.eml"]
)
def test_a_bounce_marks_the_follow_up_bounced_cancels_later_steps_to_it_and_tells_the_user(
    dovecot, imap, sent, run, name
):
    interview, thank_you = sent
    deliver(dovecot, imap, name, thank_you["message_id"])

    [acted] = check(run)["acted"]

    assert acted["kind"] == "bounce"
    assert acted["failed_recipients"] == ["jane@acme.example"]
    assert acted["followup_id"] == thank_you["id"]
    rows = schedule(run)
    steps = by_step(rows, interview["id"])
    bounced = steps["thank_you:jane@acme.example"]
    assert bounced["status"] == "bounced"
    assert "5.1.1" in bounced["last_error"] or "5.1.10" in bounced["last_error"]
    assert steps["status_check:jane@acme.example"]["status"] == "cancelled"
    assert steps["thank_you:rita.recruits@gmail.com"]["status"] == "sent"  # Rita's went through
    assert steps["call_reminder"]["status"] == "planned"
    [notice] = [f for f in rows if f["kind"] == "note" and f["step"] == "bounce_notice"]
    assert notice["recipient"] == "me" and notice["subject"].startswith("Returned:")


def test_a_step_cancelled_by_a_bounce_says_cancelled_once(dovecot, imap, sent, run):
    interview, thank_you = sent
    deliver(dovecot, imap, "bounce_postfix.eml", thank_you["message_id"])
    check(run)

    later = by_step(schedule(run), interview["id"])["status_check:jane@acme.example"]
    assert later["status"] == "cancelled"
    assert later["last_error"] == "mail to jane@acme.example bounced"
    shown = run("schedule", "--all").out
    assert "cancelled: mail to jane@acme.example bounced" in shown
    assert "cancelled: cancelled" not in shown


def test_a_delayed_report_changes_nothing(dovecot, imap, sent, run):
    interview, thank_you = sent
    before = schedule(run)
    deliver(dovecot, imap, "bounce_postfix_delayed.eml", thank_you["message_id"])

    [acted] = check(run)["acted"]

    assert acted["kind"] == "bounce"
    assert (acted["acted"], acted["actions"]) == (False, [])
    assert acted["why"] == "delayed: the server is still trying; nothing changes"
    assert schedule(run) == before


# --- reading safely -----------------------------------------------------------------------------


def test_a_restart_reads_nothing_twice_and_misses_nothing(dovecot, imap, sent, run):
    interview, thank_you = sent
    deliver(dovecot, imap, "bulk_newsletter.eml")
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"], sender=JANE)
    first = check(run)
    assert first["read"] == {"INBOX": 2} and len(first["acted"]) == 1

    again = check(run)  # a new process: only the database remembers
    assert again["read"] == {"INBOX": 0} and again["acted"] == []

    deliver(dovecot, imap, "reply_freemail.eml")
    later = check(run)
    assert later["read"] == {"INBOX": 1}


def test_a_changed_uidvalidity_rescans_once_without_acting_twice(dovecot, imap, sent, run):
    interview, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"], sender=JANE)
    assert len(check(run)["acted"]) == 1
    events_before = run("interview", "show", str(interview["id"]), "--json").json()

    dovecot.change_uidvalidity(imap)
    rescan = check(run)

    assert rescan["read"] == {"INBOX": 1}  # read again (the last 30 days) ...
    assert rescan["acted"] == []  # ... but recognised by its Message-ID
    assert run("interview", "show", str(interview["id"]), "--json").json() == events_before
    assert check(run)["read"] == {"INBOX": 0}  # and only once


def test_an_unreadable_message_is_skipped_not_a_crash_loop(dovecot, imap, sent, run):
    dovecot.append(imap, b"\x00\x01 garbage without headers\n\n")
    deliver(dovecot, imap, "reply_address_de_rejection.eml")

    report = check(run)

    assert report["skipped"] == 1 and len(report["acted"]) == 1
    assert check(run)["read"] == {"INBOX": 0}


def test_an_unreachable_server_is_one_line_and_stops_nothing_else(imap, sent, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_IMAP_PORT", str(free_port()))

    result = run("inbox", "check")

    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "IMAP 127.0.0.1:" in result.err and "(connect)" in result.err
    assert PASSWORD not in result.err
    assert run("worker", "--once").code == 0


def test_a_wrong_password_is_reported_without_the_password(imap, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_IMAP_PASSWORD", "not-the-password")
    result = run("inbox", "check")
    assert result.code == 1
    assert "(login)" in result.err and "not-the-password" not in result.err


def test_an_untrusted_certificate_is_refused(imap, run, monkeypatch):
    monkeypatch.delenv("FOLLOWUP_SMTP_CA_FILE")
    result = run("inbox", "check")
    assert result.code == 1
    assert "TLS certificate not trusted" in result.err


def test_starttls_works_too(dovecot, imap, sent, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_IMAP_SECURITY", "starttls")
    monkeypatch.setenv("FOLLOWUP_IMAP_PORT", str(dovecot.plain_port))
    deliver(dovecot, imap, "reply_domain_offer.eml")
    assert len(check(run)["acted"]) == 1


def test_several_folders_each_have_their_cursor(dovecot, imap, sent, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_IMAP_FOLDERS", "INBOX, Jobs")
    deliver(dovecot, imap, "reply_domain_offer.eml", folder="Jobs")
    deliver(dovecot, imap, "bulk_newsletter.eml")

    report = check(run)

    assert report["read"] == {"INBOX": 1, "Jobs": 1}
    assert [a["folder"] for a in report["acted"]] == ["Jobs"]
    assert check(run)["read"] == {"INBOX": 0, "Jobs": 0}


# --- the Sent folder ----------------------------------------------------------------------------


def test_a_sent_follow_up_is_copied_to_the_sent_folder_as_seen(dovecot, imap, sent, db, run):
    _, thank_you = sent  # the worker sent both thank-yous and queued their copies

    assert check(run)["sent_copies"] == 2

    stored = dovecot.messages(imap, "Sent").values()
    [jane] = [m for flags, m in stored if thank_you["message_id"].encode() in m]
    assert all(b"\\Seen" in flags for flags, _ in stored)
    assert b"Dear Jane," in jane
    assert check(run)["sent_copies"] == 0  # appended once


def test_an_uncertain_follow_up_found_in_sent_is_marked_sent(dovecot, imap, sent, db, run):
    from sqlalchemy import update

    from service.models import FollowUp

    _, thank_you = sent
    with db.transaction() as session:
        session.execute(
            update(FollowUp).where(FollowUp.id == thank_you["id"]).values(status="uncertain")
        )
    raw = (
        f"From: Ada <ada@candidate.example>\r\nMessage-ID: {thank_you['message_id']}\r\n"
        "Subject: Thank you\r\n\r\nDear Jane\r\n"
    ).encode()
    dovecot.append(imap, raw, "Sent", flags=[rb"\Seen"])

    report = check(run)

    assert report["found_in_sent"] == [thank_you["id"]]
    [row] = [f for f in schedule(run) if f["id"] == thank_you["id"]]
    assert row["status"] == "sent"


def _copy_of(thank_you: dict) -> bytes:
    """The copy of a sent follow-up as it lies in a Sent folder (only its Message-ID matters)."""
    return (
        f"From: Ada <ada@candidate.example>\r\nMessage-ID: {thank_you['message_id']}\r\n"
        "Subject: Thank you\r\n\r\nDear Jane\r\n"
    ).encode()


def test_copies_wait_while_the_sent_folder_is_missing_then_go_once_each(
    dovecot, imap, sent, db, run, clock, monkeypatch
):
    from service.inbox.sent import pending_copies

    _, thank_you = sent
    monkeypatch.setenv("FOLLOWUP_IMAP_SENT", "Gesendet")  # not (yet) on this server

    assert check(run)["sent_copies"] == 0
    count, error = pending_copies(db)
    assert count == 2 and error == "no Sent folder found; name it in FOLLOWUP_IMAP_SENT"
    assert "imap sent copies: 2 cop(ies) waiting for the Sent folder" in run("doctor").out
    assert {f["status"] for f in schedule(run) if f["step"] == "thank_you"} == {"sent"}

    # The folder appears, already holding one of the two (an append whose success was lost).
    dovecot.append(imap, _copy_of(thank_you), "Gesendet", flags=[rb"\Seen"])
    assert check(run)["sent_copies"] == 0  # not before the backoff is over
    clock.advance(timedelta(minutes=2))
    assert check(run)["sent_copies"] == 2
    stored = [raw for _, raw in dovecot.messages(imap, "Gesendet").values()]
    assert len(stored) == 2
    assert sum(thank_you["message_id"].encode() in raw for raw in stored) == 1  # never twice
    assert pending_copies(db) == (0, None)


def test_with_the_sent_folder_off_no_copy_is_kept_or_appended(
    dovecot, imap, run, record_interview, db, monkeypatch
):
    from service.inbox.sent import pending_copies

    monkeypatch.setenv("FOLLOWUP_IMAP_SENT", "off")
    record_interview()
    assert run("worker", "--once").code == 0
    assert pending_copies(db) == (0, None)
    assert check(run)["sent_copies"] == 0
    assert dovecot.messages(imap, "Sent") == {}


def test_an_uncertain_follow_up_not_in_sent_is_left_to_the_user(dovecot, imap, sent, db, run):
    """Not found is not "not sent": it stays uncertain, for the user to decide; never resent."""
    from sqlalchemy import delete, update

    from service.models import FollowUp, SentCopy

    _, thank_you = sent
    with db.transaction() as session:
        session.execute(
            update(FollowUp).where(FollowUp.id == thank_you["id"]).values(status="uncertain")
        )
        session.execute(delete(SentCopy))  # SMTP never confirmed it: no copy was queued
    result = run("inbox", "check")
    assert result.code == 0, result.err
    assert "found in the Sent folder" not in result.out
    [row] = [f for f in schedule(run) if f["id"] == thank_you["id"]]
    assert row["status"] == "uncertain"
    # Once the copy is there, `inbox check` says what it found.
    dovecot.append(imap, _copy_of(thank_you), "Sent", flags=[rb"\Seen"])
    found = run("inbox", "check")
    assert f"follow-up {thank_you['id']}: found in the Sent folder, marked sent" in found.out


# --- the CLI ------------------------------------------------------------------------------------


def test_classify_files_offline_against_the_database(imap, sent, run):
    interview, thank_you = sent
    result = run(
        "inbox", "classify", str(MAIL / "reply_address_de_rejection.eml"),
        str(MAIL / "bounce_qmail.eml"), str(MAIL / "reply_freemail.eml"),
        str(MAIL / "auto_gmail_vacation.eml"), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    reply, bounce, free, auto = result.json()
    assert set(reply) >= {
        "file", "kind", "reason", "interview_id", "followup_id", "hiring", "return_date",
        "failed_recipients",
    }  # fmt: skip
    assert (reply["kind"], reply["interview_id"], reply["hiring"]) == (
        "reply", interview["id"], "rejection",
    )  # fmt: skip
    assert (bounce["kind"], bounce["failed_recipients"]) == ("bounce", ["jane@acme.example"])
    assert (free["kind"], free["interview_id"], free["hiring"]) == ("unrelated", None, None)
    assert (auto["kind"], auto["return_date"]) == ("auto_reply", "2026-09-14")
    # Offline: nothing changed.
    assert (
        by_step(schedule(run), interview["id"])["status_check:jane@acme.example"]["status"]
        == "planned"
    )


def test_classify_says_a_file_that_is_not_a_message_is_an_error_in_one_line(imap, run):
    result = run("migrate")
    result = run("inbox", "classify", str(MAIL / "not_a_message.txt"))
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{MAIL / 'not_a_message.txt'}: error",
        "  because: does not start with a header line: not an email message",
    ]
    assert result.err == (
        "followup: error: 1 of 1 file(s) could not be read: see their `error` results\n"
    )
    assert run("inbox", "classify").code == 2  # no file at all: a usage error


def test_classify_says_what_each_file_is_and_why(imap, sent, run):
    interview, thank_you = sent
    files = ("reply_address_de_rejection.eml", "bounce_qmail.eml", "auto_gmail_vacation.eml")
    result = run("inbox", "classify", *(str(MAIL / name) for name in files))
    assert result.code == 0, result.err
    reply, reply_why, reply_acts, bounce, bounce_why, bounce_acts, auto, _, auto_acts = (
        result.out.splitlines()
    )
    i, f = interview["id"], thank_you["id"]
    assert reply_acts == (
        "  acts: yes \u2014 a reply from the interview's side (jane@acme.example is a contact of "
        "the interview): stops its follow-ups"
    )
    # The sample returns a message that is not ours.
    assert bounce_acts == (
        "  acts: no \u2014 the bounced message <176463.1f2e3d4c5b6a@candidate.example> is not ours"
    )
    assert auto_acts.startswith("  acts: yes \u2014 an out-of-office reply: moves the next")
    assert reply.endswith(f"reply_address_de_rejection.eml: reply (interview {i}, follow-up {f}, "
                          "hiring: rejection)")  # fmt: skip
    assert reply_why.startswith("  because: written by a person")
    assert bounce.endswith("bounce_qmail.eml: bounce (failed: jane@acme.example)")
    assert "permanent failure for jane@acme.example" in bounce_why
    assert auto.endswith(f"auto_reply (interview {i}, follow-up {f}, back on 2026-09-14)")


def test_a_folder_missing_on_the_server_is_an_error_and_the_others_are_still_read(
    dovecot, imap, sent, run, monkeypatch
):
    monkeypatch.setenv("FOLLOWUP_IMAP_FOLDERS", "INBOX, Bewerbungen")
    deliver(dovecot, imap, "reply_domain_offer.eml")
    result = run("inbox", "check")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith("error: IMAP 127.0.0.1:") and "Bewerbungen" in result.err
    assert "read 1 new message(s) (1 in INBOX); acted on 1" in result.out


def test_interview_replied_has_the_effect_of_a_reply(sent, run):
    interview, _ = sent
    result = run("interview", "replied", str(interview["id"]), "--note", "HR called", "--json")
    assert result.code == 0, result.err
    assert len(result.json()["cancelled"]) == 2  # the status check and the call reminder
    steps = by_step(schedule(run), interview["id"])
    assert steps["status_check:jane@acme.example"]["last_error"].startswith("replied:")


def test_inbox_check_without_imap_settings_says_how_to_set_them(workdir, run):
    result = run("inbox", "check")
    assert result.code == 2
    assert "FOLLOWUP_IMAP_HOST is not set" in result.err


def test_doctor_checks_the_mailbox(imap, run):
    from service.inbox.doctor import imap_checks

    checks = {c.name: c for c in imap_checks(load_settings())}
    assert checks["imap"].ok and "logged in" in checks["imap"].detail
    assert checks["imap folders"].ok
    assert checks["imap sent folder"].ok and checks["imap sent folder"].detail.startswith("Sent")
    assert checks["template reply_notice"].ok and checks["template bounce_notice"].ok


def test_doctor_says_what_is_wrong_with_the_mailbox(imap, run, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_IMAP_FOLDERS", "INBOX, Bewerbungen")
    monkeypatch.setenv("FOLLOWUP_IMAP_SENT", "Gesendet")
    result = run("doctor")
    assert "FAIL  imap folders: Bewerbungen not found on the server" in result.out
    assert "FAIL  imap sent folder: folder 'Gesendet' not found" in result.out
    assert PASSWORD not in result.out


def test_backoff_grows_and_is_capped():
    from service.inbox.reader import retry_delay

    tick = timedelta(seconds=30)
    delays = [retry_delay(n, tick) for n in range(0, 10)]
    assert delays[:4] == [timedelta(0), tick, 2 * tick, 4 * tick]
    assert delays[-1] == timedelta(minutes=30)


# --- end to end, and a provider that files sent mail itself -------------------------------------


def test_a_reply_between_two_steps_keeps_the_later_step_from_ever_reaching_the_server(
    dovecot, imap, run, clock, mailserver, record_interview, monkeypatch
):
    for name, value in mailserver.env().items():
        monkeypatch.setenv(name, value)
    record_interview()
    assert run("worker", "--once").code == 0
    [thank_you] = mailserver.received
    assert thank_you.rcpt_tos == ["jane@acme.example"]

    # Jane's reply arrives in the mailbox; the inbox is read (as the worker does before it claims).
    deliver(dovecot, imap, "reply_thread.eml", thank_you.message_id, sender=JANE)
    assert run("inbox", "check").code == 0
    clock.advance(timedelta(days=8))  # the status check and call reminder would be due now
    assert run("worker", "--once").code == 0

    assert [m.rcpt_tos for m in mailserver.received] == [
        ["jane@acme.example"],
        ["ada@candidate.example"],  # only the note telling Ada that Acme replied
    ]
    assert mailserver.received[1].message["Subject"] == "Acme Corp replied: follow-ups stopped"
    note = mailserver.received[1].message.get_body(("plain",)).get_content()
    assert "Jane Roe <jane@acme.example>" in note and "2 follow-up(s)" in note


@pytest.fixture
def gmail_like():
    """A Dovecot that says, as Gmail does, that it files mail sent over SMTP in Sent itself."""
    from imapserver import Dovecot

    server = Dovecot("imap_capability = +X-GM-EXT-1").start()
    yield server
    server.stop()


def test_no_copy_goes_to_sent_where_the_provider_files_sent_mail_itself(
    gmail_like, imap, sent, db, run, monkeypatch
):
    from service.inbox.sent import pending_copies

    user = gmail_like.new_user()
    monkeypatch.setenv("FOLLOWUP_IMAP_PORT", str(gmail_like.port))
    monkeypatch.setenv("FOLLOWUP_IMAP_USERNAME", user)
    monkeypatch.setenv("FOLLOWUP_SMTP_CA_FILE", str(gmail_like.ca_file))
    assert pending_copies(db)[0] == 2  # queued when the thank-yous went out

    assert check(run)["sent_copies"] == 0
    assert gmail_like.messages(user, "Sent") == {}
    assert pending_copies(db) == (0, None)


def test_a_kept_connection_is_reused_and_reopened_when_the_server_dropped_it(
    dovecot, imap, sent, db, monkeypatch
):
    from datetime import UTC, datetime

    from service.inbox.check import Connection, check_inbox

    settings, now = load_settings(), datetime(2026, 9, 2, 12, 0, tzinfo=UTC)
    connection = Connection(load_settings().imap)
    assert check_inbox(settings, db, now, connection=connection).total == 0
    first = connection.box
    deliver(dovecot, imap, "reply_domain_offer.eml")
    assert len(check_inbox(settings, db, now, connection=connection).acted) == 1
    assert connection.box is first  # the same connection: no new handshake and login

    first.client.shutdown()  # as a server does with a connection idle for too long
    deliver(dovecot, imap, "bounce_postfix.eml")
    report = check_inbox(settings, db, now, connection=connection)
    assert report.total == 1 and connection.box is not first
    connection.close()


def test_inbox_check_prints_what_it_did_and_suggests_closing_after_a_rejection(
    dovecot, imap, sent, run
):
    interview, _ = sent
    deliver(dovecot, imap, "reply_address_de_rejection.eml")
    result = run("inbox", "check")
    assert result.code == 0, result.err
    assert "INBOX UID 1: reply from jane@acme.example" in result.out
    assert "cancelled follow-up" in result.out
    assert f"followup interview close {interview['id']} --outcome rejected" in result.out
    assert "read 1 new message(s) (1 in INBOX); acted on 1" in result.out
