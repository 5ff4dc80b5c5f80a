"""Templates: the shipped ones render, overrides win, mistakes are named, user data stays data."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from service.checks import check_content
from service.context import sample_context
from service.errors import TemplateError
from service.rendering import (
    Rendered,
    Templates,
    content_hash,
    default_templates_dir,
)
from service.validation import Mailbox

ME = Mailbox("Ada Candidate", "ada@candidate.example")
SHIPPED = (
    "thank_you",
    "question_follow_up",
    "status_check",
    "final_note",
    "call_reminder",
    "delivery_failed",
    "review_digest",
    "reply_notice",
    "bounce_notice",
)


def context(private: bool = False) -> dict:
    """sample_context plus what the two notes to the user are rendered with in the service;
    `private` as for a message to the user (with the notes)."""
    ctx = sample_context(ME, private=private)
    # As Delivery.notify_user_of_failure gives it.
    ctx["failed"] = {
        "id": 17,
        "step": "thank_you",
        "subject": "Thank you for the Senior Engineer interview",
        "to": "Jane Roe <jane.roe@example.com>",
        "error": "SMTP mx.example.com:25 (rcpt): 550 5.1.1 no such user",
    }
    # As service.inbox.actions gives them (a reply, a bounce).
    ctx["reply"] = {
        "from": "Jane Roe <jane.roe@example.com>",
        "subject": "Re: Thank you for the Senior Engineer interview",
        "date": "Tue 2026-09-08 10:00 (Europe/Berlin)",
        "hiring": "rejection",
        "hiring_reason": "we have decided to move forward with other candidates",
    }
    ctx["cancelled"] = 2
    ctx["bounced"] = {
        "id": 17,
        "step": "thank_you",
        "subject": "Thank you for the Senior Engineer interview",
        "to": "Jane Roe <jane.roe@example.com>",
        "diagnostic": "jane.roe@example.com: 550 5.1.1 user unknown",
        "cancelled": 1,
    }
    return ctx


def digest_context() -> dict:
    """As digest.queue_digest gives it: only me, count and items."""
    return {
        "me": {"name": ME.name, "first_name": "Ada", "email": ME.email},
        "count": 2,
        "items": [
            {
                "id": 4,
                "to": "Jane Roe <jane@acme.example>",
                "company": "Acme Corp",
                "subject": "Thank you for the Staff Engineer interview",
                "due": "Tue 01 Sep 14:00",
                "overdue": True,
                "waiting": "3 hours",
            },
            {
                "id": 5,
                "to": "you",
                "company": "",
                "subject": "Reminder: call Acme Corp",
                "due": "Wed 09 Sep 09:00",
                "overdue": False,
                "waiting": "1 minute",
            },
        ],
    }


TEMPLATE = """\
{# a comment line #}
{% block subject %}Thanks, {{ contact.first_name }}{% endblock %}
{% block body %}
Dear {{ contact.first_name }},

About {{ contact.topic }}.
{% endblock %}
"""


@pytest.fixture
def overrides(tmp_path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    return folder


def write(path: Path, text: str) -> None:
    """Write a template file and make sure its mtime moves (Jinja reloads by mtime)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    if path.stat().st_mtime_ns <= before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


# --- the shipped templates ------------------------------------------------------------------


def test_every_shipped_template_is_there():
    assert set(SHIPPED) <= set(Templates().names())
    # NAME.txt, and its translations NAME.LANG.txt (service/languages.py)
    assert {p.name.split(".")[0] for p in default_templates_dir().glob("*.txt")} == set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_templates_render_cleanly_with_the_sample(name):
    ctx = digest_context() if name == "review_digest" else context(name == "call_reminder")
    rendered = Templates().render(name, ctx)
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.endswith("\n") and rendered.text.strip()
    # No leftover braces, no empty parts: nothing a careful reader would stop at.
    assert check_content(rendered.subject, rendered.text, rendered.html) == []
    assert "\n\n\n" not in rendered.text


def test_shipped_templates_say_what_they_are_about():
    t = Templates()
    ctx = context()
    thanks = t.render("thank_you", ctx)
    assert thanks.subject == "Thank you for the Senior Engineer interview"
    assert thanks.text.startswith("Dear Jane,\n")
    assert "Example Corp" in thanks.text and "event sourcing" in thanks.text
    assert thanks.text.rstrip().endswith("Ada Candidate")

    questions = t.render("question_follow_up", ctx).text
    assert "- How does the team handle on-call?" in questions
    assert "- What does success look like in 6 months?" in questions

    assert "Friday, September 11, 2026" in t.render("status_check", ctx).text
    reminder = t.render("call_reminder", context(private=True)).text
    assert "+1 555 0100" in reminder and "salary range discussed" in reminder

    failed = t.render("delivery_failed", ctx)
    assert failed.subject == "Not delivered: Thank you for the Senior Engineer interview"
    assert "550 5.1.1 no such user" in failed.text
    assert "followup retry 17" in failed.text and "followup cancel 17" in failed.text

    digest = t.render("review_digest", digest_context())
    assert digest.subject == "followup: 2 follow-ups waiting for your review"
    assert "#4 to Jane Roe <jane@acme.example> (Acme Corp)" in digest.text
    assert "overdue" in digest.text and "followup review" in digest.text


# --- overrides ----------------------------------------------------------------------------------


def test_an_override_replaces_the_shipped_template_and_only_that_one(overrides):
    write(overrides / "thank_you.txt", TEMPLATE)
    t = Templates(overrides)
    mine = t.render("thank_you", context())
    assert mine.subject == "Thanks, Jane"
    assert mine.text == "Dear Jane,\n\nAbout the team's move to event sourcing.\n"
    assert t.render("status_check", context()).subject == (
        "Following up on the Senior Engineer position"
    )
    write(overrides / "my_own.txt", TEMPLATE)
    assert "my_own" in Templates(overrides).names()


def test_an_override_added_while_running_is_used(overrides):
    t = Templates(overrides)
    shipped = t.render("thank_you", context())
    write(overrides / "thank_you.txt", TEMPLATE)
    mine = t.render("thank_you", context())
    assert mine.subject == "Thanks, Jane"
    assert mine.source_hash != shipped.source_hash


def test_an_unknown_template_is_an_error_naming_it(overrides):
    with pytest.raises(TemplateError, match="'nope' not found"):
        Templates(overrides).render("nope", context())


# --- mistakes in templates are named, with the file and line ----------------------------------


def test_a_syntax_error_names_the_file_and_line(overrides):
    write(
        overrides / "thank_you.txt",
        "{% block subject %}Hi{% endblock %}\n{% block body %}\nDear you,\n{% if %}\n"
        "{% endblock %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        Templates(overrides).render("thank_you", context())
    message = str(caught.value)
    assert str(overrides / "thank_you.txt") in message
    assert "line 4" in message


def test_a_missing_variable_is_an_error_never_a_blank(overrides):
    write(
        overrides / "thank_you.txt",
        "{% block subject %}Hi{% endblock %}\n{% block body %}\nDear {{ contact.first_name }},\n"
        "\nYour {{ interview.salary }} offer\n{% endblock %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        Templates(overrides).render("thank_you", context())
    message = str(caught.value)
    assert str(overrides / "thank_you.txt") in message
    assert "line 5" in message and "salary" in message


def test_a_missing_top_level_name_in_the_subject_is_an_error(overrides):
    write(
        overrides / "status_check.txt",
        "{% block subject %}About {{ position }}{% endblock %}\n{% block body %}\nx\n"
        "{% endblock %}\n",
    )
    with pytest.raises(TemplateError, match=r"status_check\.txt line 1: 'position' is undefined"):
        Templates(overrides).render("status_check", context())


def test_a_template_without_a_subject_block_is_an_error(overrides):
    write(overrides / "thank_you.txt", "{% block body %}\nDear Jane,\n{% endblock %}\n")
    with pytest.raises(TemplateError, match=r"thank_you\.txt has no \{% block subject %\}"):
        Templates(overrides).render("thank_you", context())


def test_a_template_that_renders_an_empty_body_is_an_error(overrides):
    write(
        overrides / "thank_you.txt",
        "{% block subject %}Hi{% endblock %}\n{% block body %}\n{% if false %}x{% endif %}\n"
        "{% endblock %}\n",
    )
    with pytest.raises(TemplateError, match="empty body"):
        Templates(overrides).render("thank_you", context())


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "''.__class__.__mro__[1].__subclasses__()",
        "interview.__class__",
        "cycler.__init__.__globals__",
    ],
)
def test_the_sandbox_refuses_to_reach_python_internals(overrides, expression):
    write(
        overrides / "thank_you.txt",
        f"{{% block subject %}}Hi{{% endblock %}}\n{{% block body %}}\n{{{{ {expression} }}}}\n"
        "{% endblock %}\n",
    )
    with pytest.raises(TemplateError) as caught:
        Templates(overrides).render("thank_you", context())
    assert "unsafe" in str(caught.value) or "undefined" in str(caught.value)
    assert "<class" not in str(caught.value)


# --- user data is data ------------------------------------------------------------------------


def test_template_syntax_in_user_data_is_printed_literally():
    ctx = context()
    ctx["contact"]["greeting"] = "Dear {{ 7*7 }}"
    ctx["interview"]["role"] = "{% raw %}Engineer{{ 7*7 }}"
    ctx["contact"]["topic"] = "{{ 7*7 }} and {% if true %}yes{% endif %}"
    rendered = Templates().render("thank_you", ctx)
    assert rendered.text.startswith("Dear {{ 7*7 }},\n")
    assert "{{ 7*7 }} and {% if true %}yes{% endif %}" in rendered.text
    assert rendered.subject == "Thank you for the {% raw %}Engineer{{ 7*7 }} interview"
    assert "49" not in rendered.text + rendered.subject


def test_html_is_escaped_in_the_html_part_and_not_in_the_text(overrides):
    write(overrides / "thank_you.txt", TEMPLATE)
    write(
        overrides / "thank_you.html",
        "{% block body %}<p>Dear {{ contact.first_name }},</p>\n<p>{{ contact.topic }}</p>"
        "{% endblock %}\n",
    )
    ctx = context()
    ctx["contact"]["topic"] = "<script>alert('x')</script> & more"
    ctx["contact"]["first_name"] = 'Jane "<b>"'
    rendered = Templates(overrides).render("thank_you", ctx)
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in rendered.html
    assert "Dear Jane &#34;&lt;b&gt;&#34;," in rendered.html
    assert "<p>" in rendered.html  # the template's own markup is kept
    assert "About <script>alert('x')</script> & more." in rendered.text
    assert 'Dear Jane "<b>",' in rendered.text


# --- hashes -------------------------------------------------------------------------------------


def test_source_hash_follows_the_template_file_and_the_data(overrides):
    write(overrides / "thank_you.txt", TEMPLATE)
    t = Templates(overrides)  # one instance, as a long-running worker keeps it
    ctx = context()
    first = t.render("thank_you", ctx).source_hash

    # Not otherwise: same file, same data, a new instance, or an unrelated template changed.
    assert t.render("thank_you", copy.deepcopy(ctx)).source_hash == first
    assert t.source_hash("thank_you", ctx) == first
    assert Templates(overrides).source_hash("thank_you", ctx) == first
    write(overrides / "status_check.txt", TEMPLATE.replace("Thanks", "Status"))
    assert t.source_hash("thank_you", ctx) == first

    # The data changed.
    changed = copy.deepcopy(ctx)
    changed["interview"]["notes"] = "the move to microservices"
    assert t.source_hash("thank_you", changed) != first
    changed = copy.deepcopy(ctx)
    changed["contact"]["email"] = "jane@other.example"
    assert t.source_hash("thank_you", changed) != first

    # The file changed, seen by the same instance; changing it back restores the hash.
    write(overrides / "thank_you.txt", TEMPLATE.replace("Dear", "Hello"))
    edited = t.render("thank_you", ctx)
    assert edited.text.startswith("Hello Jane,")
    assert edited.source_hash != first
    write(overrides / "thank_you.txt", TEMPLATE)
    assert t.source_hash("thank_you", ctx) == first

    # Adding an HTML part changes it too.
    write(overrides / "thank_you.html", "{% block body %}<p>hi</p>{% endblock %}")
    assert t.source_hash("thank_you", ctx) != first


def test_content_hash_covers_subject_text_and_html():
    base = Rendered("Subject", "Text\n", "<p>Text</p>\n", "source")
    variants = [
        Rendered("Subject!", "Text\n", "<p>Text</p>\n", "source"),
        Rendered("Subject", "Text!\n", "<p>Text</p>\n", "source"),
        Rendered("Subject", "Text\n", "<p>Text!</p>\n", "source"),
        Rendered("Subject", "Text\n", None, "source"),
        Rendered("Subject", "Text\n", "", "source"),
    ]
    hashes = {base.content_hash} | {v.content_hash for v in variants}
    assert len(hashes) == 1 + len(variants)
    # It is about what is sent, not where it came from.
    assert Rendered("Subject", "Text\n", "<p>Text</p>\n", "other").content_hash == (
        base.content_hash
    )
    assert base.content_hash == content_hash("Subject", "Text\n", "<p>Text</p>\n")
    # No ambiguity between fields: moving text from one into the other changes it.
    assert content_hash("ab", "c", None) != content_hash("a", "bc", None)


def test_a_template_that_renders_a_nul_character_is_an_error(overrides):
    write(
        overrides / "thank_you.txt",
        "{% block subject %}x{% endblock %}{% block body %}a\x00b{% endblock %}",
    )
    with pytest.raises(TemplateError, match="NUL"):
        Templates(overrides).render("thank_you", context())
