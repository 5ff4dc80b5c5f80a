"""How to reach the user's mailbox (read-only): the FOLLOWUP_IMAP_* settings, checked when read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from service.config.login import auth_mechanism, one_secret, token_command
from service.config.smtp import LOCAL_HOSTS, load_ca_file
from service.config.values import duration, path, whole
from service.errors import ConfigError, UsageError
from service.validation import check_host, shown

SECURITY_CHOICES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}


@dataclass(frozen=True)
class ImapSettings:
    """How to reach the user's mailbox, and which folders to read."""

    host: str
    port: int
    security: str
    username: str
    password: str = field(repr=False)
    #: Folders read for replies, auto-replies and bounces.
    folders: tuple[str, ...]
    #: "auto" (the RFC 6154 \\Sent folder), a folder name, or "off" (no copies, no look-ups).
    sent: str
    ca_file: Path | None
    timeout: float
    #: As for SMTP (FOLLOWUP_SMTP_AUTH): "password", "xoauth2" or "oauthbearer".
    auth: str = "password"
    #: A command whose first line of output is the password (instead of `password`).
    password_command: str | None = field(default=None, repr=False)
    #: A command that prints an OAuth2 access token.
    token_command: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def imap_settings(env: Mapping[str, str], base: Path) -> ImapSettings | None:
    """Check every IMAP setting; None when FOLLOWUP_IMAP_HOST is empty (no inbox reading)."""
    raw_host = env.get("FOLLOWUP_IMAP_HOST", "").strip()
    if not raw_host:
        return None
    try:
        host = check_host(raw_host, "FOLLOWUP_IMAP_HOST")
    except UsageError as exc:
        raise ConfigError(str(exc)) from None
    security = env.get("FOLLOWUP_IMAP_SECURITY", "").strip().lower() or "ssl"
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"FOLLOWUP_IMAP_SECURITY={shown(security)} is not accepted: use ssl, starttls or none"
        )
    if security == "none" and host not in LOCAL_HOSTS:
        raise ConfigError(
            f"FOLLOWUP_IMAP_SECURITY=none would send your password to {host} unencrypted: use "
            "ssl or starttls (none is only for a server on this machine)"
        )
    port = whole(env, "FOLLOWUP_IMAP_PORT", DEFAULT_PORTS[security], minimum=1, maximum=65535)
    username = (
        env.get("FOLLOWUP_IMAP_USERNAME", "").strip()
        or env.get("FOLLOWUP_SMTP_USERNAME", "").strip()
    )
    auth = auth_mechanism(env)
    tokens = token_command(env, auth)
    # The mailbox's own password (or command) first, else the SMTP one.
    password, password_command = one_secret(
        env, "FOLLOWUP_IMAP_PASSWORD", "FOLLOWUP_IMAP_PASSWORD_COMMAND"
    )
    if not (password or password_command):
        password, password_command = one_secret(
            env, "FOLLOWUP_SMTP_PASSWORD", "FOLLOWUP_SMTP_PASSWORD_COMMAND"
        )
    if not username or (auth == "password" and not (password or password_command)):
        raise ConfigError(
            "FOLLOWUP_IMAP_HOST is set but there is no login: set FOLLOWUP_IMAP_USERNAME and "
            "FOLLOWUP_IMAP_PASSWORD or FOLLOWUP_IMAP_PASSWORD_COMMAND (or the SMTP ones, which "
            "are used by default)"
        )
    raw_folders = env.get("FOLLOWUP_IMAP_FOLDERS", "").strip() or "INBOX"
    folders = tuple(f.strip() for f in raw_folders.split(",") if f.strip())
    bad = any(not c.isprintable() for f in folders for c in f)
    if not folders or bad or any(len(f) > 300 for f in folders):
        raise ConfigError(
            f"FOLLOWUP_IMAP_FOLDERS={shown(raw_folders)} is not accepted: give folder names separated "
            "by commas, e.g. 'INBOX' or 'INBOX, Jobs'"
        )
    sent = env.get("FOLLOWUP_IMAP_SENT", "").strip() or "auto"
    if sent.lower() in ("auto", "off"):
        sent = sent.lower()
    elif any(not c.isprintable() for c in sent) or len(sent) > 300:
        raise ConfigError(
            f"FOLLOWUP_IMAP_SENT={shown(sent)} is not accepted: use auto, off or a name"
        )
    ca_file = load_ca_file("FOLLOWUP_SMTP_CA_FILE", path(env, "FOLLOWUP_SMTP_CA_FILE", base))
    timeout = duration(env, "FOLLOWUP_IMAP_TIMEOUT", "30s", longest=timedelta(minutes=10))
    oauth = auth != "password"
    return ImapSettings(
        host,
        port,
        security,
        username,
        "" if oauth else (password or ""),
        folders,
        sent,
        ca_file,
        timeout.total_seconds(),
        auth=auth,
        password_command=None if oauth else password_command,
        token_command=tokens,
    )
