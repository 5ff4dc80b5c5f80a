"""Whatever a user types, or leaves in .env, followup answers with exit 0 or one line and exit 2:
never a traceback. Arbitrary text and bytes go to every argument of every command, and to every
setting."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cli import cli
from service.config import KNOWN_SETTINGS

#: A valid call of each command; the property test swaps one value at a time for garbage.
BASELINE: dict[str, list[str]] = {
    "interview add": [
        "--company", "Acme", "--role", "Engineer", "--at", "2026-09-07 10:00",
        "--tz", "Europe/Berlin", "--contact", "Jane Roe <jane@acme.example> | topic=x",
    ],
    "interview update": ["1", "--company", "Acme"],
    "interview show": ["1"],
    "interview list": [],
    "interview close": ["1", "--outcome", "offer"],
    "queue": [],
    "approve": ["1"],
    "reject": ["1"],
    "edit": ["1"],
    "review": [],
    "migrate": [],
    "schedule": [],
    "worker": ["--once"],
    "retry": ["1"],
    "cancel": ["1"],
    "preview": ["1"],
    "send-test": [],
    "doctor": [],
    "inbox check": [],
    "inbox classify": [str(Path(__file__).parent / "data" / "mail" / "reply_thread.eml")],
    "inbox count-as-reply": ["1"],
    "interview replied": ["1", "--note", "HR called"],
    "import": ["--dry-run", str(Path(__file__).parent / "data" / "calendar" / "google-invite.ics")],
    "export": ["--ics"],
    "backup": ["--out", "backup.db"],
    "restore": ["backup.db"],
    "load": ["export.jsonl"],
    "health": ["--no-worker", "--web", "http://127.0.0.1:9/healthz"],
    "service install": ["--print"],
    # `serve` blocks while it serves: its baseline must never start it. Port 0 is refused while
    # --host is fuzzed, and 192.0.2.1 (not loopback, no FOLLOWUP_WEB_PASSWORD) while --port is.
    "serve": ["--host", "192.0.2.1", "--port", "0"],
    # No terminal (stdin is a StringIO) and --yes: it never waits for an answer; it writes only
    # ./.env and its backups, in the test's folder; --no-check: it connects to nothing.
    "init": [
        "--provider", "other", "--smtp-host", "127.0.0.1", "--smtp-port", "2525",
        "--smtp-security", "none", "--from", "Ada Candidate <ada@candidate.example>",
        "--timezone", "Europe/Berlin", "--holidays", "DE", "--language", "de",
        "--review", "on", "--imap-host", "127.0.0.1", "--imap-port", "1143",
        "--imap-security", "none", "--username", "ada", "--auth", "password",
        "--password-command", "echo x", "--yes", "--no-check", "--force",
    ],
}  # fmt: skip

#: Text a clumsy user or an attacker types: anything, bytes that are not UTF-8, and old friends.
GARBAGE = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40).map(os.fsdecode),
    st.sampled_from(
        [
            "99999999999999999999",
            "-1",
            "0",
            "",
            "\x00",
            "9999-12-31 23:59",
            "0001-01-01 00:30",
            "2026-02-30 10:00",
            "Jane <jane@xn--bcher-kva.example>",
            "ann@bücher.example",
            "x" * 300,
            "a" * 65 + "@x.example",
            "=?utf-8?q?=0D=0ABcc:_x@y?=",
        ]
    ),
)


def leaves(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from leaves(command, path + " ")
        else:
            yield path, command


COMMANDS = sorted(leaves(cli))
PARAMS = [
    (path, param)
    for path, command in COMMANDS
    for param in command.params
    if not (isinstance(param, click.Option) and param.is_flag)
]


def test_every_command_has_a_baseline_to_fuzz_from():
    assert sorted(BASELINE) == [path for path, _ in COMMANDS]


def with_value(path: str, param: click.Parameter, value: str) -> list[str]:
    """The baseline call of `path` with `param` set to `value`."""
    args = list(BASELINE[path])
    if isinstance(param, click.Argument):
        positional = [a for a in args if not a.startswith("-")][:1]
        if positional:
            args[args.index(positional[0])] = value
        else:
            args.append(value)
        return [*path.split(), "--", *args] if value.startswith("-") else [*path.split(), *args]
    flag = param.opts[0]
    if flag in args:
        args[args.index(flag) + 1] = value
    else:
        args += [flag, value]
    return [*path.split(), *args]


def answered_well(result) -> bool:
    if result.code == 0:
        return "Traceback" not in result.err
    return (
        result.code == 2
        and result.err.startswith("followup: error: ")
        and result.err.count("\n") == 1
        or result.code == 1
        and "followup: error: " in result.err
        and "Traceback" not in result.err
    )


@pytest.fixture
def ready(workdir, run, monkeypatch):
    monkeypatch.setenv("EDITOR", "true")
    assert run("migrate").code == 0
    assert run("interview", "add", *BASELINE["interview add"]).code == 0
    return run


@pytest.mark.parametrize(("path", "param"), PARAMS, ids=[f"{p}:{q.name}" for p, q in PARAMS])
def test_garbage_in_any_argument_is_refused_in_one_line(ready, path, param):
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,  # the same examples on every run: CI never fails by luck
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(value=GARBAGE)
    def check(value):
        result = ready(*with_value(path, param, value), input="q\n")
        assert answered_well(result), (value, result)

    check()


SETTINGS = sorted(f"FOLLOWUP_{name}" for name in KNOWN_SETTINGS)


@pytest.mark.parametrize("name", SETTINGS)
def test_garbage_in_any_setting_is_refused_in_one_line_naming_it(ready, name, tmp_path):
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,  # the same examples on every run: CI never fails by luck
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(value=GARBAGE.filter(lambda v: "\x00" not in v))
    def check(value):
        env_file = tmp_path / "settings.env"
        env_file.write_text(f"{name}='{value}'\n", encoding="utf-8", errors="surrogateescape")
        # As a real variable too: the two paths into the settings.
        for env in ({name: value}, {"FOLLOWUP_ENV_FILE": str(env_file)}):
            if name == "FOLLOWUP_ENV_FILE" and "FOLLOWUP_ENV_FILE" in env and env[name] != value:
                continue
            result = ready("schedule", env=env)
            assert answered_well(result), (value, result)
            if result.code == 2:
                named = ("FOLLOWUP_", "database", str(env_file))
                assert any(n in result.err for n in named), result.err

    check()
