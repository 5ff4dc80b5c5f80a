"""Who may act, against a real Dovecot on both databases: a reply stops follow-ups only when it
comes from the interview's side (a contact, the company's domain, a sender the user counted);
anything else answering a sent follow-up is shown (inbox check, Today, the history) and counted
with one action; a bounce acts only when it returns our Message-ID or comes from the
recipient's own mail system."""

from __future__ import annotations

import pytest
import test_inbox_imap
from conftest import API_TOKEN, csrf_of
from test_inbox_imap import MAIL, by_step, check, deliver, schedule

from service.inbox.authority import same_mail_system

STRANGER = "sam@talentpartners.example"  # reply_thread.eml: an agency recruiter, not a contact
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
#: The mailbox set up, and an interview whose thank-yous went out (see test_inbox_imap).
imap = test_inbox_imap.imap
sent = test_inbox_imap.sent


def live(run, interview) -> dict[str, str]:
    return {k: f["status"] for k, f in by_step(schedule(run), interview["id"]).items()}


def interview_events(db, interview_id) -> list:
    from service.history import events_of

    return events_of(db, interview_id=interview_id).get(None, [])


def test_a_stranger_s_forged_reference_cancels_nothing_and_is_shown_until_counted(
    dovecot, imap, sent, run, db
):
    interview, thank_you = sent
    before = live(run, interview)
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"])

    result = run("inbox", "check")
    assert result.code == 0, result.err
    assert live(run, interview) == before  # nothing cancelled
    why = (
        f"a message from {STRANGER} answers follow-up {thank_you['id']}, but {STRANGER} is not "
        "on the interview's side: not counted as a reply"
    )
    assert f"INBOX UID 1: reply from {STRANGER}" in result.out
    assert f"  acts: no \u2014 {why}" in result.out
    assert "  to count it as a reply: followup inbox count-as-reply 1" in result.out
    [event] = [e for e in interview_events(db, interview["id"]) if e.kind == "reply_to_check"]
    assert event.detail == f"{why} (to count it: followup inbox count-as-reply 1)"
    # Not a reply: nothing tells the worker this interview was answered.
    shown = run("interview", "show", str(interview["id"]), "--json").json()
    assert shown["replies"] == []

    counted = run("inbox", "count-as-reply", "1", "--json")
    assert counted.code == 0, counted.err
    assert counted.json()["sender"] == STRANGER and len(counted.json()["cancelled"]) == 2
    after = live(run, interview)
    assert after["status_check:jane@acme.example"] == "cancelled"
    assert after["call_reminder"] == "cancelled"
    assert [r["from"] for r in run("interview", "show", str(interview["id"]), "--json").json()[
        "replies"]] == [STRANGER]  # fmt: skip
    assert any(
        e.kind == "reply_counted" and "(recorded by the user)" in e.detail
        for e in interview_events(db, interview["id"])
    )

    # Their next message, without any thread header, acts by itself.
    raw = (MAIL / "reply_thread.eml").read_bytes()
    raw = raw.replace(b"reply-thread-0001", b"reply-thread-0002")
    raw = b"\n".join(
        line for line in raw.split(b"\n") if not line.startswith((b"In-Reply-To", b"References"))
    )
    dovecot.append(imap, raw)
    [acted] = check(run)["acted"]
    assert acted["acted"] is True and acted["kind"] == "reply"
    assert "recorded by the user" in acted["why"]


def test_count_as_reply_refuses_an_unknown_id_or_one_already_counted(dovecot, imap, sent, run):
    _, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"])
    [entry] = check(run)["acted"]
    assert (entry["acted"], entry["inbox_id"]) == (False, 1)

    unknown = run("inbox", "count-as-reply", "99")
    assert unknown.code == 2 and unknown.err.count("\n") == 1
    assert "inbox message 99 does not exist" in unknown.err
    assert run("inbox", "count-as-reply", "1").code == 0
    again = run("inbox", "count-as-reply", "1")
    assert again.code == 2 and again.err.count("\n") == 1
    assert "inbox message 1 is already counted as a reply" in again.err


@pytest.mark.parametrize(
    ("sender", "why"),
    [
        # A colleague at the company's domain, in the thread.
        ("Hank Scorpio <hank.scorpio@acme.example>", "is at acme.example, the domain of"),
        # A contact who writes from free mail: the exact address counts.
        ("Rita Moreno <rita.recruits@gmail.com>", "rita.recruits@gmail.com is a contact"),
    ],
)
def test_a_reply_from_the_interview_s_side_acts(dovecot, imap, sent, run, sender, why):
    interview, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"], sender=sender)

    [acted] = check(run)["acted"]

    assert acted["acted"] is True and why in acted["why"]
    assert live(run, interview)["status_check:jane@acme.example"] == "cancelled"


def test_a_recruiter_s_personal_gmail_that_is_not_a_contact_is_shown_not_acted(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    before = live(run, interview)
    sender = "Rita Moreno <rita.moreno.home@gmail.com>"
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"], sender=sender)

    [entry] = check(run)["acted"]

    assert (entry["kind"], entry["acted"]) == ("reply", False)
    assert "rita.moreno.home@gmail.com is not on the interview's side" in entry["why"]
    assert live(run, interview) == before


def test_a_forged_bounce_from_a_stranger_s_domain_changes_nothing(dovecot, imap, sent, run):
    """It names a contact's address (a follow-up did go to her) but returns no Message-ID of
    ours and does not come from acme.example's mail system."""
    interview, _ = sent
    before = live(run, interview)
    sender = "Mail Delivery System <mailer-daemon@mx.forger.example>"
    deliver(dovecot, imap, "bounce_exchange2003.eml", sender=sender)

    [entry] = check(run)["acted"]

    assert (entry["kind"], entry["acted"], entry["actions"]) == ("bounce", False, [])
    assert entry["why"].startswith("a bounce naming jane@acme.example, but it neither returns")
    assert "nor comes from acme.example's mail system" in entry["why"]
    assert live(run, interview) == before
    assert not [f for f in schedule(run) if f["step"] == "bounce_notice"]


def test_a_bounce_from_the_recipient_s_own_mail_system_acts_without_the_headers(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    sender = "postmaster@mx.acme.example"
    deliver(dovecot, imap, "bounce_exchange2003.eml", sender=sender)

    [entry] = check(run)["acted"]

    assert entry["acted"] is True
    assert entry["why"] == (
        f"a bounce from jane@acme.example's own mail system (mx.acme.example): marks follow-up "
        f"{thank_you['id']} bounced"
    )
    steps = live(run, interview)
    assert steps["thank_you:jane@acme.example"] == "bounced"
    assert steps["status_check:jane@acme.example"] == "cancelled"


def test_a_real_bounce_returning_our_message_id_acts_from_the_user_s_own_provider(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    deliver(dovecot, imap, "bounce_gmail.eml", thank_you["message_id"])  # googlemail.com

    [entry] = check(run)["acted"]

    assert entry["acted"] is True and entry["why"].startswith(
        f"a bounce returning follow-up {thank_you['id']} ("
    )
    assert live(run, interview)["thank_you:jane@acme.example"] == "bounced"


def test_classify_says_whether_each_message_would_act_and_why(tmp_path, imap, sent, run):
    interview, thank_you = sent
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(
        (MAIL / "reply_thread.eml")
        .read_bytes()
        .replace(b"<176463.1f2e3d4c5b6a@candidate.example>", thank_you["message_id"].encode())
    )
    result = run(
        "inbox", "classify", str(stranger), str(MAIL / "reply_address_de_rejection.eml"),
        str(MAIL / "reply_freemail.eml"), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    shown, contact, unrelated = result.json()
    assert (shown["kind"], shown["acted"], shown["interview_id"]) == (
        "reply", False, interview["id"],
    )  # fmt: skip
    assert f"{STRANGER} is not on the interview's side" in shown["why"]
    assert (contact["acted"], contact["kind"]) == (True, "reply")
    assert (unrelated["kind"], unrelated["acted"]) == ("unrelated", False)
    assert unrelated["why"] == "gmail.com is a free-mail domain: only exact addresses count"


def test_the_today_page_lists_answers_to_check_and_counts_one_with_a_click(
    dovecot, imap, sent, run, logged_in, db
):
    interview, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"])
    check(run)

    page = logged_in.get("/").text
    assert "Answers to check (1)" in page
    assert f"from {STRANGER}" in page and "not on the interview&#39;s side" in page
    assert 'action="/inbox/1/count-as-reply"' in page
    done = logged_in.post("/inbox/1/count-as-reply", data={"csrf": csrf_of(page)})
    assert f"Counted as a reply from {STRANGER}: 2 follow-up(s) cancelled." in done.text
    assert "Answers to check" not in done.text
    assert live(run, interview)["status_check:jane@acme.example"] == "cancelled"
    again = logged_in.post("/inbox/1/count-as-reply", data={"csrf": csrf_of(page)})
    assert "inbox message 1 is already counted as a reply" in again.text
    history = logged_in.get(f"/interviews/{interview['id']}").text
    assert "reply to check" in history and "reply counted" in history


def test_the_api_counts_an_answer_as_a_reply_once(dovecot, imap, sent, run, web):
    _, thank_you = sent
    deliver(dovecot, imap, "reply_thread.eml", thank_you["message_id"])
    check(run)

    missing = web.post("/api/v1/inbox/42/count-as-reply", headers=AUTH)
    assert missing.status_code == 404
    counted = web.post("/api/v1/inbox/1/count-as-reply", headers=AUTH)
    assert counted.status_code == 200, counted.text
    assert counted.json()["counted"] is True and len(counted.json()["cancelled"]) == 2
    again = web.post("/api/v1/inbox/1/count-as-reply", headers=AUTH)
    assert again.status_code == 409
    assert again.json()["errors"][0]["reason"] == "inbox message 1 is already counted as a reply"


@pytest.mark.parametrize(
    ("sender", "recipient", "same"),
    [
        ("hooli.example", "hooli.example", True),
        ("mx.hooli.example", "hooli.example", True),  # a child
        ("hooli.example", "eu.hooli.example", True),  # a parent
        ("HOOLI.example", "hooli.EXAMPLE", True),
        ("googlemail.com", "hooli.example", False),
        ("nothooli.example", "hooli.example", False),  # a suffix, not a subdomain
        ("example", "hooli.example", False),  # a bare top-level domain is no parent
        ("", "hooli.example", False),
    ],
)
def test_the_recipient_s_mail_system_is_its_domain_or_a_parent_or_child(sender, recipient, same):
    assert same_mail_system(sender, recipient) is same


def test_an_out_of_office_reply_from_a_stranger_in_the_thread_moves_nothing(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    before = schedule(run)
    sender = "Sam Hill <sam@talentpartners.example>"
    deliver(dovecot, imap, "auto_gmail_vacation.eml", thank_you["message_id"], sender=sender)

    [entry] = check(run)["acted"]

    assert (entry["kind"], entry["acted"]) == ("auto_reply", False)
    assert "who is not on the interview's side" in entry["why"]
    assert schedule(run) == before


def test_a_bounce_of_our_message_naming_another_address_changes_nothing_and_is_not_counted(
    dovecot, imap, sent, run
):
    interview, thank_you = sent
    before = live(run, interview)
    raw = (MAIL / "bounce_gmail.eml").read_bytes().replace(b"jane@acme.example", b"x@acme.example")
    dovecot.append(imap, raw.replace(b"<176463.1f2e3d4c5b6a@candidate.example>",
                                     thank_you["message_id"].encode()))  # fmt: skip

    [entry] = check(run)["acted"]

    assert entry["acted"] is False
    assert entry["why"] == (
        f"it names x@acme.example, to whom follow-up {thank_you['id']} was not sent: "
        "changes nothing"
    )
    assert live(run, interview) == before
    refused = run("inbox", "count-as-reply", str(entry["inbox_id"]))
    assert refused.code == 2 and "is a bounce, not an answer to check" in refused.err
