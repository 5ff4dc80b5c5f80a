"""Web passwords: at least 12 characters, 5 different ones, and not a common password, checked
where the password is set (FOLLOWUP_WEB_PASSWORD, read by every command and `serve`); `init` and
`serve --new-password` suggest a generated one (issue 20, item 10)."""

from __future__ import annotations

import re

import pytest

from service.passwords import MIN_LENGTH, common_passwords, suggestion, weakness

SUGGESTED = re.compile(r"\b[a-z2-9]{4}(-[a-z2-9]{4}){3}\b")


@pytest.mark.parametrize(
    ("password", "why"),
    [
        (" " * 10, "10 characters long"),
        ("aaaaaaaaaa", "10 characters long"),
        (" " * 12, "fewer than 5 different"),
        ("a" * 40, "fewer than 5 different"),
        ("abababababab", "fewer than 5 different"),
        ("1qaz2wsx3edc", "common password"),
        ("Password1234", "common password"),  # "password" with digits around it
        ("!!Sunshine2026!!", "common password"),
        ("correct\x00horse staple", "control character"),
    ],
)
def test_weak_passwords_are_refused_saying_why(password, why):
    reason = weakness(password)
    assert reason is not None and why in reason and "\n" not in reason


@pytest.mark.parametrize(
    "password", ["correct horse battery staple", "first-password", "Tr0ub4dor&3-kettle"]
)
def test_good_passwords_are_taken(password):
    assert weakness(password) is None


def test_the_suggestion_passes_its_own_check_and_the_list_is_shipped():
    made = {suggestion() for _ in range(20)}
    assert len(made) == 20 and all(weakness(p) is None and SUGGESTED.fullmatch(p) for p in made)
    assert len(common_passwords()) == 10_000 and "password" in common_passwords()
    assert min(map(len, made)) >= MIN_LENGTH


@pytest.mark.parametrize("password", ["aaaaaaaaaa", " " * 10, "password1234"])
def test_a_weak_web_password_stops_serve_in_one_line_and_not_the_worker(workdir, run, password):
    result = run("serve", "--port", "1", env={"FOLLOWUP_WEB_PASSWORD": password})
    assert result.code in (2, 78), result
    assert result.err.startswith("followup: error: ") and result.err.count("\n") == 1
    assert "FOLLOWUP_WEB_PASSWORD is not accepted" in result.err
    assert password not in result.err and SUGGESTED.search(result.err)
    # The worker and the other commands do not use it: sending must not stop over it.
    assert run("schedule", env={"FOLLOWUP_WEB_PASSWORD": password}).code == 0
    assert run("worker", "--once", env={"FOLLOWUP_WEB_PASSWORD": password}).code == 0


def test_serve_new_password_beside_a_set_one_suggests_one(web_env, db, clock):
    from service.config import load_settings
    from service.errors import UsageError
    from service.web.server import login_hint

    with pytest.raises(UsageError) as refused:
        login_hint(load_settings(), db, clock(), renew=True)
    assert SUGGESTED.search(str(refused.value)) and "change it in .env" in str(refused.value)


def test_init_suggests_a_web_password(tmp_path, monkeypatch, run):
    monkeypatch.chdir(tmp_path)
    result = run(
        "init", "--provider", "gmail", "--from", "Ada Lovelace <ada@gmail.com>",
        "--timezone", "Europe/Berlin", "--password-command", "pass show mail/gmail",
        "--yes", "--no-check",
    )  # fmt: skip
    assert result.code == 0, result.err
    line = next(x for x in result.out.splitlines() if "FOLLOWUP_WEB_PASSWORD" in x)
    suggested = SUGGESTED.search(line)
    assert suggested and weakness(suggested.group()) is None
