"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, with switchable behaviour."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self):
        return message_from_bytes(self.data, policy=policy.default)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class Recorder:
    """Accepts, defers, rejects or drops messages; remembers what it accepted."""

    #: "accept" | "defer" (451) | "reject" (554) | "drop" (close after the data, no reply)
    #: | "hangup" (accept, then close the connection, as some servers do after each message)
    mode: str = "accept"
    #: Seconds between keeping a message and saying 250: a slow provider.
    delay: float = 0.0
    #: RCPT replies for particular addresses, e.g. {"x@y": "550 5.1.1 no such user"}
    refuse: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    dropped: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: See hold_data: set when a message's data is in and waits for `release`.
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event | None = None

    def hold_data(self) -> tuple[threading.Event, threading.Event]:
        """From now on a message's data, once in, waits for the reply until the test sets
        `release` (the client waits for its verdict meanwhile). Returns (holding, release):
        wait for `holding`, act, then set `release`; every message after goes straight on."""
        self.holding.clear()
        self.release = threading.Event()
        return self.holding, self.release

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        if self.release is not None and not self.release.is_set():
            import asyncio

            self.holding.set()
            # Waited for off the event loop; the bound only keeps a broken test from hanging.
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        if self.mode == "defer":
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if self.mode == "reject":
            return "554 5.7.1 Message rejected: recipient address no longer exists"
        if self.mode == "drop":
            with self.lock:
                self.dropped.append(item)
            server.transport.abort()
            return "250 OK (never seen by the client)"
        with self.lock:
            self.received.append(item)
            n = len(self.received)
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        if self.mode == "hangup":
            import asyncio

            # Closed as soon as the 250 is written: before the next MAIL FROM can be read.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return f"250 2.0.0 Ok: queued as Q{n}"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [r.message_id for r in self.received]


class Authenticator:
    """Accepts exactly one username and password; with `echo`, its refusal repeats the password
    it was given (`535 ... for password <pw>`), as some servers do."""

    def __init__(self, username: str, password: str, echo: bool = False):
        self.username, self.password, self.echo = username.encode(), password.encode(), echo

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login == self.username and auth_data.password == self.password
        )
        if not ok and self.echo and isinstance(auth_data, LoginPassword):
            given = auth_data.password.decode(errors="replace")
            message = f"535 5.7.8 Authentication failed for password {given}"
            return AuthResult(success=False, handled=False, message=message)
        return AuthResult(success=ok, handled=False)


class MailServer:
    """aiosmtpd on a free loopback port; `env()` gives the matching FOLLOWUP_SMTP_* settings."""

    def __init__(
        self,
        *,
        security: str = "none",
        tls_context: ssl.SSLContext | None = None,
        auth: tuple[str, str] | None = None,
        hostname: str = "127.0.0.1",
        echo: bool = False,
    ):
        self.recorder = Recorder()
        self.security = security
        self.port = free_port()
        self.host = hostname
        kwargs: dict = {}
        if security == "starttls":
            kwargs["tls_context"] = tls_context
        if auth is not None:
            kwargs["authenticator"] = Authenticator(*auth, echo=echo)
            # aiosmtpd only counts STARTTLS as TLS; implicit TLS (ssl) is encrypted from the start.
            kwargs["auth_require_tls"] = security == "starttls"
        self.controller = Controller(
            self.recorder,
            hostname="127.0.0.1",
            port=self.port,
            ssl_context=tls_context if security == "ssl" else None,
            server_hostname="localhost",
            **kwargs,
        )

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            "FOLLOWUP_SMTP_HOST": self.host,
            "FOLLOWUP_SMTP_PORT": str(self.port),
            "FOLLOWUP_SMTP_SECURITY": self.security,
            "FOLLOWUP_SMTP_TIMEOUT": "5s",
        }
        values.update(extra)
        return values

    @property
    def received(self) -> list[Received]:
        return self.recorder.received
