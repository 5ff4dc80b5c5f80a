"""Transports: the one place that talks SMTP, and the outbox folder used when there is no SMTP."""

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
from service.errors import FollowupError

log = logging.getLogger(__name__)


#: Phases of setting up a session, before any message is involved.
SESSION_PHASES = ("connect", "ehlo", "starttls", "login")


class DeliveryError(FollowupError):
    """Any failure at the SMTP boundary, with host:port, the phase and the server's reply.

    `kind` says what it means for the message: "transient" (try again later), "permanent"
    (do not retry) or "uncertain" (the data went out but no reply came: the server may have it).
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
        self.refused = refused or {}
        reply = f"{code} {message}" if code else message
        super().__init__(f"SMTP {address} ({phase}): {reply}")
        self.reply = reply


@dataclass
class SendResult:
    """What the server said when it accepted a message."""

    reply: str
    #: Recipients the server refused while accepting the message for the others.
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)


def _decode(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


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
    """smtplib.SMTP that tells "lost before the data went out" from "lost after"."""

    data_sent = False

    def data(self, msg: bytes):  # noqa: D401 - mirrors smtplib.SMTP.data
        self.data_sent = False
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        quoted = re.sub(rb"(?m)^\.", b"..", msg)
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        self.send(quoted + b".\r\n")
        self.data_sent = True
        return self.getreply()


class _SMTP_SSL(smtplib.SMTP_SSL, _SMTP):
    pass


class SmtpTransport:
    """One SMTP connection, opened on first use and reused for a batch."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self._conn: _SMTP | None = None

    @property
    def address(self) -> str:
        return self.settings.address

    def _error(self, phase: str, exc: BaseException) -> DeliveryError:
        if isinstance(exc, smtplib.SMTPResponseException):
            # A refusal while connecting or logging in is about our settings, not this message:
            # it waits (and is retried) rather than failing the message for good.
            kind = "transient" if phase in SESSION_PHASES else _classify(exc.smtp_code)
            return DeliveryError(
                self.address, phase, _decode(exc.smtp_error), code=exc.smtp_code, kind=kind
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return DeliveryError(
                self.address,
                phase,
                f"TLS certificate not trusted ({exc.verify_message}); set FOLLOWUP_SMTP_CA_FILE "
                "if the server uses a private CA",
            )
        text = str(exc) or type(exc).__name__
        return DeliveryError(self.address, phase, text)

    def open(self) -> None:
        """Connect, secure and log in; raises DeliveryError naming the step that failed."""
        if self._conn is not None:
            return
        s = self.settings
        phase = "connect"
        conn: _SMTP | None = None
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
                    )
                conn.starttls(context=tls_context(s.ca_file))
                conn.ehlo()
            if s.username:
                phase = "login"
                conn.login(s.username, s.password or "")
        except DeliveryError:
            _quietly_close(conn)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            _quietly_close(conn)
            raise self._error(phase, exc) from None
        self._conn = conn
        log.debug("connected to %s (%s)", self.address, s.security)

    def send(
        self, sender: str, recipients: list[str], data: bytes, *, name: str = ""
    ) -> SendResult:
        """Send one message; the first recipient is the addressee, any others are copies."""
        self.open()
        conn = self._conn
        assert conn is not None
        phase = "mail"
        refused: dict[str, tuple[int, str]] = {}
        try:
            options = ["SMTPUTF8"] if not data.isascii() and conn.has_extn("smtputf8") else []
            code, resp = conn.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, resp, sender)
            phase = "rcpt"
            for n, rcpt in enumerate(recipients):
                code, resp = conn.rcpt(rcpt)
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
            phase = "data"
            code, resp = conn.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, resp)
            return SendResult(reply=f"{code} {_decode(resp)}", refused=refused)
        except DeliveryError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            after_data = phase == "data" and conn.data_sent
            self.close(quit=False)
            if after_data and not isinstance(exc, smtplib.SMTPResponseException):
                raise DeliveryError(
                    self.address,
                    "after data",
                    f"connection lost after the message was sent, before the server replied "
                    f"({exc or type(exc).__name__}); it may have been delivered",
                    kind="uncertain",
                ) from None
            raise self._error(phase, exc) from None

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

    def __init__(self, folder: Path):
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(
                "outbox", "write", f"cannot create {self.folder}: {exc.strerror}"
            ) from None

    def send(
        self, sender: str, recipients: list[str], data: bytes, *, name: str = ""
    ) -> SendResult:
        self.open()
        target = self.folder / f"{name}.eml"
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise DeliveryError(
                "outbox", "write", f"cannot write {target}: {exc.strerror}"
            ) from None
        return SendResult(reply=f"written to {target}")

    def close(self, quit: bool = True) -> None:
        pass
