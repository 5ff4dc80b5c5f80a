"""How to log in to the mail servers: the auth mechanism and the commands that print a password
or an OAuth2 access token, checked when read (never run: that happens when connecting)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from service.errors import ConfigError
from service.validation import shown

#: FOLLOWUP_SMTP_AUTH: a password (LOGIN/PLAIN), or an OAuth2 access token by SASL XOAUTH2 or
#: OAUTHBEARER (RFC 7628). The same mechanism logs in to IMAP.
AUTH_CHOICES = ("password", "xoauth2", "oauthbearer")
#: A command longer than this is a mistake (a pasted file), not a command.
MAX_COMMAND = 2000


def auth_mechanism(env: Mapping[str, str]) -> str:
    raw = env.get("FOLLOWUP_SMTP_AUTH", "").strip().lower() or "password"
    if raw not in AUTH_CHOICES:
        raise ConfigError(
            f"FOLLOWUP_SMTP_AUTH={shown(raw)} is not accepted: use password, xoauth2 or oauthbearer"
        )
    return raw


def command(env: Mapping[str, str], name: str) -> str | None:
    """A shell command from a setting, or None. Its text is never shown in errors: a careless
    one may hold the secret itself (`echo hunter2`)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if len(raw) > MAX_COMMAND or any(not c.isprintable() for c in raw):
        raise ConfigError(
            f"{name} is not accepted: give one command line (at most {MAX_COMMAND} characters, "
            "no control characters), e.g. 'pass show mail/work'"
        )
    try:
        shlex.split(raw)
    except ValueError:
        raise ConfigError(
            f"{name} is not accepted: its quotes are not balanced (it runs with /bin/sh)"
        ) from None
    return raw


def token_command(env: Mapping[str, str], auth: str) -> str | None:
    """FOLLOWUP_OAUTH2_TOKEN_COMMAND, required with an OAuth2 mechanism."""
    found = command(env, "FOLLOWUP_OAUTH2_TOKEN_COMMAND")
    if auth != "password" and found is None:
        raise ConfigError(
            f"FOLLOWUP_SMTP_AUTH={auth} needs FOLLOWUP_OAUTH2_TOKEN_COMMAND: a command that prints "
            "an access token, e.g. 'pizauth show work' (see the README, OAuth2)"
        )
    return found


def one_secret(
    env: Mapping[str, str], password_name: str, command_name: str
) -> tuple[str | None, str | None]:
    """(password, password command) from a pair of settings; both at once is refused."""
    password = env.get(password_name, "") or None
    found = command(env, command_name)
    if password and found:
        raise ConfigError(
            f"{password_name} and {command_name} are both set: keep one (the command keeps the "
            "password out of the file)"
        )
    return password, found
