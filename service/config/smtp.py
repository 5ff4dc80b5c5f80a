"""How to reach the user's mail server: the FOLLOWUP_SMTP_* settings, checked when read."""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from service.config.login import auth_mechanism, one_secret, token_command
from service.config.values import duration, path, whole
from service.errors import ConfigError, UsageError
from service.validation import check_host, is_file, shown

SECURITY_CHOICES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
#: The send lease when FOLLOWUP_SEND_LEASE is not set (longer if the SMTP timeout asks for it).
DEFAULT_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the user's mail server."""

    host: str
    port: int
    security: str
    username: str | None
    password: str | None = field(repr=False)
    ca_file: Path | None
    timeout: float
    #: "password", or an OAuth2 mechanism ("xoauth2", "oauthbearer") with token_command.
    auth: str = "password"
    #: A command whose first line of output is the password (instead of `password`).
    password_command: str | None = field(default=None, repr=False)
    #: A command that prints an OAuth2 access token.
    token_command: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def load_ca_file(name: str, ca_file: Path | None) -> Path | None:
    """The CA file, after loading it once as sending will: a bad one is a setting error now,
    not a deferral of every message later."""
    if ca_file is None:
        return None
    if not is_file(ca_file):
        raise ConfigError(f"{name}={ca_file} is not accepted: no such file (give a PEM file)")
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(ca_file))
    except (ssl.SSLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc.__class__.__name__
        raise ConfigError(
            f"{name}={ca_file} is not accepted: it holds no usable certificate ({reason}); give "
            "the CA's certificate as a PEM file"
        ) from None
    return ca_file


def smtp_settings(env: Mapping[str, str], base: Path) -> SmtpSettings | None:
    auth = auth_mechanism(env)
    password, password_command = one_secret(
        env, "FOLLOWUP_SMTP_PASSWORD", "FOLLOWUP_SMTP_PASSWORD_COMMAND"
    )
    security = env.get("FOLLOWUP_SMTP_SECURITY", "").strip().lower() or "starttls"
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"FOLLOWUP_SMTP_SECURITY={shown(security)} is not accepted: use starttls, ssl or none"
        )
    raw_host = env.get("FOLLOWUP_SMTP_HOST", "").strip()
    if not raw_host:
        return None
    try:
        host = check_host(raw_host, "FOLLOWUP_SMTP_HOST")
    except UsageError as exc:
        raise ConfigError(str(exc)) from None
    port = whole(env, "FOLLOWUP_SMTP_PORT", DEFAULT_PORTS[security], minimum=1, maximum=65535)
    ca_file = load_ca_file("FOLLOWUP_SMTP_CA_FILE", path(env, "FOLLOWUP_SMTP_CA_FILE", base))
    username = env.get("FOLLOWUP_SMTP_USERNAME", "").strip() or None
    tokens = token_command(env, auth)
    if auth != "password" and not username:
        raise ConfigError(f"FOLLOWUP_SMTP_AUTH={auth} needs FOLLOWUP_SMTP_USERNAME (your address)")
    if auth == "password" and bool(username) != bool(password or password_command):
        raise ConfigError(
            "FOLLOWUP_SMTP_USERNAME and FOLLOWUP_SMTP_PASSWORD (or FOLLOWUP_SMTP_PASSWORD_COMMAND) "
            "go together: set both or neither"
        )
    if username and security == "none" and host not in LOCAL_HOSTS:
        raise ConfigError(
            f"FOLLOWUP_SMTP_SECURITY=none would send your password to {host} unencrypted: "
            "use starttls or ssl (none is only for a relay on this machine)"
        )
    timeout = duration(env, "FOLLOWUP_SMTP_TIMEOUT", "30s", longest=timedelta(minutes=10))
    return SmtpSettings(
        host,
        port,
        security,
        username,
        password if auth == "password" else None,
        ca_file,
        timeout.total_seconds(),
        auth=auth,
        password_command=password_command if auth == "password" else None,
        token_command=tokens,
    )


def send_lease(env: Mapping[str, str], smtp: SmtpSettings | None) -> timedelta:
    """How long a `sending` follow-up may take before it counts as interrupted.

    A send may legitimately take a few SMTP timeouts (connect, DATA, reply): the default grows
    with FOLLOWUP_SMTP_TIMEOUT, and a lease the user set shorter than that is refused.
    """
    floor = timedelta(seconds=3 * smtp.timeout) if smtp is not None else timedelta(0)
    given = env.get("FOLLOWUP_SEND_LEASE", "").strip()
    if not given:
        return max(DEFAULT_LEASE, floor + timedelta(minutes=1))
    lease = duration(env, "FOLLOWUP_SEND_LEASE", "10m", longest=timedelta(days=7))
    if lease < floor:
        raise ConfigError(
            f"FOLLOWUP_SEND_LEASE={shown(given)} is not accepted: it must be at least 3 x "
            f"FOLLOWUP_SMTP_TIMEOUT ({int(floor.total_seconds())}s), or a slow send would be "
            "flagged uncertain while it is still running"
        )
    return lease
