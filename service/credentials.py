"""Credentials: passwords and OAuth2 access tokens, given in the settings or printed by a command
(as msmtp's passwordeval and isync's PassCmd do), used to log in over SMTP and IMAP alike.

Secrets live in memory only. A command's output is never logged or shown, not even when it
fails. A password from a command is kept until the server refuses it; a token until it expires
(its JWT `exp`, else TOKEN_LIFETIME) or the server refuses it, and is then fetched again once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from service.errors import FollowupError

if TYPE_CHECKING:
    import smtplib

    from imapclient import IMAPClient

    from service.config import ImapSettings, SmtpSettings

#: How long an access token whose expiry cannot be read is used before asking again. Token
#: helpers (pizauth, oama, mutt_oauth2.py) refresh it themselves; asking is cheap.
TOKEN_LIFETIME = 600.0
#: A token is fetched again this long before the expiry it names.
EXPIRY_MARGIN = 60.0
#: SASL mechanism names by FOLLOWUP_SMTP_AUTH.
MECHANISMS = {"xoauth2": "XOAUTH2", "oauthbearer": "OAUTHBEARER"}


class CredentialError(FollowupError):
    """A password or token command failed; says how, never what it printed. `setup`: the
    settings cannot work as they are (not worth trying again until they change)."""

    def __init__(self, message: str, *, setup: bool = False):
        super().__init__(message)
        self.setup = setup


def run_secret_command(command: str, setting: str, timeout: float) -> str:
    """The first line `command` prints. It runs with /bin/sh, stdin closed, in a process group
    of its own that is killed whole if it takes longer than `timeout` seconds."""
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise CredentialError(f"{setting} cannot be run: {exc.strerror}") from None
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise CredentialError(
            f"{setting} did not finish within {timeout:g}s and was stopped (does it wait for "
            "input? it runs without a terminal)"
        ) from None
    finally:
        if process.poll() is None:
            _kill_group(process)
    if process.returncode != 0:
        raise CredentialError(
            f"{setting} failed (exit status {process.returncode}); its output is not shown: run "
            "it yourself to see why"
        )
    lines = out.decode("utf-8", "replace").splitlines()
    first = lines[0].strip() if lines else ""
    if not first:
        raise CredentialError(
            f"{setting} printed nothing: it must print the secret on its first line"
        )
    return first


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def token_lifetime(token: str, now: float) -> float:
    """Seconds a token may still be used: until its JWT `exp` (less a margin), when it carries
    one (Microsoft's do), else TOKEN_LIFETIME. `now` is the wall clock (Unix time)."""
    parts = token.split(".")
    if len(parts) == 3:
        try:
            payload = parts[1] + "=" * (-len(parts[1]) % 4)
            expires = float(json.loads(base64.urlsafe_b64decode(payload))["exp"])
        except (ValueError, KeyError, TypeError):
            return TOKEN_LIFETIME
        return max(0.0, min(expires - now - EXPIRY_MARGIN, 24 * 3600.0))
    return TOKEN_LIFETIME


class SecretCache:
    """Secrets printed by commands, by command; each kept until its time is up or forgotten."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[str, float | None]] = {}
        #: Every secret seen in this process, kept (for `mask`) even after it is forgotten.
        self._known: set[str] = set()

    def get(self, command: str, setting: str, timeout: float, *, tokens: bool = False) -> str:
        """The secret `command` prints, from memory while it is still good."""
        with self._lock:
            kept = self._kept.get(command)
            if kept is not None and (kept[1] is None or self.clock() < kept[1]):
                return kept[0]
        secret = run_secret_command(command, setting, timeout)
        until = self.clock() + token_lifetime(secret, time.time()) if tokens else None
        with self._lock:
            self._kept[command] = (secret, until)
            self._known.add(secret)
        return secret

    def remember(self, secret: str | None) -> None:
        """A secret given in the settings: masked like the ones commands print."""
        if secret:
            with self._lock:
                self._known.add(secret)

    def known(self) -> set[str]:
        with self._lock:
            return set(self._known)

    def forget(self, command: str | None) -> None:
        """The server refused it: the next use runs the command again."""
        if command is not None:
            with self._lock:
                self._kept.pop(command, None)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._known.clear()


#: Passwords and tokens of this process, shared by SMTP and IMAP (one token command serves both).
passwords = SecretCache()
tokens = SecretCache()


def password_of(password: str | None, command: str | None, setting: str, timeout: float) -> str:
    """The password given in the settings, or the one its command prints."""
    if command is None:
        passwords.remember(password)
        return password or ""
    return passwords.get(command, setting, timeout)


#: Shorter secrets are not masked: replacing "ab" everywhere would garble the text, not hide it.
MASK_MIN_LENGTH = 4


def mask(text: str, *secrets: str | None) -> str:
    """The text with every secret replaced by ****: `secrets` (those of the settings) and every
    password or token this process used or a command printed. The one mask for any text that
    comes from a mail server (SMTP and IMAP) or may echo a setting."""
    known = {s for s in secrets if s} | passwords.known() | tokens.known()
    for secret in sorted((s for s in known if len(s) >= MASK_MIN_LENGTH), key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def sasl_string(mechanism: str, username: str, token: str) -> str:
    """The initial client response of XOAUTH2 (Google's and Microsoft's) or OAUTHBEARER (RFC
    7628), before base64."""
    if mechanism == "xoauth2":
        return f"user={username}\x01auth=Bearer {token}\x01\x01"
    authzid = username.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01auth=Bearer {token}\x01\x01"


TOKEN_SETTING = "FOLLOWUP_OAUTH2_TOKEN_COMMAND"


def with_token(
    command: str, timeout: float, login: Callable[[str], None], refused: type[BaseException]
) -> None:
    """Log in with the cached token; if the server refuses it (`refused` is raised), forget it,
    fetch a fresh one and try once more."""
    for attempt in (1, 2):
        token = tokens.get(command, TOKEN_SETTING, timeout, tokens=True)
        try:
            login(token)
            return
        except refused:
            tokens.forget(command)
            if attempt == 2:
                raise


def smtp_login(conn: smtplib.SMTP, settings: SmtpSettings) -> None:
    """AUTH on an open smtplib connection, as the SMTP settings say."""
    import smtplib

    s = settings
    username = s.username
    if not username:  # the caller logs in only when one is set
        raise CredentialError(
            "FOLLOWUP_SMTP_USERNAME is not set: there is no one to log in as", setup=True
        )
    if s.auth == "password":
        setting = "FOLLOWUP_SMTP_PASSWORD_COMMAND"
        secret = password_of(s.password, s.password_command, setting, s.timeout)
        try:
            conn.login(username, secret)
        except smtplib.SMTPAuthenticationError:
            passwords.forget(s.password_command)
            raise
        return
    mechanism = MECHANISMS[s.auth]
    offered = conn.esmtp_features.get("auth", "").upper().split()
    if conn.has_extn("auth") and mechanism not in offered:
        raise CredentialError(
            f"the server does not offer AUTH {mechanism} (it offers {', '.join(offered) or 'none'})"
            ": check FOLLOWUP_SMTP_AUTH",
            setup=True,
        )

    def login(token: str) -> None:
        initial = sasl_string(s.auth, username, token)
        # After a refused token the server sends an error challenge; the answer is empty.
        conn.auth(mechanism, lambda challenge=None: initial if challenge is None else "")

    with_token(_token_command(s), s.timeout, login, smtplib.SMTPAuthenticationError)


def imap_login(client: IMAPClient, settings: ImapSettings) -> None:
    """LOGIN or AUTHENTICATE on an open imapclient connection, as the IMAP settings say."""
    import imapclient

    s = settings
    if s.auth == "password":
        setting = "FOLLOWUP_IMAP_PASSWORD_COMMAND (or FOLLOWUP_SMTP_PASSWORD_COMMAND)"
        secret = password_of(s.password, s.password_command, setting, s.timeout)
        try:
            client.login(s.username, secret)
        except imapclient.exceptions.LoginError:
            passwords.forget(s.password_command)
            raise
        return

    def login(token: str) -> None:
        if s.auth == "xoauth2":
            client.oauth2_login(s.username, token)
        else:
            client.oauthbearer_login(s.username, token)

    with_token(_token_command(s), s.timeout, login, imapclient.exceptions.LoginError)


def _token_command(settings: SmtpSettings | ImapSettings) -> str:
    if settings.token_command is None:  # the settings refuse an OAuth2 mechanism without one
        raise CredentialError(f"{TOKEN_SETTING} is not set: it is needed for OAuth2", setup=True)
    return settings.token_command


def describe_login(settings: SmtpSettings | ImapSettings) -> str:
    """How the SMTP or IMAP settings log in, in words, without the secret."""
    if settings.auth != "password":
        how = f"OAuth2 {MECHANISMS[settings.auth]} token from {TOKEN_SETTING}"
    elif settings.password_command:
        how = "password from its command"
    else:
        how = "password ****"
    return f"user {settings.username}, {how}"
