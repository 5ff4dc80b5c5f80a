"""`followup init`: a new user answers a few questions (or a script gives flags), the mail server
is checked, and a .env readable by the user only is written; an existing one is never replaced
without --force, and then it is kept as a backup."""

from __future__ import annotations

import io
import os
import stat
import sys
from pathlib import Path

import pexpect
import pytest
from dotenv import dotenv_values
from mailserver import MailServer

from service.config import load_settings

SECRET = "app-pass'word$1"
ME = "Ada Candidate <ada@candidate.example>"


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """An empty folder to run init in (no .env yet)."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def smtp_with_login():
    server = MailServer(auth=("ada@candidate.example", SECRET)).start()
    yield server
    server.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def local_server_flags(server) -> list[str]:
    return [
        "--provider", "other", "--smtp-host", "127.0.0.1", "--smtp-port", str(server.port),
        "--smtp-security", "none", "--from", ME, "--timezone", "Europe/Berlin",
    ]  # fmt: skip


# --- without a terminal: every answer from a flag ------------------------------------------------


def test_a_preset_from_flags_writes_a_private_env_that_followup_reads(here, run):
    result = run(
        "init", "--provider", "gmail", "--from", "Ada Lovelace <ada@gmail.com>",
        "--timezone", "Europe/Berlin", "--password-command", "pass show mail/gmail",
        "--yes", "--no-check",
    )  # fmt: skip
    assert result.code == 0, result.err
    env_file = here / ".env"
    assert mode(env_file) == 0o600
    values = dotenv_values(env_file)
    assert values["FOLLOWUP_SMTP_HOST"] == "smtp.gmail.com"
    assert values["FOLLOWUP_SMTP_PASSWORD_COMMAND"] == "pass show mail/gmail"
    assert "FOLLOWUP_SMTP_PASSWORD" not in values
    settings = load_settings(here, environ={})
    assert settings.env_file == env_file
    assert str(settings.sender) == "Ada Lovelace <ada@gmail.com>"
    assert settings.holidays == "DE"  # suggested from the zone
    assert settings.review and settings.language == "en"
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == (
        "smtp.gmail.com", 587, "starttls",
    )  # fmt: skip
    assert (settings.imap.host, settings.imap.port, settings.imap.security) == (
        "imap.gmail.com", 993, "ssl",
    )  # fmt: skip
    assert settings.imap.password_command == "pass show mail/gmail"


def test_outlook_logs_in_with_oauth2_and_keeps_sent_mail_to_exchange(here, run):
    result = run(
        "init", "--provider", "outlook", "--from", "Ada Lovelace <ada@outlook.com>",
        "--token-command", "pizauth show outlook", "--yes", "--no-check",
    )  # fmt: skip
    assert result.code == 0, result.err
    settings = load_settings(here, environ={})
    assert settings.smtp.auth == settings.imap.auth == "xoauth2"
    assert settings.smtp.token_command == "pizauth show outlook"
    assert settings.imap.sent == "off"


def test_a_login_without_a_secret_is_refused_before_anything_is_written(here, run):
    result = run("init", "--provider", "gmail", "--from", "Ada Lovelace <ada@gmail.com>", "--yes")
    assert result.code == 2
    assert "--password-command" in result.err and result.err.count("\n") == 1
    assert not (here / ".env").exists()


def test_the_connection_is_checked_with_the_password_from_stdin(here, run, smtp_with_login):
    flags = local_server_flags(smtp_with_login)
    result = run("init", *flags, "--password-stdin", "--yes", input=SECRET + "\n")
    assert result.code == 0, result.err
    assert "ok   smtp: connected to 127.0.0.1" in result.out
    assert "logged in as ada@candidate.example" in result.out
    assert SECRET not in result.out + result.err
    assert dotenv_values(here / ".env")["FOLLOWUP_SMTP_PASSWORD"] == SECRET
    assert mode(here / ".env") == 0o600
    assert smtp_with_login.received == []  # nothing was sent
    doctor = run("doctor")
    assert "ok    smtp: 127.0.0.1" in doctor.out and "settings file" not in doctor.out


def test_a_failed_check_writes_nothing(here, run, smtp_with_login):
    flags = local_server_flags(smtp_with_login)
    result = run("init", *flags, "--password-stdin", "--yes", input="wrong\n")
    assert result.code == 1
    assert "FAIL smtp" in result.out and "535 5.7.8" in result.out
    assert "nothing was written" in result.err
    assert not (here / ".env").exists()


def test_an_existing_env_is_kept_without_force_and_backed_up_with_it(here, run, clock):
    old = "FOLLOWUP_FROM='Old Me <old@candidate.example>'\nFOLLOWUP_SMTP_PASSWORD='old'\n"
    (here / ".env").write_text(old)
    os.chmod(here / ".env", 0o600)
    args = ("init", "--provider", "none", "--from", ME, "--yes")
    refused = run(*args)
    assert refused.code == 2 and "already exists" in refused.err and "--force" in refused.err
    assert (here / ".env").read_text() == old
    replaced = run(*args, "--force")
    assert replaced.code == 0, replaced.err
    backups = list(here.glob(".env.backup-*"))
    assert [b.name for b in backups] == [f".env.backup-{clock():%Y%m%d-%H%M%S}"]
    assert backups[0].read_text() == old and mode(backups[0]) == 0o600
    assert dotenv_values(here / ".env")["FOLLOWUP_FROM"] == ME
    assert mode(here / ".env") == 0o600
    assert f"kept in {backups[0]}" in replaced.out
    # Outbox mode: no server at all, and followup works with it.
    assert load_settings(here, environ={}).smtp is None


def test_user_writes_the_users_own_settings_file(here, run):
    from service.config import user_env_file

    result = run("init", "--provider", "none", "--from", ME, "--user", "--yes")
    assert result.code == 0, result.err
    assert not (here / ".env").exists()
    assert mode(user_env_file()) == 0o600
    assert dotenv_values(user_env_file())["FOLLOWUP_FROM"] == ME


def test_the_cli_offers_exactly_the_presets():
    from service.cli.setup import PROVIDERS as offered
    from service.setup.presets import PROVIDERS

    assert offered == PROVIDERS


# --- on a terminal: questions ---------------------------------------------------------------------


def spawn(folder: Path, *args: str) -> tuple[pexpect.spawn, io.StringIO]:
    env = {**os.environ, "TZ": "America/New_York", "LC_ALL": "C.UTF-8", "COLUMNS": "200"}
    transcript = io.StringIO()
    child = pexpect.spawn(
        sys.executable, ["-m", "service", "init", *args], cwd=str(folder), env=env,
        encoding="utf-8", timeout=30,
    )  # fmt: skip
    child.logfile_read = transcript
    return child, transcript


def answer(child: pexpect.spawn, prompt: str, reply: str) -> None:
    child.expect_exact(prompt)
    child.sendline(reply)


def test_a_preset_chosen_at_the_terminal(here):
    child, transcript = spawn(here, "--no-check")
    answer(child, "Your name, as recipients see it: ", "Åsa Öberg")
    answer(child, "Your email address: ", "not an address")
    answer(child, "Your email address: ", "asa@gmail.com")  # asked again, with the reason
    answer(child, "Your time zone [America/New_York]: ", "Mars/Olympus")
    answer(child, "Your time zone [America/New_York]: ", "Europe/Berlin")
    answer(child, "or none [DE]: ", "")
    answer(child, "(en, de, fr, es) [en]: ", "de")
    answer(child, "before it is sent? (y/n) [y]: ", "n")
    answer(child, "Choose [1]: ", "1")  # Gmail
    child.expect_exact("https://myaccount.google.com/apppasswords")
    answer(child, "Your login [asa@gmail.com]: ", "")
    answer(child, "Choose [1]: ", "1")  # an app password
    answer(child, "Choose [1]: ", "2")  # kept by a command
    answer(child, "pass show mail/work: ", "pass show mail/gmail")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, transcript.getvalue()
    text = transcript.getvalue()
    assert "An email address must have an @-sign" in text
    assert "'Mars/Olympus' is not a known IANA time zone" in text
    settings = load_settings(here, environ={})
    assert str(settings.sender) == "Åsa Öberg <asa@gmail.com>"
    assert settings.timezone.key == "Europe/Berlin" and settings.holidays == "DE"
    assert settings.language == "de" and settings.review is False
    assert settings.smtp.host == "smtp.gmail.com" and settings.imap.host == "imap.gmail.com"
    assert settings.smtp.password_command == "pass show mail/gmail"
    assert mode(here / ".env") == 0o600


def test_another_provider_at_the_terminal_is_checked_before_it_is_written(here, smtp_with_login):
    child, transcript = spawn(here)
    answer(child, "Your name, as recipients see it: ", "Ada Candidate")
    answer(child, "Your email address: ", "ada@candidate.example")
    answer(child, "Your time zone [America/New_York]: ", "")
    answer(child, "or none [US]: ", "none")
    answer(child, "[en]: ", "")
    answer(child, "(y/n) [y]: ", "")
    answer(child, "Choose [1]: ", "7")  # another provider
    answer(child, "e.g. smtp.example.org: ", "127.0.0.1")
    answer(child, "[starttls]: ", "none")
    answer(child, "Its port [25]: ", str(smtp_with_login.port))
    answer(child, "empty for none: ", "")
    answer(child, "empty for the system's: ", "")
    answer(child, "Your login [ada@candidate.example]: ", "")
    answer(child, "Choose [1]: ", "1")  # a password
    answer(child, "Choose [1]: ", "1")  # in the file
    answer(child, "Password (not shown): ", SECRET)
    child.expect(pexpect.EOF)
    child.close()
    text = transcript.getvalue()
    assert child.exitstatus == 0, text
    assert "ok   smtp: connected to 127.0.0.1" in text and "Wrote" in text
    assert SECRET not in text  # never echoed
    values = dotenv_values(here / ".env")
    assert values["FOLLOWUP_SMTP_PASSWORD"] == SECRET
    assert values["FOLLOWUP_SMTP_SECURITY"] == "none" and "FOLLOWUP_IMAP_HOST" not in values
    assert "FOLLOWUP_HOLIDAYS" not in values and values["FOLLOWUP_TIMEZONE"] == "America/New_York"
    assert mode(here / ".env") == 0o600
    assert smtp_with_login.received == []


# --- where the settings file cannot be written ----------------------------------------------------


def test_a_config_folder_that_cannot_be_made_is_one_line_and_nothing_is_written(
    here, run, monkeypatch, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the config folder should be\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(blocker))
    result = run("init", "--provider", "none", "--from", ME, "--user", "--yes")
    assert result.code == 2 and result.err.count("\n") == 1
    assert f"cannot create the folder {blocker / 'followup'}: Not a directory" in result.err
    assert blocker.read_text() == "a file where the config folder should be\n"


def test_an_env_that_is_a_folder_is_neither_replaced_nor_a_crash(here, run):
    """Docker makes a folder where a bind-mounted .env did not exist yet."""
    (here / ".env").mkdir()
    args = ("init", "--provider", "none", "--from", ME, "--yes")
    kept = run(*args)
    assert kept.code == 2 and "already exists" in kept.err
    forced = run(*args, "--force")
    assert forced.code == 2 and forced.err.count("\n") == 1
    assert f"cannot read {here / '.env'} to back it up: Is a directory" in forced.err
    assert (here / ".env").is_dir() and list(here.iterdir()) == [here / ".env"]


@pytest.fixture
def immutable(here):
    """Make a path unwritable even for root (the tests may run as root): chattr +i."""
    import subprocess

    made: list[Path] = []

    def _immutable(path: Path) -> None:
        subprocess.run(["chattr", "+i", str(path)], check=True)
        made.append(path)

    yield _immutable
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_folder_that_cannot_be_written_is_one_line_and_leaves_the_old_env(here, run, immutable):
    immutable(here)
    fresh = run("init", "--provider", "none", "--from", ME, "--yes")
    assert fresh.code == 1 and fresh.err.count("\n") == 1
    assert f"cannot write in {here}: Operation not permitted" in fresh.err
    assert list(here.iterdir()) == []


def test_an_env_that_cannot_be_backed_up_is_not_replaced(here, run, immutable):
    old = "FOLLOWUP_FROM='Old Me <old@candidate.example>'\n"
    (here / ".env").write_text(old)
    immutable(here)
    result = run("init", "--provider", "none", "--from", ME, "--yes", "--force")
    assert result.code == 1 and result.err.count("\n") == 1
    assert f"cannot back up {here / '.env'} to" in result.err
    assert (here / ".env").read_text() == old and list(here.iterdir()) == [here / ".env"]


def test_a_password_that_env_would_read_back_otherwise_is_refused_before_writing(
    here, run, smtp_with_login
):
    """python-dotenv expands ${NAME} even in quotes: such a password would be read back changed."""
    flags = local_server_flags(smtp_with_login)
    result = run("init", *flags, "--password-stdin", "--yes", "--no-check", input="pa${x}ss\n")
    assert result.code == 2 and result.err.count("\n") == 1
    assert "FOLLOWUP_SMTP_PASSWORD cannot be written to .env as given" in result.err
    assert "(.env expands ${NAME} in a value)" in result.err
    assert "pa${x}ss" not in result.err
    assert not (here / ".env").exists()
