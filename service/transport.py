"""Transports: the one place that talks SMTP, and the outbox folder used when there is no SMTP.

A message goes out in three calls, so that the caller can do its own work between them: `envelope`
gives MAIL FROM and the recipients (the caller then commits, or calls `abort`: RSET, nothing
delivered), `data` gives DATA, the message and the final ".", and `result` waits for the server's
verdict on the data (meanwhile the caller renders the next message). `send` does all three.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from service.config import SmtpSettings
from service.credentials import CredentialError, mask, smtp_login
from service.errors import FollowupError

log = logging.getLogger(__name__)


#: Phases of setting up a session, before any message is involved.
SESSION_PHASES = ("connect", "ehlo", "starttls", "login")
#: SMTP replies to AUTH that mean the login itself is wrong (RFC 4954 535, 534; 530).
LOGIN_REFUSED = (530, 534, 535)


class DeliveryError(FollowupError):
    """Any failure at the SMTP boundary, with host:port, the phase and the server's reply.

    `kind` says what it means for the message: "transient" (try again later), "permanent" (do
    not retry), "uncertain" (the data went out but no reply came: the server may have it), or
    "setup" (the settings or the server are wrong, not this message: sending pauses until the
    settings change, and the message waits).
    """

    def __init__(
        self,
        address: str,
        phase: str,
        message: str,
        *,
        code: int | None = None,
        kind: str = "transient",
        refused: dict[str, tuple[int, str]] | None = None,
    ):
        self.address, self.phase, self.code, self.kind = address, phase, code, kind
        # A server may repeat what it was sent (`535 ... for password <pw>`): masked here, before
        # the text is shown, logged or stored.
        message = mask(message)
        self.refused = {rcpt: (c, mask(text)) for rcpt, (c, text) in (refused or {}).items()}
        reply = f"{code} {message}" if code else message
        super().__init__(f"SMTP {address} ({phase}): {reply}")
        self.reply = reply

    @property
    def about_the_session(self) -> bool:
        """The failure came before any message was involved: it says nothing about one."""
        return self.phase in SESSION_PHASES or self.phase == "write"


@dataclass
class SendResult:
    """What the server said when it accepted a message."""

    reply: str
    #: Recipients the server refused while accepting the message for the others.
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass
class Outgoing:
    """One message as the transport needs it: envelope, bytes, and a name for the outbox."""

    sender: str
    recipients: list[str]
    data: bytes
    name: str = ""


def _decode(reply: bytes | str) -> str:
    """A server's reply as one line, every known secret masked."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return mask(" ".join(text.split()))


def _classify(code: int | None) -> str:
    if code is not None and 500 <= code < 600:
        return "permanent"
    return "transient"


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS context; smtplib checks nothing without one."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


class _SMTP(smtplib.SMTP):
    pass


class _SMTP_SSL(smtplib.SMTP_SSL):
    pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for many messages."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._conn: smtplib.SMTP | None = None
        #: Messages accepted on this connection: a reused connection may have been closed by
        #: the server since, and is worth one reconnect.
        self._used = 0

    @property
    def address(self) -> str:
        return self.settings.address

    def _error(self, phase: str, exc: BaseException) -> DeliveryError:
        if isinstance(exc, smtplib.SMTPResponseException):
            kind = _classify(exc.smtp_code)
            if exc.smtp_code in LOGIN_REFUSED and phase in ("login", "mail"):
                # A refused login (or none where one is required) is about the settings:
                # retrying it every pass can lock the account.
                kind = "setup"
            elif phase in SESSION_PHASES:
                # A refusal while connecting is about our settings or the server, not this
                # message: it waits (and is retried) rather than failing the message for good.
                kind = "transient"
            return DeliveryError(
                self.address, phase, _decode(exc.smtp_error), code=exc.smtp_code, kind=kind
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                self.address,
                phase,
                f"TLS certificate not trusted ({exc.verify_message}); set FOLLOWUP_SMTP_CA_FILE "
                "if the server uses a private CA",
                kind="setup",
            )
        text = str(exc) or type(exc).__name__
        return DeliveryError(self.address, phase, text)

    def open(self) -> None:
        """Connect, secure and log in; raises DeliveryError naming the step that failed."""
        if self._conn is not None:
            return
        s = self.settings
        phase = "connect"
        conn: smtplib.SMTP | None = None
        try:
            if s.security == "ssl":
                conn = _SMTP_SSL(s.host, s.port, timeout=s.timeout, context=tls_context(s.ca_file))
            else:
                conn = _SMTP(s.host, s.port, timeout=s.timeout)
            phase = "ehlo"
            conn.ehlo()
            if s.security == "starttls":
                phase = "starttls"
                if not conn.has_extn("starttls"):
                    raise DeliveryError(
                        self.address,
                        phase,
                        "the server does not offer STARTTLS; refusing to send in the clear "
                        "(use FOLLOWUP_SMTP_SECURITY=ssl, or none only for a local relay)",
                        kind="setup",
                    )
                conn.starttls(context=tls_context(s.ca_file))
                conn.ehlo()
            if s.username:
                phase = "login"
                smtp_login(conn, s)
        except DeliveryError:
            _quietly_close(conn)
            raise
        except CredentialError as exc:
            # A password or token command that failed is tried again later, like a server that
            # cannot be reached (a keyring may be locked for now).
            _quietly_close(conn)
            kind = "setup" if exc.setup else "transient"
            raise DeliveryError(self.address, phase, str(exc), kind=kind) from None
        except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as exc:
            _quietly_close(conn)
            raise self._error(phase, exc) from None
        self._conn, self._used = conn, 0
        log.debug("connected to %s (%s)", self.address, s.security)

    # --- one message, in three steps ---------------------------------------------------------

    def envelope(self, message: Outgoing) -> dict[str, tuple[int, str]]:
        """Open the connection if needed, then MAIL FROM and RCPT TO. Returns the copies'
        recipients the server refused; nothing is delivered until `data`."""
        self.open()
        conn = self._conn
        assert conn is not None
        options = ["SMTPUTF8"] if not message.data.isascii() and self._smtputf8() else []
        phase = "mail"
        refused: dict[str, tuple[int, str]] = {}
        try:
            conn.putcmd(
                "mail", f"FROM:{smtplib.quoteaddr(message.sender)} {' '.join(options)}".strip()
            )
            code, resp = conn.getreply()
            if code != 250:
                conn.rset()
                raise smtplib.SMTPSenderRefused(code, resp, message.sender)
            phase = "rcpt"
            for n, rcpt in enumerate(message.recipients):
                conn.putcmd("rcpt", f"TO:<{rcpt}>")
                code, resp = conn.getreply()
                if code not in (250, 251):
                    if n == 0:
                        conn.rset()
                        raise DeliveryError(
                            self.address,
                            "rcpt",
                            f"{rcpt} refused: {_decode(resp)}",
                            code=code,
                            kind=_classify(code),
                            refused={rcpt: (code, _decode(resp))},
                        )
                    refused[rcpt] = (code, _decode(resp))
        except DeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            if not isinstance(exc, smtplib.SMTPResponseException):
                self._lost()
            raise self._error(phase, exc) from None
        return refused

    def data(self, message: Outgoing) -> None:
        """DATA, the message and the final "." (without waiting for the verdict on it)."""
        conn = self._conn
        assert conn is not None
        try:
            conn.putcmd("data")
            code, resp = conn.getreply()
            if code != 354:
                raise smtplib.SMTPDataError(code, resp)
            quoted = re.sub(rb"(?m)^\.", b"..", message.data)
            if not quoted.endswith(b"\r\n"):
                quoted += b"\r\n"
            conn.send(quoted + b".\r\n")
        except (smtplib.SMTPException, OSError) as exc:
            if not isinstance(exc, smtplib.SMTPResponseException):
                self._lost()
            raise self._error("data", exc) from None

    def abort(self) -> None:
        """RSET: the transaction `envelope` began ends with nothing delivered."""
        if self._conn is None:
            return
        try:
            self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._lost()  # the next message reconnects; nothing was delivered either way

    def result(self, refused: dict[str, tuple[int, str]] | None = None) -> SendResult:
        """Wait for the server's verdict on the data."""
        conn = self._conn
        assert conn is not None
        try:
            code, resp = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            self._lost()
            raise DeliveryError(
                self.address,
                "after data",
                f"connection lost after the message was sent, before the server replied "
                f"({exc or type(exc).__name__}); it may have been delivered",
                kind="uncertain",
            ) from None
        if code != 250:
            raise DeliveryError(
                self.address, "data", _decode(resp), code=code, kind=_classify(code)
            )
        self._used += 1
        return SendResult(reply=f"{code} {_decode(resp)}", refused=refused or {})

    @property
    def may_reconnect(self) -> bool:
        """Whether a failure before the data is worth one new connection: this one had already
        carried mail, so the server may simply have closed it (some do after each message)."""
        return self._used > 0

    def send(self, message: Outgoing) -> SendResult:
        """Send one message: the three steps at once, with one reconnect if a reused
        connection turns out to be closed before the data went out."""
        for attempt in (1, 2):
            reused = self._conn is not None and self.may_reconnect
            try:
                refused = self.envelope(message)
                self.data(message)
                return self.result(refused)
            except DeliveryError as exc:
                if attempt == 1 and reused and exc.kind == "transient" and self._conn is None:
                    continue
                raise
        raise AssertionError("unreachable")

    # --- the connection ----------------------------------------------------------------------

    def _smtputf8(self) -> bool:
        return bool(self._conn and self._conn.has_extn("smtputf8"))

    def _lost(self) -> None:
        """The connection is no longer usable: forget it (the next message reconnects)."""
        conn, self._conn = self._conn, None
        _quietly_close(conn)

    def close(self, quit: bool = True) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if quit:
            try:
                conn.quit()
                return
            except (smtplib.SMTPException, OSError):
                pass
        _quietly_close(conn)

    def check(self) -> list[str]:
        """Connect, secure and log in without sending; returns what was verified."""
        self.open()
        done = [f"connected to {self.address}"]
        if self.settings.security in ("ssl", "starttls"):
            done.append(f"TLS verified ({self.settings.security})")
        if self.settings.username:
            done.append(f"logged in as {self.settings.username}")
        self.close()
        return done


def _quietly_close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()


class OutboxTransport:
    """Writes each message as an .eml file, atomically, instead of sending it."""

    address = "outbox"
    may_reconnect = False

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(
                "outbox", "write", f"cannot create {self.folder}: {exc.strerror}"
            ) from None

    def envelope(self, message: Outgoing) -> dict[str, tuple[int, str]]:
        self.open()
        return {}

    def data(self, message: Outgoing) -> None:
        self._pending = message

    def abort(self) -> None:
        pass

    def result(self, refused: dict[str, tuple[int, str]] | None = None) -> SendResult:
        message = self._pending
        target = self.folder / f"{message.name}.eml"
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise DeliveryError(
                "outbox", "write", f"cannot write {target}: {exc.strerror}"
            ) from None
        return SendResult(reply=f"written to {target}")

    def send(self, message: Outgoing) -> SendResult:
        self.envelope(message)
        self.data(message)
        return self.result()

    def close(self, quit: bool = True) -> None:
        pass
