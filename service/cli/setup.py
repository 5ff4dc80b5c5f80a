"""`followup init`: set up the settings file, on a terminal by questions or from flags."""

from __future__ import annotations

import sys
from typing import Any

import click

from service.cli.app import App, cli, pass_app

#: service.setup.presets.PROVIDERS (kept here so that `--help` loads nothing more; a test
#: keeps the two in step).
PROVIDERS = ("gmail", "outlook", "icloud", "fastmail", "yahoo", "proton", "other", "none")


def _is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        return False


@cli.command("init")
@click.option("--provider", type=click.Choice(PROVIDERS), help="Your mail provider's preset; "
              "'other': give the servers; 'none': mail goes to the outbox folder.")  # fmt: skip
@click.option("--from", "sender", help='Your name and address: "Ada Lovelace <ada@example.org>".')
@click.option("--timezone", help="Your IANA time zone. Default: the machine's.")
@click.option("--holidays", help="Country (DE, US-CA) whose holidays are skipped, or none. "
              "Default: the country of your time zone.")  # fmt: skip
@click.option("--language", help="The language you write to employers in: en, de, fr, es.")
@click.option("--review", type=click.Choice(["on", "off"]), help="Approve every email "
              "before it goes (default: on).")  # fmt: skip
@click.option("--smtp-host", help="SMTP server (with --provider other).")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP port.")
@click.option("--smtp-security", type=click.Choice(["starttls", "ssl", "none"]))
@click.option("--imap-host", help="IMAP server for replies (with --provider other); '' for none.")
@click.option("--imap-port", type=click.IntRange(1, 65535), help="IMAP port.")
@click.option("--imap-security", type=click.Choice(["ssl", "starttls", "none"]))
@click.option("--ca-file", help="A CA certificate (PEM) to trust besides the system's.")
@click.option("--username", help="Your login. Default: your address.")
@click.option("--auth", type=click.Choice(["password", "xoauth2", "oauthbearer"]),
              help="How to log in. Default: the provider's recommendation.")  # fmt: skip
@click.option("--password-command", help="A command that prints the password, e.g. "
              "'pass show mail/work' (keeps it out of the file).")  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin's first line.")
@click.option("--token-command", help="A command that prints an OAuth2 access token.")
@click.option("--user", "user_file", is_flag=True, help="Write ~/.config/followup/.env instead "
              "of ./.env (for followup installed with pipx).")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace an existing file (a backup is kept).")
@click.option("--yes", is_flag=True, help="Ask nothing: flags and suggestions only.")
@click.option("--no-check", is_flag=True, help="Do not connect to the servers first.")
@pass_app
def init(
    app: App,
    sender: str | None,
    password_stdin: bool,
    user_file: bool,
    force: bool,
    yes: bool,
    no_check: bool,
    **flags: Any,
) -> None:
    """Set up followup: your name, zone, mail provider and login, checked, then written to .env.

    On a terminal it asks; otherwise (or with --yes) every answer comes from a flag, e.g.
    followup init --provider gmail --from "Ada Lovelace <ada@gmail.com>"
    --timezone Europe/Berlin --password-command "pass show mail/gmail" --yes
    """
    from service.setup import flow, wizard

    answers = wizard.Answers()
    for key, value in flags.items():
        if value is not None:
            setattr(answers, key, value)
    checks = {
        "timezone": wizard.check_timezone,
        "holidays": wizard.check_holidays,
        "language": wizard.check_language,
        "smtp_host": wizard.check_host,
        "imap_host": wizard.check_host,
        "ca_file": wizard.check_ca_file,
        "username": wizard.check_name,
        "password_command": wizard.check_command,
        "token_command": wizard.check_command,
    }
    for key, check in checks.items():
        if getattr(answers, key) is not None:
            setattr(answers, key, check(getattr(answers, key)))
    if sender is not None:
        from service.validation import parse_mailbox

        box = parse_mailbox(sender, "--from")
        answers.name, answers.email = box.name or None, box.email
    if flags["review"] is not None:
        answers.review = flags["review"] == "on"
    if password_stdin:
        answers.password = sys.stdin.readline().rstrip("\r\n") or None
        if answers.password is None:
            from service.errors import UsageError

            raise UsageError("--password-stdin: stdin gave no password")
    flow.run_init(
        answers,
        interactive=not yes and _is_terminal(),
        user=user_file,
        force=force,
        check=not no_check,
        now=app.now(),
    )
