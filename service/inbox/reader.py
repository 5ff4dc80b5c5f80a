"""IMAP: the one place that talks to the user's mailbox (through imapclient).

Read-only by construction: folders are opened with EXAMINE (read-only SELECT) and messages are
fetched with BODY.PEEK[], so nothing is marked read; nothing is ever flagged, moved or deleted.
The only write is APPEND of a sent follow-up's copy to the Sent folder.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.config import ImapSettings
from service.errors import FollowupError

if TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)

#: Messages fetched per FETCH command (bounded memory, few round trips).
FETCH_CHUNK = 250
#: How far back a first read, or a read after UIDVALIDITY changed, looks.
RESCAN = timedelta(days=30)


class CommandFailed(FollowupError):
    """The server refused one command (a folder that does not exist, say); the rest goes on."""


class InboxUnavailable(FollowupError):
    """The mailbox cannot be reached, secured or logged into; the caller backs off and retries.

    The message names host:port and the step, never the password.
    """


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS context, trusting FOLLOWUP_SMTP_CA_FILE as well when it is set."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def retry_delay(
    failures: int, tick: timedelta, maximum: timedelta = timedelta(minutes=30)
) -> timedelta:
    """How long to wait before trying an unreachable mailbox again: one tick after the first
    failure, doubling with each further one, never more than `maximum` (a pure function)."""
    if failures <= 0:
        return timedelta(0)
    return min(maximum, tick * 2 ** min(failures - 1, 32))


class Mailbox:
    """One IMAP connection: open it, read folders, append to Sent, close it."""

    def __init__(self, settings: ImapSettings):
        self.settings = settings
        self.client: IMAPClient | None = None
        self.capabilities: frozenset[bytes] = frozenset()

    def _error(self, phase: str, exc: BaseException) -> InboxUnavailable:
        if isinstance(exc, ssl.SSLCertVerificationError):
            text = (
                f"TLS certificate not trusted ({exc.verify_message}); set FOLLOWUP_SMTP_CA_FILE "
                "if the server uses a private CA"
            )
        else:
            text = str(exc) or type(exc).__name__
        from service.credentials import mask

        text = mask(text, self.settings.password)
        return InboxUnavailable(f"IMAP {self.settings.address} ({phase}): {' '.join(text.split())}")

    def open(self) -> Mailbox:
        """Connect, secure the connection and log in; InboxUnavailable names the failed step."""
        import imapclient

        s = self.settings
        phase = "connect"
        try:
            context = tls_context(s.ca_file)
            self.client = imapclient.IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security == "ssl",
                ssl_context=context,
                timeout=s.timeout,
            )
            if s.security == "starttls":
                phase = "starttls"
                self.client.starttls(context)
            phase = "login"
            from service.credentials import imap_login

            imap_login(self.client, s)
            self.capabilities = frozenset(self.client.capabilities())
        except (imapclient.exceptions.IMAPClientError, OSError, ssl.SSLError) as exc:
            self.close()
            raise self._error(phase, exc) from None
        except FollowupError as exc:  # a password or token command that failed
            self.close()
            raise self._error(phase, exc) from None
        return self

    def close(self) -> None:
        if self.client is None:
            return
        try:
            self.client.logout()
        except Exception:  # already gone: nothing left to close politely
            with contextlib.suppress(Exception):
                self.client.shutdown()
        self.client = None

    def __enter__(self) -> Mailbox:
        return self.open()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connected(self) -> IMAPClient:
        if self.client is None:
            raise InboxUnavailable(f"IMAP {self.settings.address}: not connected (open it first)")
        return self.client

    def _call(self, phase: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import imapclient

        try:
            return fn(*args, **kwargs)
        except (imapclient.exceptions.IMAPClientAbortError, OSError, ssl.SSLError) as exc:
            raise self._error(phase, exc) from None
        except imapclient.exceptions.IMAPClientError as exc:
            raise CommandFailed(f"IMAP {self.settings.address} ({phase}): {exc}") from None

    # --- reading -----------------------------------------------------------------------------

    def examine(self, folder: str) -> tuple[int, int | None]:
        """Open a folder read-only; returns (UIDVALIDITY, UIDNEXT or None)."""
        info = self._call("select", self._connected().select_folder, folder, readonly=True)
        uidnext = info.get(b"UIDNEXT")
        return int(info[b"UIDVALIDITY"]), int(uidnext) if uidnext is not None else None

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above last_uid in the open folder (`n:*` also names the last message: filtered)."""
        found = self._call("search", self._connected().search, ["UID", f"{last_uid + 1}:*"])
        return sorted(u for u in found if u > last_uid)

    def uids_since(self, day: date) -> list[int]:
        """UIDs of the messages that arrived on or after day (by the server's internal date)."""
        return sorted(self._call("search", self._connected().search, ["SINCE", day]))

    def fetch(self, uids: list[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, raw bytes) of each message, fetched with BODY.PEEK[] (never marks it read)."""
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            data = self._call("fetch", self._connected().fetch, chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                item = data.get(uid)
                if item is not None and b"BODY[]" in item:
                    yield uid, item[b"BODY[]"]

    def folder_exists(self, folder: str) -> bool:
        return bool(self._call("list", self._connected().folder_exists, folder))

    # --- the Sent folder -----------------------------------------------------------------------

    @property
    def saves_sent_mail(self) -> bool:
        """The provider files mail sent over SMTP in Sent by itself (Gmail: X-GM-EXT-1)."""
        return b"X-GM-EXT-1" in self.capabilities

    def sent_folder(self) -> str | None:
        """The Sent folder: the named one, else RFC 6154's \\Sent (or a usual name); None if off."""
        wanted = self.settings.sent
        if wanted == "off":
            return None
        if wanted != "auto":
            return wanted if self.folder_exists(wanted) else None
        from imapclient.imapclient import SENT

        return self._call("list", self._connected().find_special_folder, SENT)

    def append(self, folder: str, raw: bytes, when: datetime) -> None:
        """APPEND a message to folder, flagged \\Seen (a copy of what was sent)."""
        self._call(
            "append", self._connected().append, folder, raw, flags=[rb"\Seen"], msg_time=when
        )

    def contains(self, folder: str, message_id: str) -> bool:
        """Whether folder holds a message with this Message-ID (SEARCH HEADER, read-only)."""
        self.examine(folder)
        found = self._call("search", self._connected().search, ["HEADER", "Message-ID", message_id])
        return bool(found)
