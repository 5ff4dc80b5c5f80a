"""The inbox's rules, read from sample messages written as real servers produce them: what is
a bounce (and who failed), an auto-reply (and when its sender is back), and what a reply means."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from service.inbox.classify import add_details, classify, decision
from service.inbox.hiring import label
from service.inbox.message import MessageError, parse_message
from service.inbox.returndate import return_date

MAIL = Path(__file__).parent / "data" / "mail"
OURS = "<176463.1f2e3d4c5b6a@candidate.example>"
ME = frozenset({"ada@candidate.example"})
NOW = datetime(2026, 9, 2, 12, 0, tzinfo=UTC)


def classified(name: str):
    message = parse_message((MAIL / name).read_bytes())
    return message, add_details(message, classify(message, ME), NOW)


@pytest.mark.parametrize(
    ("name", "fmt", "status"),
    [
        ("bounce_postfix.eml", "rfc3464", "5.1.1"),
        ("bounce_exim.eml", "exim", "5.1.1"),
        ("bounce_exchange.eml", "rfc3464", "5.1.10"),
        ("bounce_exchange2003.eml", "exchange", "5.1.1"),
        ("bounce_gmail.eml", "rfc3464", "5.1.1"),
        ("bounce_qmail.eml", "qmail", "5.1.1"),
        ("bounce_yahoo.eml", "yahoo", "5.1.1"),
        # Without the RFC 3464 report (a relay stripped it): the servers' own text is read.
        ("bounce_postfix_text.eml", "postfix", "5.1.1"),
        ("bounce_gmail_text.eml", "gmail", "5.1.1"),
    ],
)
def test_bounces_name_the_failed_recipient_the_server_words_and_the_bounced_message(
    name, fmt, status
):
    message, found = classified(name)
    assert found.kind == "bounce", found.reason
    bounce = found.bounce
    assert bounce.format == fmt
    assert bounce.permanent
    assert bounce.failed_addresses == ["jane@acme.example"]
    assert bounce.recipients[0].status == status
    assert bounce.recipients[0].diagnostic  # the server's own words, for the user
    if name != "bounce_exchange2003.eml":  # Exchange 2003 returns no headers of the message
        assert bounce.original_message_id == OURS


def test_a_postfix_text_report_keeps_the_server_s_words_across_its_folded_lines():
    """Postfix folds a long reply onto indented lines, one of which starts with the address."""
    _, found = classified("bounce_postfix_text.eml")
    [recipient] = found.bounce.recipients
    assert recipient.diagnostic == (
        "host mx.acme.example[203.0.113.25] said: 550 5.1.1 <jane@acme.example>: Recipient "
        "address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"
    )


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("bounce_postfix_delayed.eml", "rfc3464"), ("bounce_gmail_text_delayed.eml", "gmail")],
)
def test_a_delayed_report_is_a_bounce_that_is_not_permanent(name, fmt):
    _, found = classified(name)
    assert (found.kind, found.bounce.format) == ("bounce", fmt)
    assert not found.bounce.permanent
    assert found.bounce.failed_addresses == []
    assert found.bounce.recipients[0].action == "delayed"
    assert found.bounce.recipients[0].status == "4.4.1"
    assert "delayed" in found.reason


@pytest.mark.parametrize(
    ("name", "marker", "back"),
    [
        ("auto_gmail_vacation.eml", "Auto-Submitted: auto-replied", date(2026, 9, 14)),
        # "until September 11th": away that day, back the day after.
        ("auto_exchange.eml", "Auto-Submitted: auto-generated", date(2026, 9, 12)),
        ("auto_zimbra_de.eml", "Auto-Submitted: auto-replied (zimbra; vacation)", date(2026, 9, 11)),
        ("auto_dovecot_vacation_fr.eml", "Auto-Submitted: auto-replied (vacation)", date(2026, 9, 11)),
    ],
)  # fmt: skip
def test_auto_replies_are_recognised_with_their_return_date(name, marker, back):
    _, found = classified(name)
    assert found.kind == "auto_reply"
    assert found.reason == marker
    assert found.return_date == back


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("X-Autoreply: yes\n", "X-Autoreply header"),
        ("X-Autorespond: Out of office\n", "X-Autorespond header"),
        ("X-Auto-Response-Suppress: OOF, AutoReply\n", "X-Auto-Response-Suppress: oof, autoreply"),
        ("Precedence: auto_reply\n", "Precedence: auto_reply"),
        ("Auto-Submitted: no\nSubject: Abwesenheitsnotiz\n", "out-of-office subject ('Abwesenheitsnotiz')"),
        ("Subject: Réponse automatique : votre message\n", "out-of-office subject ('Réponse automatique')"),
        ("Subject: Respuesta automática: Entrevista\n", "out-of-office subject ('Respuesta automática')"),
        ("Subject: Out of Office: Thank you\n", "out-of-office subject ('Out of Office')"),
    ],
)  # fmt: skip
def test_each_auto_reply_marker_is_recognised_and_named(headers, reason):
    raw = f"From: Jane <jane@acme.example>\nDate: Wed, 2 Sep 2026 09:00:00 +0000\n{headers}\nHi\n"
    message = parse_message(raw.encode())
    found = classify(message, ME)
    assert (found.kind, found.reason) == ("auto_reply", reason)


def test_a_person_s_message_is_a_reply_until_matching_says_otherwise():
    _, found = classified("reply_thread.eml")
    assert found.kind == "reply"
    assert found.hiring == "scheduling"


def test_mail_from_the_user_s_own_address_is_unrelated():
    message = parse_message(
        b"From: Ada Candidate <Ada@candidate.example>\nSubject: Re: hello\n\nmine\n"
    )
    assert classify(message, ME).kind == "unrelated"


@pytest.mark.parametrize(
    ("name", "hiring"),
    [
        ("reply_address_de_rejection.eml", "rejection"),
        ("reply_domain_offer.eml", "offer"),
        ("reply_thread.eml", "scheduling"),
        ("reply_freemail.eml", "other"),
    ],
)
def test_replies_are_labelled_for_the_application(name, hiring):
    _, found = classified(name)
    assert found.hiring == hiring
    assert (found.hiring_reason != "") == (hiring != "other")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Unfortunately, we will not be moving forward with your application.", "rejection"),
        ("We regret to inform you that the position has been filled.", "rejection"),
        ("Leider können wir Sie nicht weiter berücksichtigen.", "rejection"),
        ("Wir haben uns für einen anderen Bewerber entschieden.", "rejection"),
        ("We are pleased to offer you the position of Staff Engineer.", "offer"),
        ("Wir freuen uns, Ihnen die Stelle anzubieten.", "offer"),
        ("Could we schedule a call on Thursday?", "scheduling"),
        ("Unfortunately I am not available Thursday, can we do Friday at 10?", "scheduling"),
        ("Wann passt es Ihnen für ein zweites Gespräch?", "scheduling"),
        ("Thanks, received. Talk soon!", "other"),
        # Quoted text is the user's own: it never decides.
        ("Thanks!\n\nOn Tue, 1 Sep 2026, Ada wrote:\n> could we schedule a call", "other"),
        ("Danke!\n\nAm 01.09.2026 um 10:00 schrieb Ada:\n> Leider", "other"),
    ],
)
def test_hiring_rules(text, expected):
    assert label(text)[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on Monday, 14 September.", date(2026, 9, 14)),
        ("I'm out until September 11th, 2026.", date(2026, 9, 12)),
        ("Back in the office on 2026-09-14.", date(2026, 9, 14)),
        ("Ich bin bis zum 10.09.2026 nicht im Büro.", date(2026, 9, 11)),
        ("Ab dem 14. September bin ich wieder erreichbar.", date(2026, 9, 14)),
        ("Ich bin ab 3. September im Urlaub und ab dem 14. September wieder da.", date(2026, 9, 14)),
        ("Je serai de retour le 14 septembre.", date(2026, 9, 14)),
        ("Absente jusqu'au 1er octobre.", date(2026, 10, 2)),
        ("Estaré fuera hasta el 10 de septiembre.", date(2026, 9, 11)),
        ("Regresaré el 14 de septiembre de 2026.", date(2026, 9, 14)),
        # No return date, an ambiguous date, a date far away or long past: nothing to move.
        ("Thanks for your email, I will reply soon.", None),
        ("Out of office from 03/04 to 05/04.", None),
        ("Back on 14 September 2031.", None),
        ("Back on 14 August 2026.", None),
    ],
)  # fmt: skip
def test_return_dates(text, expected):
    assert return_date(text, date(2026, 9, 2)) == expected


def test_a_january_return_seen_in_december_is_next_year():
    assert return_date("Back on 5 January.", date(2026, 12, 22)) == date(2027, 1, 5)


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \n", b"just some text\nwith lines\n", b"Subject: only a subject\n\nno sender\n"],
)
def test_what_is_not_a_message_raises_one_error(raw):
    with pytest.raises(MessageError):
        parse_message(raw)


def test_malformed_headers_are_read_leniently():
    raw = (
        b"From: =?utf-8?q?J=C3=A4ne_Ro=C3=A9?= <jane@acme.example>\n"
        b"Date: not a date\nSubject: =?bogus-charset?q?hello?=\n"
        b"In-Reply-To: garbage <a@b> <c@d>\nMessage-ID: <x@y>\n\n\xff\xfe body\n"
    )
    message = parse_message(raw)
    assert message.sender == "jane@acme.example"
    assert message.sender_name == "Jäne Roé"
    assert message.date is None
    assert message.in_reply_to == ["<a@b>", "<c@d>"]
    assert "body" in message.text


def test_an_applicant_tracking_systems_decision_is_no_persons_answer_but_is_held_for_review():
    """Sent automatically (Auto-Submitted, Precedence: bulk): the company's system saying no is
    not a person's answer, so it is not a `reply` (it cancels nothing); its decision is kept, and
    what is left of the interview waits for the user's review (tests/test_inbox_machine.py)."""
    _, found = classified("ats_rejection.eml")
    assert found.kind == "auto_reply"
    assert found.hiring == "rejection"
    assert "the company's system wrote: 'decided to move forward with other" in found.reason
    assert decision(found)
    # An out-of-office reply stays one, even when it mentions an interview.
    _, away = classified("auto_gmail_vacation.eml")
    assert away.kind == "auto_reply" and not decision(away)


def test_a_from_header_without_an_address_is_still_read():
    """A bare `MAILER-DAEMON` is the sender, lower-cased; a name alone leaves it empty."""
    plain = parse_message(b"From: Jane Roe\nSubject: Re: hello\n\nhi\n")
    assert (plain.sender, plain.sender_name) == ("", "Jane Roe")
    daemon = parse_message(b"From: MAILER-DAEMON (Mail Delivery System)\nSubject: x\n\nhi\n")
    assert (daemon.sender, daemon.sender_name) == ("mailer-daemon", "Mail Delivery System")
    assert parse_message(b"From: <>\nSubject: x\n\nhi\n").sender == ""


def test_an_html_only_reply_is_read_as_its_text():
    raw = (
        b"From: Jane Roe <jane@acme.example>\nSubject: Re: Thank you\n"
        b"Content-Type: text/html; charset=utf-8\n\n"
        b"<html><head><style>p { color: red }</style><script>var x = '<b>';</script></head>"
        b"<body><p>We&rsquo;d like to <b>offer</b> you the role.</p></body></html>\n"
    )
    text = " ".join(parse_message(raw).text.split())
    assert text == "We\u2019d like to offer you the role."


def test_a_message_without_a_usable_message_id_is_known_by_its_bytes():
    """So it is still read once: the key is a hash of the message itself."""
    plain = b"From: Jane <jane@acme.example>\nSubject: hi\n\nhello\n"
    huge = plain.replace(b"Subject", b"Message-ID: <" + b"x" * 300 + b"@acme.example>\nSubject")
    keys = [parse_message(raw).key for raw in (plain, plain, huge)]
    assert keys[0] == keys[1] and keys[0].startswith("sha256:")
    assert keys[2].startswith("sha256:") and keys[2] != keys[0]
    assert parse_message(plain.replace(b"\n\n", b"\nMessage-ID: <a@b>\n\n")).key == "<a@b>"


def test_latin1_header_bytes_and_an_unknown_charset_are_read_not_a_crash():
    raw = (
        b"From: Ren\xe9 Dupont <rene@acme.example>\nSubject: Caf\xe9 demain ?\n"
        b"Content-Type: text/plain; charset=x-no-such-charset\n\nMerci beaucoup\n"
    )
    message = parse_message(raw)
    assert (message.sender_name, message.subject) == ("Ren\xe9 Dupont", "Caf\xe9 demain ?")
    assert message.text.strip() == "Merci beaucoup"
