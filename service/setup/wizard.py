"""`followup init`'s questions: what it asks (on a terminal) or takes from flags, the defaults
it suggests, and the settings the answers make."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

import click

from service.errors import UsageError
from service.setup.presets import LABELS, PRESETS, PROVIDERS, Preset

T = TypeVar("T")

AUTH_LABELS = {
    "password": "a password (an app password)",
    "xoauth2": "OAuth2: a command prints an access token (XOAUTH2)",
    "oauthbearer": "OAuth2: a command prints an access token (OAUTHBEARER)",
}


@dataclass
class Answers:
    """Everything `followup init` asks; None: not answered yet (by a flag or a question)."""

    name: str | None = None
    email: str | None = None
    timezone: str | None = None
    #: A country code, or "" for none.
    holidays: str | None = None
    language: str | None = None
    review: bool | None = None
    provider: str | None = None
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str | None = None
    #: "" for no mailbox reading.
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: str | None = None
    ca_file: str | None = None
    username: str | None = None
    auth: str | None = None
    #: Typed at the prompt or read from stdin (never a flag: it would show in `ps`).
    password: str | None = None
    password_command: str | None = None
    token_command: str | None = None

    def given(self) -> set[str]:
        return {f.name for f in fields(self) if getattr(self, f.name) is not None}


# --- checking one answer --------------------------------------------------------------------


def check_name(value: str) -> str:
    from service.validation import clean_line

    return clean_line(value, "your name", max_len=200)


def check_address(value: str) -> str:
    from service.validation import check_email

    return check_email(value.strip(), "your address")


def check_timezone(value: str) -> str:
    from service.validation import check_zone

    return check_zone(value.strip(), "time zone").key


def check_holidays(value: str) -> str:
    from service.config.values import holidays_code
    from service.errors import ConfigError

    if value.strip().lower() in ("", "none", "-"):
        return ""
    try:
        return holidays_code({"FOLLOWUP_HOLIDAYS": value}) or ""
    except ConfigError:
        raise UsageError(
            f"holidays {value!r}: use a country code such as US or DE (DE-BY for a region), or none"
        ) from None


def check_language(value: str) -> str:
    from service.languages import check_language as check

    return check(value, "language")


def check_host(value: str) -> str:
    from service.validation import check_host as check

    return check(value.strip(), "host") if value.strip() else ""


def check_command(value: str) -> str:
    from service.config.login import command
    from service.errors import ConfigError

    try:
        found = command({"X": value}, "X")
    except ConfigError as exc:
        raise UsageError(
            str(exc).replace("X is not accepted", "the command is not accepted")
        ) from None
    if found is None:
        raise UsageError("give a command, e.g. 'pass show mail/work'")
    return found


def check_port(value: str) -> int:
    text = value.strip()
    if not (text.isdigit() and 1 <= int(text) <= 65535):
        raise UsageError(f"port {value!r}: use a number from 1 to 65535")
    return int(text)


def check_ca_file(value: str) -> str:
    """An absolute path (the check reads the settings from another folder)."""
    from service.config.smtp import load_ca_file
    from service.errors import ConfigError
    from service.validation import user_path

    if not value.strip():
        return ""
    path = user_path(value.strip())
    path = path if path.is_absolute() else Path.cwd() / path
    try:
        load_ca_file("the CA file", path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    return str(path)


def suggest_holidays(zone: str) -> str:
    """The country a zone is in, if the holidays package knows it ("DE" for Europe/Berlin)."""
    import holidays
    from babel.core import get_global

    territory = get_global("zone_territories").get(zone, "")
    return territory if territory in holidays.list_supported_countries() else ""


# --- asking -----------------------------------------------------------------------------------


def ask(text: str, check: Callable[[str], T], default: str | None = None, *,
        hide: bool = False) -> T:  # fmt: skip
    """Ask until the answer checks out; the check's error is shown, and the question again."""
    while True:
        raw = click.prompt(text, default=default, hide_input=hide, show_default=default != "")
        try:
            return check(raw)
        except UsageError as exc:
            click.echo(f"  {exc}")


def choose(text: str, options: list[str], labels: dict[str, str], default: str) -> str:
    """A numbered list; the answer is a number or a name."""
    click.echo(text)
    for n, key in enumerate(options, 1):
        click.echo(f"  {n}) {labels[key]}")

    def pick(raw: str) -> str:
        raw = raw.strip().lower()
        if raw.isdigit() and 1 <= int(raw) <= len(options):
            return options[int(raw) - 1]
        if raw in options:
            return raw
        raise UsageError(f"answer a number from 1 to {len(options)}")

    return ask("Choose", pick, str(options.index(default) + 1))


def yes_no(value: str) -> bool:
    answer = value.strip().lower()
    if answer in ("y", "yes", "on"):
        return True
    if answer in ("n", "no", "off"):
        return False
    raise UsageError("answer y or n")


def interactive(a: Answers) -> Answers:
    """Ask on the terminal for everything no flag gave."""
    from service.config.values import default_zone

    click.echo("followup init: a few questions, a check of your mail server (nothing is sent),")
    click.echo("then your settings are written. Press Enter to take the [suggestion].\n")
    if a.name is None:
        a.name = ask("Your name, as recipients see it", check_name)
    if a.email is None:
        a.email = ask("Your email address", check_address)
    if a.timezone is None:
        a.timezone = ask("Your time zone", check_timezone, default_zone())
    if a.holidays is None:
        suggested = suggest_holidays(a.timezone) or "none"
        a.holidays = ask(
            "Public holidays to skip: a country code, or none", check_holidays, suggested
        )
    if a.language is None:
        a.language = ask("The language you write to employers in (en, de, fr, es)",
                         check_language, "en")  # fmt: skip
    if a.review is None:
        a.review = ask("Read and approve every email before it is sent? (y/n)", yes_no, "y")
    if a.provider is None:
        a.provider = choose("Your mail provider:", list(PROVIDERS), LABELS, "gmail")
    if a.provider == "none":
        return a
    preset = PRESETS.get(a.provider)
    if preset is not None:
        describe(preset)
    else:
        ask_servers(a)
    if preset is not None and preset.needs_ca_file and a.ca_file is None:
        a.ca_file = ask("The certificate file Bridge exported (cert.pem)", check_ca_file)
    if a.username is None:
        a.username = ask("Your login", check_name, a.email)
    if a.auth is None:
        choices = list(preset.auth) if preset else ["password", "xoauth2", "oauthbearer"]
        a.auth = choices[0] if len(choices) == 1 else choose(
            "How do you log in?", choices, AUTH_LABELS, choices[0]
        )  # fmt: skip
    ask_secret(a)
    return a


def describe(preset: Preset) -> None:
    click.echo(
        f"\n{preset.label}: sending through {preset.smtp_host}:{preset.smtp_port} "
        f"({preset.smtp_security}), reading replies at {preset.imap_host}:{preset.imap_port} "
        f"({preset.imap_security})."
    )
    click.echo(f"To log in you need {preset.login}.")
    click.echo(f"  {preset.page}")
    for note in preset.notes:
        click.echo(f"Note: {note}")
    click.echo("")


def ask_servers(a: Answers) -> None:
    """The servers of a provider without a preset."""
    from service.config.imap import DEFAULT_PORTS as IMAP_PORTS
    from service.config.smtp import DEFAULT_PORTS as SMTP_PORTS

    def security(choices: tuple[str, ...]) -> Callable[[str], str]:
        def check(v: str) -> str:
            if v.strip().lower() not in choices:
                raise UsageError(f"answer {', '.join(choices)}")
            return v.strip().lower()

        return check

    port = check_port
    if a.smtp_host is None:
        a.smtp_host = ask("SMTP server (sending), e.g. smtp.example.org", check_host)
    if a.smtp_security is None:
        a.smtp_security = ask("Its security: starttls, ssl or none (none: only a relay on this "
                              "machine)", security(("starttls", "ssl", "none")), "starttls")  # fmt: skip
    if a.smtp_port is None:
        a.smtp_port = ask("Its port", port, str(SMTP_PORTS[a.smtp_security]))
    if a.imap_host is None:
        a.imap_host = ask("IMAP server (reading replies), empty for none", check_host, "")
    if a.imap_host:
        if a.imap_security is None:
            a.imap_security = ask("Its security: ssl, starttls or none", security(("ssl", "starttls", "none")), "ssl")  # fmt: skip
        if a.imap_port is None:
            a.imap_port = ask("Its port", port, str(IMAP_PORTS[a.imap_security]))
    if a.ca_file is None:
        a.ca_file = ask("A CA certificate file to trust (PEM), empty for the system's",
                        check_ca_file, "")  # fmt: skip


def ask_secret(a: Answers) -> None:
    """The password (or where it comes from), or the token command."""
    if a.auth != "password":
        if a.token_command is None:
            click.echo("A command that prints an OAuth2 access token, such as `pizauth show work`")
            click.echo("(see the README, OAuth2, for Gmail and Microsoft 365).")
            a.token_command = ask("Token command", check_command)
        return
    if a.password is not None or a.password_command is not None:
        return
    where = choose(
        "Where should the password be kept?",
        ["file", "command"],
        {
            "file": "in the settings file (readable by you only)",
            "command": "in my password manager: a command prints it (pass, secret-tool...)",
        },
        "file",
    )
    if where == "command":
        a.password_command = ask("The command, e.g. pass show mail/work", check_command)
    else:
        a.password = ask("Password (not shown)", _not_empty, hide=True)


def _not_empty(value: str) -> str:
    if not value:
        raise UsageError("the password is empty")
    return value


def complete(a: Answers) -> Answers:
    """Without a terminal: defaults for what no flag gave; a missing must-have is an error."""
    from service.config.values import default_zone

    missing = [flag for flag, value in (("--from", a.email), ("--provider", a.provider))
               if value is None]  # fmt: skip
    if missing:
        raise UsageError(
            f"{' and '.join(missing)} missing: without a terminal every answer comes from a flag "
            "(see `followup init --help`)"
        )
    if not a.name:
        raise UsageError('--from needs your name too: --from "Ada Lovelace <ada@example.org>"')
    a.timezone = a.timezone or check_timezone(default_zone())
    if a.holidays is None:
        a.holidays = suggest_holidays(a.timezone)
    a.language = a.language or "en"
    a.review = True if a.review is None else a.review
    if a.provider == "none":
        return a
    assert a.provider is not None  # a missing --provider was refused above
    preset = PRESETS.get(a.provider)
    if preset is None and not a.smtp_host:
        raise UsageError("--provider other needs --smtp-host (and --imap-host to read replies)")
    a.username = a.username or a.email
    a.auth = a.auth or (preset.auth[0] if preset else "password")
    if a.auth == "password" and a.password is None and a.password_command is None:
        raise UsageError(
            f"--provider {a.provider} logs in with a password: give --password-command (a "
            "command that prints it), or the password on stdin with --password-stdin"
            + (", or --auth xoauth2 with --token-command" if preset and "xoauth2" in preset.auth else "")
        )  # fmt: skip
    if a.auth != "password" and a.token_command is None:
        raise UsageError(f"--auth {a.auth} needs --token-command (a command that prints a token)")
    return a
