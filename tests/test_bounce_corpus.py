"""The corpus of real bounces (tests/data/mail/bounces/): read as `inbox classify` reads them.

The messages come from flufl.bounce's, Sisimai's and Mail::DeliveryStatus::BounceParser's test
data (licences in tests/data/mail/bounces/LICENSES/, listed in tests/data/NOTICE.md); the
manifest names, for each, the failed recipients a careful reader finds in it. classify is pure,
so no database is needed.
"""

from __future__ import annotations

import email
import json
from pathlib import Path

import pytest

from service.inbox.classify import BOUNCE, REPLY, classify
from service.inbox.message import parse_message

CORPUS = Path(__file__).parent / "data" / "mail" / "bounces"
ROWS = [json.loads(line) for line in (CORPUS / "manifest.jsonl").read_text().splitlines()]


def _raw(row: dict) -> bytes:
    return (CORPUS / row["source"] / row["file"]).read_bytes()


def _ours(raw: bytes) -> tuple[str, set[str]]:
    found = classify(parse_message(raw))
    got = {r.address.lower() for r in found.bounce.recipients} if found.bounce else set()
    return found.kind, got


def _flufl(raw: bytes) -> set[str]:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:
        return set()
    return {a.decode("utf-8", "replace").lower() for a in temporary | permanent}


def test_the_corpus_reads_right_and_better_than_flufl_bounce():
    bounces = [row for row in ROWS if row["is_bounce"]]
    ours = flufl = 0
    as_reply = []
    for row in bounces:
        raw = _raw(row)
        expected = {a.lower() for a in row["expected"]}
        kind, got = _ours(raw)
        ours += kind == BOUNCE and got == expected
        flufl += _flufl(raw) == expected
        if kind == REPLY:
            as_reply.append(row["file"])
    assert as_reply == []
    assert ours >= 0.95 * len(bounces), f"{ours}/{len(bounces)} right"
    assert ours > flufl, f"followup {ours}, flufl.bounce {flufl} of {len(bounces)}"


def _sample(source: str, name: str):
    row = next(r for r in ROWS if r["source"] == source and r["file"] == name)
    found = classify(parse_message(_raw(row)))
    assert found.kind == BOUNCE and found.bounce is not None
    return found.bounce


def test_a_mailer_daemon_without_an_address_is_read():
    """From: MAILER-DAEMON (no domain): read, and its report found (flufl corpus, Postfix)."""
    raw = b"From: MAILER-DAEMON\n" + b"\n".join(
        line for line in _raw({"source": "flufl", "file": "postfix_01.txt"}).split(b"\n")
        if not line.lower().startswith(b"from:")
    )  # fmt: skip
    found = classify(parse_message(raw))
    assert found.kind == BOUNCE and found.bounce is not None
    assert [r.address for r in found.bounce.recipients] == ["xxxxx@local.ie"]


def test_messagelabs_diagnostic_folded_without_indent():
    bounce = _sample("sisimai", "lhost-messagelabs-01.eml")
    (recipient,) = bounce.recipients
    assert (recipient.address, recipient.action, recipient.status) == (
        "kijitora@example.org", "failed", "5.0.0",
    )  # fmt: skip
    assert "SMTP Authentication" in recipient.diagnostic


def test_an_mta_only_flufl_bounce_knows_still_gives_the_servers_words():
    """An SMTP32 report: flufl.bounce finds the address, the words come from its line."""
    bounce = _sample("flufl", "smtp32_01.txt")
    assert bounce.format == "flufl.bounce"
    (recipient,) = bounce.recipients
    assert recipient.address == "userx@example.ph" and recipient.action == "failed"
    assert recipient.diagnostic


@pytest.mark.parametrize("name", ["simple_43.txt"])
def test_a_mail_systems_report_naming_no_recipient_is_a_bounce_not_a_reply(name):
    found = classify(parse_message(_raw({"source": "flufl", "file": name})))
    assert found.kind == BOUNCE and found.bounce is None


def test_lotus_notes_failure_reasons():
    bounce = _sample("sisimai", "email-notes-01.eml")
    assert bounce.format == "lotus-notes"
    (recipient,) = bounce.recipients
    assert (recipient.address, recipient.action) == ("kijitora@u1.example.co.jp", "failed")
    assert recipient.diagnostic  # the reason, in Japanese (its charset undeclared)


def test_sendmail_5_gave_up_names_the_unsent_messages_recipient():
    bounce = _sample("sisimai", "email-v5sendmail-01.eml")
    assert bounce.format == "sendmail5"
    (recipient,) = bounce.recipients
    assert (recipient.address, recipient.action) == ("kijitora@example.com", "failed")
    assert "Connection timed out" in recipient.diagnostic


def test_opensmtpd_list_of_recipients():
    bounce = _sample("sisimai", "email-opensmtpd-02.eml")
    assert bounce.format == "opensmtpd"
    found = {r.address: (r.action, r.status) for r in bounce.recipients}
    assert found == {
        "mailboxfull@example.jp": ("failed", "5.2.2"),
        "userunknown@example.jp": ("failed", "5.1.1"),
    }


def test_a_persons_reply_quoting_a_bounce_stays_a_reply():
    """flufl.bounce is not asked about an answer in a thread that a person sent."""
    bounce = _raw({"source": "flufl", "file": "simple_05.txt"}).decode("latin-1")
    body = bounce.split("\n\n", 1)[1]
    raw = (
        "From: Jane Roe <jane@acme.example>\nTo: ada@candidate.example\n"
        "Subject: Re: Delivery failure\nDate: Wed, 1 Feb 2006 09:29:52 -0800\n"
        "In-Reply-To: <1@candidate.example>\n\n"
        "Your mail to my old address bounced, see below. I am happy to talk on Monday.\n\n" + body
    ).encode()
    assert classify(parse_message(raw)).kind == REPLY
