"""The user's language: follow-ups in English, German, French or Spanish as a professional in
that language writes them (greeting, punctuation, dates and weekdays by Babel), `Re:` threads
kept as they are, and a greeting that needs a form of address followup cannot know held for the
user's review."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from mailserver import MailServer
from test_letters import ALL_AT_ONCE, run_all_steps, text_of

from service.context import followup_context
from service.errors import UsageError
from service.languages import SHIPPED, check_language, greeting_for
from service.messages import OutgoingMessage
from service.models import Contact, Interview
from service.names import read_name
from service.rendering import Templates
from service.transport import Outgoing, SmtpTransport
from service.validation import Mailbox

FOLLOWUPS = ("thank_you", "question_follow_up", "status_check", "final_note", "call_reminder")
ME = Mailbox("Åsa Öberg-Nyström", "asa@candidate.example")


@pytest.mark.parametrize(
    ("name", "language", "greeting", "neutral"),
    [
        ("Jane Roe", "en", "Dear Jane", False),
        ("Dr. Lucius Fox", "en", "Dear Dr. Fox", False),
        ("Jane Roe", "de", "Guten Tag Jane Roe", True),
        ("Frau Dr. Anna Müller", "de", "Sehr geehrte Frau Dr. Müller", False),
        ("Herr Jörg Weiß", "de", "Sehr geehrter Herr Weiß", False),
        ("Ms. Jane Roe", "de", "Sehr geehrte Frau Roe", False),
        ("Jane Roe", "fr", "Bonjour Jane Roe", True),
        ("Mme Zoë Lefèvre", "fr", "Madame", False),
        ("Monsieur Jean Dupont", "fr", "Monsieur", False),
        ("Jane Roe", "es", "Hola, Jane Roe", True),
        ("Sra. María García López", "es", "Estimada Sra. García López", False),
        ("Dr. Bob Lee", "es", "Hola, Dr. Bob Lee", True),
        ("Mr. Bob Lee", "es", "Estimado Sr. Lee", False),
    ],
)
def test_each_language_greets_by_name_with_a_form_of_address_only_when_the_name_gives_it(
    name, language, greeting, neutral
):
    found = greeting_for(read_name(name), language)
    assert (found.text, found.neutral) == (greeting, neutral)


def test_language_codes_are_checked_and_written_as_template_files_name_them():
    assert check_language("DE", "--language") == "de"
    assert check_language("pt-br", "--language") == "pt_BR"
    for bad in ("german", "d", "de_XX_YY", "../x", ""):
        with pytest.raises(UsageError, match="--language"):
            check_language(bad, "--language")


# --- every shipped template, every shipped language, on the wire ----------------------------------


def sample_interview() -> Interview:
    interview = Interview(
        id=7,
        company="Bäckerei Überall GmbH",
        role="Ingénieure logicielle",
        starts_at=datetime(2026, 11, 26, 13, 0, tzinfo=UTC),  # Thursday, 14:00 in Berlin
        timezone="Europe/Berlin",
        duration_minutes=45,
        location="",
        notes="Gehalt: 70 k€ – privat",
        questions=["Wie ist die Rufbereitschaft organisiert?"],
        decision_date=date(2026, 12, 4),
    )
    interview.contacts = [
        Contact(
            id=1,
            name="Zoë Ångström-Núñez",
            email="zoe@baeckerei.example",
            title="Leiterin Entwicklung",
            phone="+49 30 1234567",
            topic="die Umstellung auf Event Sourcing",
            removed=False,
        )
    ]
    return interview


@pytest.fixture(scope="module")
def wire():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("language", SHIPPED)
def test_every_follow_up_renders_in_every_language_and_survives_the_wire(language, wire):
    interview = sample_interview()
    contact = interview.contacts[0]
    templates = Templates()
    transport = SmtpTransport(wire_settings(wire))
    due = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    try:
        for name in FOLLOWUPS:
            to_me = name == "call_reminder"
            context = followup_context(
                interview, None if to_me else contact, ME, name, due, language
            )
            rendered = templates.render(name, context)
            message = OutgoingMessage(
                sender=ME,
                to=ME if to_me else Mailbox(contact.name, contact.email),
                subject=rendered.subject,
                text=rendered.text,
                message_id=f"<{name}.{language}@candidate.example>",
                date=due,
            )
            data = message.as_bytes()
            assert data.isascii()  # headers RFC 2047, body quoted-printable
            transport.send(Outgoing(ME.email, message.recipients(), data, name))
            received = wire.received[-1].message
            assert received["Subject"] == rendered.subject
            assert received["From"].addresses[0].display_name == "Åsa Öberg-Nyström"
            body = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
            assert body == rendered.text
            assert "70 k€" not in rendered.text or to_me  # notes reach only the user
            if not to_me:
                assert rendered.text.startswith(context["contact"]["greeting"])
    finally:
        transport.close()


def wire_settings(server):
    from service.config import SmtpSettings

    return SmtpSettings("127.0.0.1", server.port, "none", None, None, None, 5.0)


def test_each_language_writes_as_its_professionals_do():
    interview = sample_interview()
    contact = interview.contacts[0]
    due = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    templates = Templates()

    def text(name: str, language: str) -> str:
        context = followup_context(interview, contact, ME, name, due, language)
        return templates.render(name, context).text

    german = text("thank_you", "de")
    # After "Anrede," a German letter goes on in lower case; the weekday is German.
    assert german.startswith("Guten Tag Zoë Ångström-Núñez,\n\nvielen Dank, dass Sie sich am "
                             "Donnerstag Zeit")  # fmt: skip
    assert "über die Umstellung auf Event Sourcing." in german
    assert german.endswith("Mit freundlichen Grüßen\nÅsa Öberg-Nyström\n")  # no comma (DIN 5008)
    assert "Donnerstag, 26. November 2026" in text("status_check", "de")
    assert "Freitag, 4. Dezember 2026" in text("status_check", "de")
    french = text("thank_you", "fr")
    assert "jeudi au sujet du poste d'Ingénieure logicielle chez" in french  # elided "de"
    assert "jeudi 26 novembre 2026" in text("status_check", "fr")
    spanish = text("thank_you", "es")
    assert spanish.startswith("Hola, Zoë Ångström-Núñez:\n\nLe agradezco")  # colon (RAE)
    assert "jueves, 26 de noviembre de 2026" in text("status_check", "es")


# --- through the CLI: an interview in German ---------------------------------------------------


@pytest.fixture
def smtp(workdir, monkeypatch, mailserver):
    plan = workdir / "plan.toml"
    plan.write_text(ALL_AT_ONCE)
    monkeypatch.setenv("FOLLOWUP_PLAN", str(plan))
    monkeypatch.setenv("FOLLOWUP_FROM", "Åsa Öberg <asa@candidate.example>")
    for k, v in mailserver.env().items():
        monkeypatch.setenv(k, v)
    return mailserver


def test_a_german_interview_reads_german_threads_on_re_and_asks_about_unknown_forms(
    workdir, run, clock, smtp
):
    clock.set(datetime(2026, 11, 26, 13, 30, tzinfo=UTC))  # Thursday 14:30 in Berlin
    run("migrate")
    added = run(
        "interview", "add", "--company", "Bäckerei Überall", "--role", "Staff Engineer",
        "--at", "2026-11-26 14:00", "--tz", "Europe/Berlin", "--duration", "30m",
        "--language", "de", "--question", "Wie ist die Rufbereitschaft organisiert?",
        "--contact", "Frau Dr. Anna Müller <anna@baeckerei.example> | topic=die Architektur",
        "--contact", "Jörg Weiß <joerg@baeckerei.example> | topic=den Bereitschaftsdienst",
        "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    assert added.json()["language"] == "de"
    run_all_steps(run, clock)
    to_anna = [r for r in smtp.received if r.rcpt_tos == ["anna@baeckerei.example"]]
    subjects = [r.message["Subject"] for r in to_anna]
    assert subjects[0] == "Vielen Dank für das Gespräch – Staff Engineer"
    assert subjects[1:] and all(s == f"Re: {subjects[0]}" for s in subjects[1:])
    assert text_of(to_anna[0]).startswith("Sehr geehrte Frau Dr. Müller,\n\nvielen Dank")
    # The reminder goes to the user, in the user's own language (FOLLOWUP_LANGUAGE: en).
    reminder = next(r for r in smtp.received if r.rcpt_tos == ["asa@candidate.example"]
                    and r.message["Subject"].startswith("Reminder"))  # fmt: skip
    assert "Thursday, 26 November 2026" in text_of(reminder)
    # Jörg's form of address is unknown: his thank-you waits, with the reason and the fix.
    assert not [r for r in smtp.received if r.rcpt_tos == ["joerg@baeckerei.example"]]
    queued = [q for q in run("queue", "--json").json() if q["to"] == "joerg@baeckerei.example"]
    assert queued[0]["body"].startswith("Guten Tag Jörg Weiß,\n\nvielen Dank")
    warning = next(w for w in queued[0]["warnings"] if "neutral form" in w)
    assert "'Sehr geehrte Frau Weiß' or 'Sehr geehrter Herr Weiß'" in warning
    fixed = run("interview", "update", "1", "--greeting",
                "joerg@baeckerei.example=Sehr geehrter Herr Weiß")  # fmt: skip
    assert fixed.code == 0, fixed.err
    queued = [q for q in run("queue", "--json").json() if q["to"] == "joerg@baeckerei.example"]
    assert queued[0]["body"].startswith("Sehr geehrter Herr Weiß,\n\nvielen Dank")
    assert not [w for w in queued[0]["warnings"] if "neutral form" in w]


def test_the_language_can_be_changed_and_reset_to_the_users(workdir, run, clock, record_interview):
    run("migrate")
    record_interview("--language", "fr")
    shown = run("interview", "update", "1", "--language", "es", "--json").json()
    assert shown["language"] == "es"
    preview = run("preview", str(shown["followups"][0]["id"]))
    assert "Hola, Jane Roe:" in preview.out
    reset = run("interview", "update", "1", "--language", "default", "--json").json()
    assert reset["language"] is None
    assert "Dear Jane," in run("preview", str(shown["followups"][0]["id"])).out
    with_default = run("preview", str(shown["followups"][0]["id"]),
                       env={"FOLLOWUP_LANGUAGE": "de"})  # fmt: skip
    assert "Guten Tag Jane Roe," in with_default.out


# --- which file: the user's first, then the language's, then the plain one ------------------------


def test_templates_are_looked_up_by_language_in_the_users_folder_first(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    templates = Templates(mine, language="de")
    assert templates.filename("thank_you") == "thank_you.de.txt"
    assert templates.filename("thank_you", "it") == "thank_you.txt"  # none shipped: English
    assert templates.filename("review_digest") == "review_digest.txt"
    (mine / "thank_you.txt").write_text("x")  # the user's own thank-you wins over ours
    assert Templates(mine, language="de").filename("thank_you") == "thank_you.txt"
    (mine / "thank_you.it.txt").write_text("x")
    assert Templates(mine).filename("thank_you", "it") == "thank_you.it.txt"
    assert Templates(mine).filename("thank_you", "pt_BR") == "thank_you.txt"
    (mine / "thank_you.pt.txt").write_text("x")
    assert Templates(mine).filename("thank_you", "pt_BR") == "thank_you.pt.txt"


def test_doctor_renders_every_language_it_ships(workdir, run):
    doctor = run("doctor", env={"FOLLOWUP_LANGUAGE": "fr"})
    assert "template thank_you: renders (en, de, es, fr)" in doctor.out
    assert "template review_digest: renders (en, fr)" in doctor.out
    unknown = run("doctor", env={"FOLLOWUP_LANGUAGE": "it"})
    assert "FOLLOWUP_LANGUAGE=it: no template is written in it" in unknown.out
    # A language added by the user is rendered too; a copy kept aside is no language.
    mine = workdir / "mine"
    mine.mkdir()
    shipped = (Templates().dirs[-1] / "thank_you.txt").read_text()
    (mine / "thank_you.it.txt").write_text(shipped.replace("Thank you", "Grazie"))
    (mine / "thank_you.old.txt").write_text("{% broken")
    added = run("doctor", env={"FOLLOWUP_TEMPLATES_DIR": str(mine)})
    assert "template thank_you: renders (en, de, es, fr, it)" in added.out


def test_a_re_subject_is_never_translated(workdir, run, clock, smtp):
    clock.set(datetime(2026, 11, 26, 13, 30, tzinfo=UTC))
    run("migrate")
    for language in ("fr", "es"):
        result = run(
            "interview", "add", "--company", f"Acme {language}", "--role", "Engineer",
            "--at", "2026-11-26 14:00", "--tz", "Europe/Paris", "--duration", "30m",
            "--language", language,
            "--contact", f"Ms. Jane Roe <jane.{language}@acme.example> | topic=x",
        )  # fmt: skip
        assert result.code == 0, result.err
    for _ in range(4):
        run("worker", "--once")
        clock.advance(timedelta(hours=1, minutes=1))
    for language in ("fr", "es"):
        subjects = [r.message["Subject"] for r in smtp.received
                    if r.rcpt_tos == [f"jane.{language}@acme.example"]]  # fmt: skip
        assert len(subjects) >= 2
        assert all(s.startswith("Re: ") for s in subjects[1:]), subjects
