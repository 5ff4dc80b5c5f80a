"""The follow-up plan: the shipped default, the documented shape, and every way a plan is wrong."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from service.plan import DEFAULT_PLAN, Offset, PlanError, load_plan, parse_plan

ISSUE_EXAMPLE = """\
[window]
enabled = true
hours = "09:00-17:00"
days = ["mon", "tue", "wed", "thu", "fri"]
[[steps]]
name = "thank_you"
after = "1 business day"
template = "thank_you"
to = "interviewers"
"""


def test_the_default_plan_is_the_shipped_file():
    assert load_plan(None).source == str(DEFAULT_PLAN)


def test_the_default_plan_has_the_five_steps_in_order():
    plan = load_plan()
    assert [s.name for s in plan.steps] == [
        "thank_you",
        "question_follow_up",
        "status_check",
        "call_reminder",
        "final_note",
    ]


def test_the_default_plan_sends_within_office_hours_on_weekdays():
    window = load_plan().window
    assert window.enabled
    assert (window.start, window.end) == (time(9, 0), time(17, 0))
    assert window.days == frozenset(range(5))


def test_the_default_thank_you_goes_to_each_interviewer_next_business_day_and_expires():
    step = load_plan().step("thank_you")
    assert step.to == "interviewers"
    assert (step.after.kind, step.after.amount) == ("business_days", 1)
    assert step.expire_after == timedelta(days=3)
    assert step.when == "always"


def test_the_default_question_follow_up_only_goes_when_there_are_questions():
    step = load_plan().step("question_follow_up")
    assert step.when == "questions"
    assert step.to == "first"


def test_the_default_status_check_follows_the_decision_date_when_there_is_one():
    step = load_plan().step("status_check")
    assert (step.after.kind, step.after.amount) == ("days", 7)
    assert step.after_decision_date is not None
    assert (step.after_decision_date.kind, step.after_decision_date.amount) == (
        "business_days",
        1,
    )


def test_the_default_call_reminder_goes_to_me_without_review():
    step = load_plan().step("call_reminder")
    assert step.to == "me"
    assert step.review is False


def test_the_default_final_note_goes_to_the_first_contact_after_two_weeks():
    step = load_plan().step("final_note")
    assert step.to == "first"
    assert (step.after.kind, step.after.amount) == ("days", 14)
    assert load_plan().step("no_such_step") is None


def test_the_example_from_the_issue_parses():
    plan = parse_plan(ISSUE_EXAMPLE, "example.toml")
    assert plan.window.enabled
    assert (plan.window.start, plan.window.end) == (time(9), time(17))
    assert plan.window.days == frozenset({0, 1, 2, 3, 4})
    (step,) = plan.steps
    assert (step.name, step.template, step.to) == ("thank_you", "thank_you", "interviewers")
    assert step.after == Offset("business_days", 1, "1 business day")
    assert (step.when, step.review, step.expire_after, step.after_decision_date) == (
        "always",
        None,
        None,
        None,
    )


def test_a_plan_needs_no_window_and_a_step_needs_only_name_and_after():
    plan = parse_plan('[[steps]]\nname = "nudge"\nafter = "3d"\n', "minimal.toml")
    assert plan.window.describe() == "09:00-17:00 on mon, tue, wed, thu, fri"
    step = plan.steps[0]
    assert (step.template, step.to) == ("nudge", "interviewers")


def test_a_disabled_window_means_any_time():
    plan = parse_plan(ISSUE_EXAMPLE.replace("enabled = true", "enabled = false"), "p.toml")
    assert not plan.window.enabled
    assert plan.window.describe() == "any time"


@pytest.mark.parametrize(
    ("after", "kind", "amount"),
    [
        ('"1 business day"', "business_days", 1),
        ('"3 Business Days"', "business_days", 3),
        ('"7d"', "days", 7),
        ('"2 weeks"', "days", 14),
        ('"2h"', "elapsed", 7200),
        ('"30s"', "elapsed", 30),
        ("3600", "elapsed", 3600),
    ],
)
def test_delays_are_business_days_calendar_days_or_elapsed_time(after, kind, amount):
    plan = parse_plan(f'[[steps]]\nname = "s"\nafter = {after}\n', "p.toml")
    assert (plan.steps[0].after.kind, plan.steps[0].after.amount) == (kind, amount)


def test_window_days_may_be_spelled_out_in_any_case():
    plan = parse_plan(
        ISSUE_EXAMPLE.replace('["mon", "tue", "wed", "thu", "fri"]', '["Saturday", "SUN"]'), "p"
    )
    assert plan.window.days == frozenset({5, 6})


# --- bad plans ------------------------------------------------------------------------------


def replace(old: str, new: str) -> str:
    assert old in ISSUE_EXAMPLE
    return ISSUE_EXAMPLE.replace(old, new)


SECOND_STEP = '\n[[steps]]\nname = "nudge"\nafter = "3d"\n'

BAD_PLANS = [
    # (plan text, the step the message names or None, what the message says)
    (ISSUE_EXAMPLE.replace("[[steps]]", "[[steps]"), None, "not valid TOML"),
    (ISSUE_EXAMPLE + "[schedule]\nx = 1\n", None, "unknown section(s) schedule"),
    (replace("enabled = true", "enabled = true\nhour = 9"), None, "unknown key(s) hour"),
    (replace("enabled = true", 'enabled = "yes"'), None, "enabled must be true or false"),
    (replace('"09:00-17:00"', '"9-17"'), None, "is not 'HH:MM-HH:MM'"),
    (replace('"09:00-17:00"', '"09:00-25:00"'), None, "is not 'HH:MM-HH:MM'"),
    (replace('"09:00-17:00"', '"09:60-17:00"'), None, "is not 'HH:MM-HH:MM'"),
    (replace('"09:00-17:00"', '"17:00-09:00"'), None, "must end after it starts"),
    (replace('"fri"]', '"fri", "funday"]'), None, "'funday'"),
    (replace('["mon", "tue", "wed", "thu", "fri"]', "[]"), None, "days must be a list"),
    (replace('["mon", "tue", "wed", "thu", "fri"]', '"mon"'), None, "days must be a list"),
    ('window = 5\n[[steps]]\nname = "s"\nafter = "1d"\n', None, "[window] table"),
    ("[window]\nenabled = true\n", None, "no [[steps]]"),
    ('steps = ["thank_you"]\n', None, "[[steps]] tables"),
    (replace('name = "thank_you"', 'name = "Thank You"'), None, "needs a name"),
    (
        replace('after = "1 business day"', 'after = "1 business day"\nsender = "me"'),
        "thank_you",
        "unknown key(s) sender",
    ),
    (replace('after = "1 business day"\n', ""), "thank_you", "'after' is missing"),
    (replace('"1 business day"', '"soonish"'), "thank_you", "is not a delay"),
    (replace('"1 business day"', '"-1d"'), "thank_you", "is not a delay"),
    (replace('to = "interviewers"', 'to = "everyone"'), "thank_you", "to = 'everyone'"),
    (replace('to = "interviewers"', 'to = ["me"]'), "thank_you", "use one of"),
    (replace('to = "interviewers"', 'to = "me"\nwhen = "sometimes"'), "thank_you", "when ="),
    (
        replace('template = "thank_you"', 'template = "../../etc/passwd"'),
        "thank_you",
        "not a template name",
    ),
    (
        replace('to = "interviewers"', 'to = "me"\nreview = "yes"'),
        "thank_you",
        "review must be true or false",
    ),
    (
        replace('to = "interviewers"', 'to = "me"\nexpire_after = "later"'),
        "thank_you",
        "expire_after",
    ),
    (
        replace('to = "interviewers"', 'to = "me"\nafter_decision_date = "whenever"'),
        "thank_you",
        "after_decision_date",
    ),
    (ISSUE_EXAMPLE + SECOND_STEP + SECOND_STEP, None, "nudge used twice"),
]


@pytest.mark.parametrize(("text", "step", "complaint"), BAD_PLANS)
def test_a_bad_plan_is_refused_naming_the_file_and_the_step(tmp_path, text, step, complaint):
    path = tmp_path / "my_plan.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError) as excinfo:
        load_plan(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: ")
    assert complaint in message
    if step is not None:
        assert f"step {step!r}" in message


def test_a_missing_plan_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "nowhere.toml"
    with pytest.raises(PlanError, match="cannot read plan .*nowhere.toml"):
        load_plan(path)
