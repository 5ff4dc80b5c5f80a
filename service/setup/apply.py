"""From `followup init`'s answers to a settings file: the FOLLOWUP_* values they make, checked
as followup will read them, and the connection check (connect, TLS, login; nothing sent)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings
from service.errors import FollowupError
from service.setup.presets import PRESETS
from service.setup.wizard import Answers

HEADER = """followup's settings, written by `followup init`; readable by you only (mode 0600).
.env.example in followup's source explains every setting; a variable set in the real
environment wins over this file. Run `followup doctor` after changing it."""

COMMENTS = {
    "FOLLOWUP_FROM": "You: the sender of your follow-ups, and where reminders go.",
    "FOLLOWUP_TIMEZONE": "Your time zone (each interview keeps its own).",
    "FOLLOWUP_HOLIDAYS": "Public holidays on which nothing is sent.",
    "FOLLOWUP_LANGUAGE": "The language follow-ups are written in (an interview can name its own).",
    "FOLLOWUP_REVIEW": "on: every email waits for your approval.",
    "FOLLOWUP_SMTP_HOST": "Sending.",
    "FOLLOWUP_SMTP_PASSWORD": "Kept here, readable by you only; a command is safer "
    "(FOLLOWUP_SMTP_PASSWORD_COMMAND).",
    "FOLLOWUP_SMTP_PASSWORD_COMMAND": "Its first line of output is the password.",
    "FOLLOWUP_SMTP_AUTH": "OAuth2, for sending and reading alike.",
    "FOLLOWUP_OAUTH2_TOKEN_COMMAND": "It prints an access token (see the README, OAuth2).",
    "FOLLOWUP_SMTP_CA_FILE": "A certificate to trust besides the system's (for IMAP too).",
    "FOLLOWUP_IMAP_HOST": "Reading replies (read-only; the login is the SMTP one).",
    "FOLLOWUP_IMAP_SENT": "The provider files sent mail itself.",
}


def values_for(a: Answers) -> dict[str, str]:
    """The settings the answers make, in the order they are written."""
    from service.validation import Mailbox

    values = {
        "FOLLOWUP_FROM": str(Mailbox(a.name or "", a.email or "")),
        "FOLLOWUP_TIMEZONE": a.timezone or "UTC",
    }
    if a.holidays:
        values["FOLLOWUP_HOLIDAYS"] = a.holidays
    values["FOLLOWUP_LANGUAGE"] = a.language or "en"
    values["FOLLOWUP_REVIEW"] = "on" if a.review else "off"
    if a.provider == "none":
        return values
    preset = PRESETS.get(a.provider or "")
    security = a.smtp_security or (preset.smtp_security if preset else "starttls")
    values["FOLLOWUP_SMTP_HOST"] = a.smtp_host or (preset.smtp_host if preset else "")
    values["FOLLOWUP_SMTP_SECURITY"] = security
    if a.smtp_port:
        values["FOLLOWUP_SMTP_PORT"] = str(a.smtp_port)
    elif preset:
        values["FOLLOWUP_SMTP_PORT"] = str(preset.smtp_port)
    values["FOLLOWUP_SMTP_USERNAME"] = a.username or a.email or ""
    if a.auth and a.auth != "password":
        values["FOLLOWUP_SMTP_AUTH"] = a.auth
        values["FOLLOWUP_OAUTH2_TOKEN_COMMAND"] = a.token_command or ""
    elif a.password_command:
        values["FOLLOWUP_SMTP_PASSWORD_COMMAND"] = a.password_command
    else:
        values["FOLLOWUP_SMTP_PASSWORD"] = a.password or ""
    if a.ca_file:
        values["FOLLOWUP_SMTP_CA_FILE"] = a.ca_file
    imap_host = a.imap_host if a.imap_host is not None else (preset.imap_host if preset else "")
    if imap_host:
        values["FOLLOWUP_IMAP_HOST"] = imap_host
        values["FOLLOWUP_IMAP_SECURITY"] = a.imap_security or (
            preset.imap_security if preset else "ssl"
        )
        if a.imap_port:
            values["FOLLOWUP_IMAP_PORT"] = str(a.imap_port)
        elif preset:
            values["FOLLOWUP_IMAP_PORT"] = str(preset.imap_port)
        if preset:
            values.update(preset.extra)
    return values


def settings_of(values: dict[str, str], folder: Path) -> Settings:
    """The settings exactly as followup will read them from a file holding only `values`
    (ConfigError, naming the setting, if one is not accepted)."""
    from service.config import load_settings

    with tempfile.TemporaryDirectory() as scratch:
        empty = Path(scratch) / "empty.env"
        empty.write_text("")
        return load_settings(folder, {**values, "FOLLOWUP_ENV_FILE": str(empty)})


@dataclass(frozen=True)
class Result:
    """One connection checked: which, whether it worked, and what was verified or went wrong."""

    name: str
    ok: bool
    detail: str


def check_connections(settings: Settings) -> list[Result]:
    """Connect, secure and log in to the SMTP and IMAP servers; nothing is sent or read."""
    from service.inbox.reader import Mailbox
    from service.transport import SmtpTransport

    results = []
    if settings.smtp is not None:
        try:
            done = SmtpTransport(settings.smtp).check()
            results.append(Result("smtp", True, ", ".join(done)))
        except FollowupError as exc:
            results.append(Result("smtp", False, str(exc)))
    if settings.imap is not None:
        imap = settings.imap
        try:
            with Mailbox(imap):
                tls = ", TLS verified" if imap.security != "none" else ""
                results.append(
                    Result(
                        "imap",
                        True,
                        f"connected to {imap.address}{tls}, logged in as {imap.username}",
                    )  # fmt: skip
                )
        except FollowupError as exc:
            results.append(Result("imap", False, str(exc)))
    return results
