"""The bytes of an outgoing email: they parse back to exactly what the user wrote, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.messages import OutgoingMessage, new_message_id, reply_subject
from service.validation import Mailbox

ME = Mailbox("Ada Candidate", "ada@candidate.example")
JANE = Mailbox("Jane Roe", "jane@acme.example")
WHEN = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def message(**changes) -> OutgoingMessage:
    fields = {
        "sender": ME,
        "to": JANE,
        "subject": "Thank you for the Staff Engineer interview",
        "text": "Dear Jane,\n\nThank you for your time.\n\nBest regards,\nAda Candidate\n",
        "message_id": "<a1b2c3@candidate.example>",
        "date": WHEN,
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


def parse(data: bytes):
    return message_from_bytes(data, policy=policy.default)


def plain(parsed) -> str:
    """The text part, with the wire's CRLF turned back into the "\\n" the user wrote."""
    return parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")


def assert_wire_format(data: bytes) -> None:
    """Every line ends in CRLF (no bare CR or LF) and none is longer than RFC 5322 allows."""
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998


# --- round trips -------------------------------------------------------------------------------


def test_plain_message_parses_back_to_what_was_given():
    m = message(
        in_reply_to="<root@candidate.example>",
        references=("<root@candidate.example>", "<second@candidate.example>"),
    )
    data = m.as_bytes()
    assert_wire_format(data)
    parsed = parse(data)
    assert parsed["From"] == "Ada Candidate <ada@candidate.example>"
    assert parsed["To"] == "Jane Roe <jane@acme.example>"
    assert parsed["Subject"] == m.subject
    assert parsed["Message-ID"] == "<a1b2c3@candidate.example>"
    assert parsed["In-Reply-To"] == "<root@candidate.example>"
    assert parsed["References"].split() == [
        "<root@candidate.example>",
        "<second@candidate.example>",
    ]
    assert parsed["Date"].datetime == WHEN
    assert not parsed.is_multipart()
    assert plain(parsed) == m.text
    assert parsed.defects == []


def test_first_message_has_no_threading_headers():
    parsed = parse(message().as_bytes())
    assert parsed["In-Reply-To"] is None
    assert parsed["References"] is None


def test_html_is_an_alternative_after_the_text():
    m = message(html="<p>Dear Jane,</p>\n<p>Thank you for your time.</p>\n")
    data = m.as_bytes()
    assert_wire_format(data)
    parsed = parse(data)
    assert parsed.get_content_type() == "multipart/alternative"
    parts = list(parsed.iter_parts())
    # Clients show the last alternative they understand: the plain text must come first.
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert plain(parsed) == m.text
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == m.html
    assert parsed["Subject"] == m.subject and parsed["Message-ID"] == m.message_id


def test_a_part_without_a_final_newline_does_not_swallow_the_boundary():
    parsed = parse(message(text="Thanks, Ada", html="<p>Thanks, Ada</p>").as_bytes())
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert plain(parsed).rstrip("\n") == "Thanks, Ada"
    assert parsed.get_body(("html",)).get_content().rstrip("\r\n") == "<p>Thanks, Ada</p>"


@pytest.mark.parametrize(
    "name, subject",
    [
        ("Zoë Ångström", "Über — Café"),
        ("José Müller-Łukasiewicz", "Danke für das Gespräch 🙏"),
        ("山田 太郎", "面接のお礼"),
        ("Ada 👩‍💻 Candidate", "Thanks! 🎉✨"),
    ],
)
def test_non_ascii_names_subjects_and_bodies_round_trip(name, subject):
    text = f"Liebe {name},\n\nvielen Dank — {subject}\n"
    m = message(
        sender=Mailbox(name, "ada@candidate.example"),
        to=Mailbox(name, "x@acme.example"),
        subject=subject,
        text=text,
        html=f"<p>{subject}</p>\n",
    )
    data = m.as_bytes()
    assert data.isascii()
    assert_wire_format(data)
    parsed = parse(data)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].addr_spec == "x@acme.example"
    assert plain(parsed) == text
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == m.html


@pytest.mark.parametrize(
    "subject",
    [
        "Following up " * 30,
        "Über die Stelle als Senior Engineer — " * 8,
        "https://careers.acme.example/jobs/" + "x" * 300,
        "y" * 2000,
        "spaced  out   subject " * 10,
        "no-space-just-a-long-token-" * 3,
    ],
)
def test_long_subjects_are_folded_and_round_trip(subject):
    subject = subject.strip()
    data = message(subject=subject).as_bytes()
    assert_wire_format(data)
    header_block = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in header_block.split(b"\r\n")) <= 78
    assert parse(data)["Subject"] == subject


@pytest.mark.parametrize(
    "name",
    [
        'Roe, Jane "JR" <jr@evil.example>',
        "Jane <Roe>, Hiring, Team",
        'back\\slash "quote',
        "O'Brien (HR); Jane",
        "Jane Roe via Acme <careers@acme.example>, bob@evil.example",
    ],
)
def test_names_with_specials_stay_one_address(name):
    parsed = parse(message(to=Mailbox(name, "jane@acme.example")).as_bytes())
    addresses = parsed["To"].addresses
    assert len(addresses) == 1
    assert addresses[0].display_name == name
    assert addresses[0].addr_spec == "jane@acme.example"


def test_bcc_is_an_envelope_recipient_only():
    m = message(bcc=ME)
    assert m.recipients() == ["jane@acme.example", "ada@candidate.example"]
    data = m.as_bytes()
    assert b"bcc" not in data.lower()
    assert b"ada@candidate.example" not in data.split(b"\r\nTo:", 1)[1].split(b"\r\n\r\n")[0]
    assert parse(data)["Bcc"] is None
    # A copy to oneself when writing to oneself is not a second recipient.
    assert message(to=ME, bcc=ME).recipients() == ["ada@candidate.example"]
    assert message().recipients() == ["jane@acme.example"]


# --- header injection ---------------------------------------------------------------------------

BREAKS = ["\r", "\n", "\r\n", "\x00", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", BREAKS, ids=repr)
@pytest.mark.parametrize(
    "field", ["to name", "from name", "subject", "message_id", "in_reply_to", "references"]
)
def test_line_breaks_in_any_header_value_are_refused(field, brk):
    evil = f"x{brk}Bcc: victim@evil.example"
    changes = {
        "to name": {"to": Mailbox(evil, "jane@acme.example")},
        "from name": {"sender": Mailbox(evil, "ada@candidate.example")},
        "subject": {"subject": evil},
        "message_id": {"message_id": f"<a{brk}Bcc: victim@evil.example>"},
        "in_reply_to": {"in_reply_to": f"<r{brk}Bcc: victim@evil.example>"},
        "references": {"references": ("<ok@candidate.example>", f"<r{brk}Bcc: v@evil.example>")},
    }[field]
    with pytest.raises(ValueError):
        message(**changes).as_bytes()


ENCODED_INJECTION = "=?utf-8?q?X=0D=0ABcc:_a@b.example?="


def test_text_that_looks_like_an_encoded_word_stays_literal_in_the_subject():
    subject = f"Re: {ENCODED_INJECTION}"
    data = message(subject=subject).as_bytes()
    parsed = parse(data)
    assert parsed["Subject"] == subject
    assert parsed["Bcc"] is None
    assert b"\r\nBcc" not in data
    assert parsed.keys() == ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
                             "Content-Type", "Content-Transfer-Encoding"]  # fmt: skip


def test_text_that_looks_like_an_encoded_word_stays_literal_in_a_name():
    data = message(to=Mailbox(ENCODED_INJECTION, "jane@acme.example")).as_bytes()
    parsed = parse(data)
    (address,) = parsed["To"].addresses
    assert address.display_name == ENCODED_INJECTION
    assert address.addr_spec == "jane@acme.example"
    assert parsed["Bcc"] is None


# --- subjects and ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "root, expected",
    [
        ("Thank you", "Re: Thank you"),
        ("Re: Thank you", "Re: Thank you"),
        ("RE: re:Re:  Thank you", "Re: Thank you"),
        ("Reunion", "Re: Reunion"),
        ("Über — Café", "Re: Über — Café"),
    ],
)
def test_reply_subject_never_doubles_re(root, expected):
    assert reply_subject(root) == expected
    assert reply_subject(reply_subject(root)) == expected


def test_message_ids_are_unique_and_on_the_senders_domain():
    ids = [new_message_id("candidate.example") for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for mid in ids:
        assert mid.startswith("<") and mid.endswith("@candidate.example>")
        assert mid.count("@") == 1 and " " not in mid


def test_a_body_line_starting_with_a_dot_survives():
    text = "Dear Jane,\n.\n.NET and Python\n..double\nend\n"
    for html in (None, "<p>x</p>\n"):
        data = message(text=text, html=html).as_bytes()
        assert plain(parse(data)) == text
    # Non-ASCII (quoted-printable) bodies too.
    text = "Liebe Zoë,\n.NET — ja\n"
    assert plain(parse(message(text=text).as_bytes())) == text


def test_long_body_lines_are_wrapped_on_the_wire_and_not_in_the_text():
    text = "word " * 400 + "\n" + "x" * 1500 + "\n"
    data = message(text=text).as_bytes()
    assert_wire_format(data)
    assert plain(parse(data)) == text


# --- any text the user might type ----------------------------------------------------------------

one_line = (
    st.text(st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=200)
    .map(lambda s: " ".join(s.split()))
    .filter(bool)
)
body = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\x0b\x0c\x1c\x1d\x1e\x85"),
    max_size=300,
).map(lambda s: s + "\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=one_line, name=one_line, text=body)
def test_any_one_line_name_and_subject_and_any_body_round_trip(subject, name, text):
    m = message(subject=subject, to=Mailbox(name, "jane@acme.example"), text=text, html=text)
    data = m.as_bytes()
    assert_wire_format(data)
    parsed = parse(data)
    assert parsed["Subject"] == subject
    (address,) = parsed["To"].addresses
    assert (address.display_name, address.addr_spec) == (name, "jane@acme.example")
    assert plain(parsed) == text
    assert parsed["Bcc"] is None
