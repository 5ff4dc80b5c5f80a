"""IMAP settings: the FOLLOWUP_IMAP_HOST family, read from the environment config.py reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from service.config import LOCAL_HOSTS, _duration, _int, _path, read_environment
from service.errors import ConfigError

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
    #: "auto" (the RFC 6154 \Sent folder), a folder name, or "off" (no copies, no look-ups).
    sent: str
    ca_file: Path | None
    timeout: float

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def parse_imap_settings(env: Mapping[str, str], workdir: Path) -> ImapSettings | None:
    """Check every IMAP setting; None when FOLLOWUP_IMAP_HOST is empty (no inbox)."""
    host = env.get("FOLLOWUP_IMAP_HOST", "").strip()
    if not host:
        return None
    if any(c in host for c in " /\r\n"):
        raise ConfigError(f"FOLLOWUP_IMAP_HOST={host!r} is not accepted: give a host name")
    security = env.get("FOLLOWUP_IMAP_SECURITY", "").strip().lower() or "ssl"
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"FOLLOWUP_IMAP_SECURITY={security!r} is not accepted: use ssl, starttls or none"
        )
    if security == "none" and host not in LOCAL_HOSTS:
        raise ConfigError(
            f"FOLLOWUP_IMAP_SECURITY=none would send your password to {host} unencrypted: use "
            "ssl or starttls (none is only for a server on this machine)"
        )
    port = _int(env, "FOLLOWUP_IMAP_PORT", DEFAULT_PORTS[security], minimum=1)
    if port > 65535:
        raise ConfigError(f"FOLLOWUP_IMAP_PORT={port} is not accepted: use a port from 1 to 65535")
    username = (
        env.get("FOLLOWUP_IMAP_USERNAME", "").strip()
        or env.get("FOLLOWUP_SMTP_USERNAME", "").strip()
    )
    password = env.get("FOLLOWUP_IMAP_PASSWORD", "") or env.get("FOLLOWUP_SMTP_PASSWORD", "")
    if not username or not password:
        raise ConfigError(
            "FOLLOWUP_IMAP_HOST is set but there is no login: set FOLLOWUP_IMAP_USERNAME and "
            "FOLLOWUP_IMAP_PASSWORD (or the SMTP ones, which are used by default)"
        )
    raw_folders = env.get("FOLLOWUP_IMAP_FOLDERS", "").strip() or "INBOX"
    folders = tuple(f.strip() for f in raw_folders.split(",") if f.strip())
    if not folders or any(c in f for f in folders for c in "\r\n\0"):
        raise ConfigError(
            f"FOLLOWUP_IMAP_FOLDERS={raw_folders!r} is not accepted: give folder names separated "
            "by commas, e.g. 'INBOX' or 'INBOX, Jobs'"
        )
    sent = env.get("FOLLOWUP_IMAP_SENT", "").strip() or "auto"
    if sent.lower() in ("auto", "off"):
        sent = sent.lower()
    elif any(c in sent for c in "\r\n\0"):
        raise ConfigError(f"FOLLOWUP_IMAP_SENT={sent!r} is not accepted: use auto, off or a name")
    ca_file = _path(env, "FOLLOWUP_SMTP_CA_FILE", workdir)
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(
            f"FOLLOWUP_SMTP_CA_FILE={ca_file} is not accepted: no such file (give a PEM file)"
        )
    timeout = _duration(env, "FOLLOWUP_IMAP_TIMEOUT", "30s").total_seconds()
    return ImapSettings(host, port, security, username, password, folders, sent, ca_file, timeout)


def load_imap_settings(
    workdir: Path | None = None, environ: Mapping[str, str] | None = None
) -> ImapSettings | None:
    """The IMAP settings of `.env` in workdir and the real environment (which wins)."""
    workdir = (workdir or Path.cwd()).resolve()
    return parse_imap_settings(read_environment(workdir, environ), workdir)


def imap_of(settings) -> ImapSettings | None:
    """The IMAP settings belonging to a loaded `Settings`.

    Until config.py carries them (`settings.imap`), they are read from the same environment.
    """
    if hasattr(settings, "imap"):
        return settings.imap
    return load_imap_settings(settings.workdir)
