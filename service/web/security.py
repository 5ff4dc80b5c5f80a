"""What keeps the web app the user's own: the password, rate-limited logins, sessions, CSRF
tokens, the Host and Origin checks and the response headers.

Sessions and login attempts live in the server's memory: a restart logs everyone out, which is
the safe way round for a single-user service.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from service.db import Database

SESSION_COOKIE = "followup_session"
#: The CSRF token of a visitor without a session (the page of a digest's approve link).
CSRF_COOKIE = "followup_csrf"
SESSION_LIFETIME = timedelta(hours=12)
#: Failed logins allowed per client address within the window; from this machine (loopback)
#: the window is a minute, so that the owner is never locked out of it for longer.
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOOPBACK_WINDOW = timedelta(minutes=1)
#: Clients remembered before those without a failure in the window are forgotten.
MAX_CLIENTS = 10_000
PASSWORD_SECRET = "login_password"
#: Scrypt cost: about 50 ms a check on a small machine; the rate limit does the rest.
SCRYPT = dict(n=2**14, r=8, p=1, dklen=32)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


# --- the password ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _matches_hash(password: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt_hex, _, digest_hex = rest.partition("$")
    if scheme != "scrypt" or not salt_hex or not digest_hex:
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), **SCRYPT)
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


def new_password() -> str:
    """A password to type (service/passwords.py)."""
    from service.passwords import suggestion

    return suggestion()


def generated_password(db: Database, now: datetime, *, renew: bool = False) -> str | None:
    """Make sure a generated login password exists; returns it when made now (it is shown
    once, and only its hash is kept), None when one was made before."""
    from service.models import WebSecret

    with db.transaction() as session:
        row = session.get(WebSecret, PASSWORD_SECRET)
        if row is not None and not renew:
            return None
        password = new_password()
        if row is None:
            session.add(
                WebSecret(name=PASSWORD_SECRET, value=hash_password(password), created_at=now)
            )
        else:
            row.value, row.created_at = hash_password(password), now
        return password


class Password:
    """Checks a login: FOLLOWUP_WEB_PASSWORD in constant time, else the generated one's hash."""

    def __init__(self, db: Database, configured: str | None):
        self.db = db
        self._configured = hashlib.sha256(configured.encode()).digest() if configured else None

    def check(self, given: str) -> bool:
        if self._configured is not None:
            return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._configured)
        from service.models import WebSecret

        with self.db.reading() as session:
            row = session.get(WebSecret, PASSWORD_SECRET)
        return row is not None and _matches_hash(given, row.value)


def client_key(address: str) -> str:
    """Whom a failed login counts against: the address; for IPv6, its /64 (one machine on the
    internet usually has a whole /64 to pick addresses from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None and not ip.is_loopback:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class Attempts:
    """Failed logins per client, in a sliding window: FAILURE_WINDOW, or LOOPBACK_WINDOW for a
    client on this machine (the owner is never locked out of their own machine for longer).
    There is no cap over all clients: it would lock the owner out along with the attacker."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def wait(self, client: str, now: datetime) -> timedelta | None:
        """How long the client must wait before trying again, or None."""
        window = LOOPBACK_WINDOW if _loopback(client) else FAILURE_WINDOW
        with self._lock:
            mine = self._failures.get(client_key(client))
            while mine and now - mine[0] >= window:
                mine.popleft()
            if mine is not None and len(mine) >= MAX_FAILURES:
                return mine[-MAX_FAILURES] + window - now
            return None

    def failed(self, client: str, now: datetime) -> None:
        with self._lock:
            if len(self._failures) >= MAX_CLIENTS:  # forget the clients of long ago
                self._failures = {
                    k: v for k, v in self._failures.items() if v and now - v[-1] < FAILURE_WINDOW
                }
            self._failures.setdefault(client_key(client), deque()).append(now)


# --- sessions ----------------------------------------------------------------------------------


@dataclass
class Session:
    csrf: str
    expires_at: datetime
    #: Messages for the next page (what the last POST did), as (kind, text).
    flash: list[tuple[str, str]] = field(default_factory=list)


class Sessions:
    """Logged-in browsers: the cookie holds a random token; only its hash is kept here."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()

    def start(self, now: datetime) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(csrf=secrets.token_urlsafe(32), expires_at=now + SESSION_LIFETIME)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[self._key(token)] = session
        return token, session

    def get(self, token: str | None, now: datetime) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(self._key(token))
        if session is None or session.expires_at <= now:
            return None
        return session

    def end(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(self._key(token), None)


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def token_problem(expected: str | None, authorization: str | None) -> str | None:
    """Why an Authorization header does not open the API (FOLLOWUP_API_TOKEN), or None."""
    if expected is None:
        return "the API is off: set FOLLOWUP_API_TOKEN on the server"
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "send the token as `Authorization: Bearer FOLLOWUP_API_TOKEN`"
    if not same_token(given.strip(), expected):
        return "the token is not FOLLOWUP_API_TOKEN"
    return None


# --- Host and Origin ---------------------------------------------------------------------------


def host_name(host_header: str) -> str:
    """The name in a Host header, without the port ("[::1]:8080" -> "::1")."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def same_origin(origin: str, host_header: str) -> bool:
    """Whether an Origin (or a Referer) names this very server, as the browser reached it."""
    try:
        parts = urlsplit(origin)
        netloc = parts.netloc.lower()
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and netloc == host_header.strip().lower()
