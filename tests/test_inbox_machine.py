"""Machine mail is never a `reply`: out-of-office texts in the body alone, list and bulk mail,
role and no-reply senders, applicant-tracking systems, delivery reports no format reads, read
receipts and calendar answers; and the real replies still read as a person's mail."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from service.inbox.classify import KINDS, add_details, classify, decision
from service.inbox.message import parse_message

MAIL = Path(__file__).parent / "data" / "mail"
ME = frozenset({"ada@candidate.example"})
NOW = datetime(2026, 9, 2, 12, 0, tzinfo=UTC)
HEAD = "From: Jane Roe <jane@acme.example>\nDate: Wed, 2 Sep 2026 09:00:00 +0000\n"


def classified(raw: bytes):
    message = parse_message(raw)
    return add_details(message, classify(message, ME), NOW)


def sample(name: str):
    return classified((MAIL / name).read_bytes())


def written(body: str, headers: str = "", sender: str = "") -> bytes:
    head = HEAD.replace("jane@acme.example", sender) if sender else HEAD
    return f"{head}Subject: Re: Thank you\n{headers}\n{body}\n".encode()


# --- out-of-office texts in the body alone -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "back"),
    [
        ("Thank you for your email. I am out of the office until 11 September with limited "
         "access to email.", date(2026, 9, 12)),
        ("Hi,\n\nI'm currently away and will reply when I return on 14 September.",
         date(2026, 9, 14)),
        ("I will be on annual leave through Friday 11 September. In my absence, please contact "
         "sam@acme.example.", date(2026, 9, 12)),
        ("Vielen Dank für Ihre Nachricht. Ich bin bis 11.09.2026 nicht im Büro.",
         date(2026, 9, 12)),
        ("Guten Tag,\nich befinde mich bis zum 11. September im Urlaub. In dringenden Fällen "
         "wenden Sie sich an sam@acme.example.", date(2026, 9, 12)),
        ("Bonjour,\nJe suis absente du bureau jusqu'au 11 septembre inclus.", date(2026, 9, 12)),
        ("Je serai en congés, de retour le 14 septembre.", date(2026, 9, 14)),
        ("Gracias por su mensaje. Estoy fuera de la oficina hasta el 11 de septiembre.",
         date(2026, 9, 12)),
        ("Me encuentro de vacaciones con acceso limitado al correo.", None),
    ],
)  # fmt: skip
def test_an_out_of_office_announcement_in_the_body_alone_is_an_auto_reply(body, back):
    found = classified(written(body))
    assert found.kind == "auto_reply", found.reason
    assert found.reason.startswith("out-of-office text in the body")
    assert found.return_date == back


@pytest.mark.parametrize(
    "body",
    [
        "I was out of office last week, sorry for the delay — yes, Tuesday works.",
        "Sorry for the slow answer, I was away until yesterday. Tuesday at 10 works for me.",
        "Yes, Tuesday works. I am out of ideas for the name of the team, though.",
        "Ich war bis gestern nicht im Büro, entschuldigen Sie die späte Antwort. Dienstag passt.",
        "Hi Ada, great to hear from you! We would like to schedule a second interview with the "
        "team. " * 5 + "PS: I am out of the office until Monday.",
        "Thanks!\n\nOn Tue, Sep 1, 2026 at 2:00 PM Sam <sam@acme.example> wrote:\n"
        "> I am out of the office until 11 September with limited access.",
        "Merci, je suis disponible mardi. J'étais absente du bureau jusqu'à hier.",
    ],
)
def test_a_person_mentioning_being_away_is_still_a_reply(body):
    """Only an announcement counts: at the start of what the sender wrote, in the present or
    future, with an until / back / limited-access shape; quoted text is not the sender's."""
    found = classified(written(body))
    assert found.kind == "reply", found.reason


def test_the_samples_written_by_people_read_as_replies():
    for path in sorted(MAIL.glob("reply_*.eml")):
        assert sample(path.name).kind == "reply", path.name


# --- list and bulk mail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("List-Id: <news.acme.example>\n", "list mail (List-Id header)"),
        ("List-Unsubscribe: <mailto:leave@acme.example>\n", "list mail (List-Unsubscribe header)"),
        ("List-Post: <mailto:team@acme.example>\n", "list mail (List-Post header)"),
        ("Precedence: bulk\n", "bulk mail (Precedence: bulk)"),
        ("Precedence: list\n", "bulk mail (Precedence: list)"),
        ("Precedence: junk\n", "bulk mail (Precedence: junk)"),
        ("X-MC-User: 8812345abcdef\n", "bulk mail from an email service provider (x-mc-user header)"),
        ("X-Campaign: mailchimp.123\n", "bulk mail from an email service provider (x-campaign header)"),
        ("Feedback-ID: 1:2:acme:mc\n", "bulk mail from an email service provider (feedback-id header)"),
    ],
)  # fmt: skip
def test_list_and_bulk_mail_is_bulk(headers, reason):
    found = classified(written("Our news this month: we schedule an interview day.", headers))
    assert (found.kind, found.reason) == ("bulk", reason)
    assert not decision(found)  # a newsletter's words hold nothing


def test_a_company_newsletter_is_bulk():
    found = sample("bulk_company_newsletter.eml")
    assert (found.kind, found.reason) == ("bulk", "list mail (List-Id header)")


# --- role and no-reply senders -------------------------------------------------------------------


@pytest.mark.parametrize(
    "local",
    ["careers", "jobs", "recruiting", "recruitment", "talent", "hr", "hiring", "jobs-de"],
)
def test_mail_from_a_role_address_is_automated(local):
    found = classified(written("We received your application.", sender=f"{local}@acme.example"))
    assert found.kind == "automated"
    assert (
        found.reason == f"sent from a role address ({local}@acme.example), not one person's answer"
    )


@pytest.mark.parametrize(
    "local", ["no-reply", "noreply", "do-not-reply", "donotreply", "notifications", "notify"]
)
def test_mail_from_a_no_reply_address_is_automated(local):
    found = classified(written("Your profile was viewed.", sender=f"{local}@acme.example"))
    assert found.kind == "automated"
    assert found.reason.startswith(f"sent from a no-reply address ({local}@acme.example)")


@pytest.mark.parametrize("local", ["jane", "jane.roe", "hrothgar", "info", "support"])
def test_a_person_s_address_is_not_a_role(local):
    """`info@` and `support@` are left out: at small companies, people answer from them."""
    found = classified(written("Tuesday works.", sender=f"{local}@acme.example"))
    assert found.kind == "reply", found.reason


def test_an_empty_return_path_is_a_machine():
    found = classified(written("Tuesday works.", "Return-Path: <>\n"))
    assert found.kind == "automated" and "Return-Path: <>" in found.reason


# --- delivery reports no format reads --------------------------------------------------------------


def test_a_plain_text_report_from_postmaster_is_never_a_reply():
    found = sample("dsn_postmaster_plain.eml")
    # A mail system's report (postmaster@) whose recipient no reader finds: a bounce that names
    # no one, so it marks nothing; never a reply.
    assert (found.kind, found.bounce) == ("bounce", None)
    assert found.reason == "delivery report from a mail system (no recipient found)"


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        ("MAILER-DAEMON@mx.acme.example", "Hello"),
        ("jane@acme.example", "Undeliverable: Thank you"),
        ("mailer-daemon", "failure notice"),
    ],
)
def test_an_unreadable_report_in_any_shape_is_automated(sender, subject):
    raw = f"From: {sender}\nSubject: {subject}\nDate: Wed, 2 Sep 2026 09:00:00 +0000\n\nSorry.\n"
    found = classified(raw.encode())
    from_daemon = sender.lower().startswith("mailer-daemon")
    assert found.kind == ("bounce" if from_daemon else "automated"), found.reason
    assert found.bounce is None


# --- applicant-tracking systems --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ("From: Acme Recruiting <no-reply@us.greenhouse-mail.io>\n", "Greenhouse"),
        ("From: Acme <no-reply@hire.lever.co>\n", "Lever"),
        ("From: Acme <acme@myworkday.com>\n", "Workday"),
        ("From: Acme <jane@acme.example>\nReturn-Path: <bounces+123@ashbyhq.com>\n", "Ashby"),
        ("From: Acme <jane@acme.example>\nMessage-ID: <x.1@smartrecruiters.com>\n",
         "SmartRecruiters"),
        ("From: Acme <talent@acme.example>\nX-Teamtailor-Job: 42\n", "Teamtailor"),
        ("From: Acme <jane@acme.example>\nSender: <noreply@candidates.workablemail.com>\n",
         "Workable"),
        ("From: Acme <acme@personio.de>\n", "Personio"),
        ("From: Acme <acme@icims.com>\n", "iCIMS"),
        ("From: Acme <acme@taleo.net>\n", "Taleo"),
    ],
)  # fmt: skip
def test_an_applicant_tracking_system_s_mail_is_automated(headers, name):
    raw = f"{headers}Subject: Your application\nDate: Wed, 2 Sep 2026 09:00:00 +0000\n\nHi.\n"
    found = classified(raw.encode())
    assert found.kind == "automated"
    assert "applicant-tracking system" in found.reason and name in found.reason
    assert not decision(found)


def test_an_applicant_tracking_system_s_decision_is_kept_but_no_reply():
    raw = (
        "From: Acme Recruiting <no-reply@us.greenhouse-mail.io>\nSubject: Your application\n"
        "Date: Wed, 2 Sep 2026 09:00:00 +0000\n\nDear Ada, unfortunately we will not be moving "
        "forward with your application.\n"
    )
    found = classified(raw.encode())
    assert found.kind == "automated" and decision(found)
    assert found.hiring == "rejection"
    assert "the company's system wrote: 'unfortunately we will not be moving" in found.reason


# --- read receipts and calendar answers ------------------------------------------------------------


def test_an_outlook_read_receipt_is_a_receipt():
    found = sample("receipt_outlook.eml")
    assert (found.kind, found.reason) == (
        "receipt",
        "a read receipt (disposition-notification: displayed)",
    )
    assert found.note == "Roe, Jane's mail program reported your message read"


def test_a_google_calendar_acceptance_is_a_calendar_answer():
    found = sample("itip_accepted_google.eml")
    assert (found.kind, found.reason) == ("calendar", "a calendar answer (iTIP REPLY, ACCEPTED)")
    assert found.note == "Jane Roe accepted the invitation 'Interview — Acme'"


def test_an_outlook_new_time_proposal_is_a_calendar_answer():
    found = sample("itip_counter_outlook.eml")
    assert found.kind == "calendar" and "COUNTER" in found.reason
    assert found.note == "Roe, Jane proposed a new time for the invitation 'Interview — Acme'"


@pytest.mark.parametrize(
    ("partstat", "said"),
    [("DECLINED", "declined"), ("TENTATIVE", "tentatively accepted"), ("", "answered")],
)
def test_each_calendar_answer_is_said_in_words(partstat, said):
    attendee = f"ATTENDEE;PARTSTAT={partstat}:mailto:jane@acme.example" if partstat else ""
    raw = (
        f"{HEAD}Subject: Declined: Interview\nContent-Type: text/calendar; method=REPLY\n\n"
        f"BEGIN:VCALENDAR\nMETHOD:REPLY\nBEGIN:VEVENT\n{attendee}\nSUMMARY:Interview\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    found = classified(raw.encode())
    assert found.note == f"Jane Roe {said} the invitation 'Interview'"


def test_an_invitation_itself_is_not_a_calendar_answer():
    raw = (
        f"{HEAD}Subject: Invitation: Interview\nContent-Type: text/calendar; method=REQUEST\n\n"
        "BEGIN:VCALENDAR\nMETHOD:REQUEST\nBEGIN:VEVENT\nSUMMARY:Interview\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )
    assert classified(raw.encode()).kind != "calendar"


def test_every_kind_is_documented_in_the_readme():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for kind in KINDS:
        assert f"| `{kind}` |" in readme, kind
