"""The web app's settings (FOLLOWUP_WEB_*, FOLLOWUP_API_TOKEN): where it listens, who may log
in, which Host names it answers to, and the address digest links point at."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from service.config.values import whole
from service.errors import ConfigError, UsageError
from service.validation import check_host, shown

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Shorter secrets are guessable: refused rather than trusted.
MIN_PASSWORD = 10
MIN_TOKEN = 24


@dataclass(frozen=True)
class WebSettings:
    """Where `followup serve` listens and who may use it."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: FOLLOWUP_WEB_PASSWORD; None: a password generated at first start (loopback only).
    password: str | None = field(default=None, repr=False)
    #: FOLLOWUP_API_TOKEN; None: the JSON API refuses every request.
    api_token: str | None = field(default=None, repr=False)
    #: Host header values answered (anything else is refused: DNS rebinding); empty: the default.
    allowed_hosts: tuple[str, ...] = ()
    #: The address the user opens, e.g. https://followup.example.org; digest links need it.
    url: str | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def hosts(self, bound: str | None = None) -> frozenset[str]:
        """The Host names answered: FOLLOWUP_WEB_ALLOWED_HOSTS, else the bound name, localhost,
        the loopback addresses and the host of FOLLOWUP_WEB_URL."""
        if self.allowed_hosts:
            return frozenset(self.allowed_hosts)
        names = {bound or self.host, "localhost", "127.0.0.1", "::1"}
        if self.url:
            names.add(urlsplit(self.url).hostname or "")
        return frozenset(n.lower() for n in names if n)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_port(value: int | str, name: str) -> int:
    return whole({name: str(value)}, name, DEFAULT_PORT, minimum=1, maximum=65535)


def check_bind_host(value: str, name: str) -> str:
    try:
        return check_host(value, name)
    except UsageError as exc:
        raise ConfigError(str(exc)) from None


def web_settings(env: Mapping[str, str]) -> WebSettings:
    """Check every web setting; a bad value raises ConfigError naming it."""
    raw_host = env.get("FOLLOWUP_WEB_HOST", "").strip()
    host = check_bind_host(raw_host, "FOLLOWUP_WEB_HOST") if raw_host else DEFAULT_HOST
    port = whole(env, "FOLLOWUP_WEB_PORT", DEFAULT_PORT, minimum=1, maximum=65535)
    password = env.get("FOLLOWUP_WEB_PASSWORD", "") or None
    if password is not None and (len(password) < MIN_PASSWORD or not password.isprintable()):
        raise ConfigError(
            f"FOLLOWUP_WEB_PASSWORD is not accepted: use at least {MIN_PASSWORD} printable "
            "characters (or leave it empty for a generated one)"
        )
    token = env.get("FOLLOWUP_API_TOKEN", "").strip() or None
    if token is not None and (len(token) < MIN_TOKEN or not token.isascii() or " " in token):
        raise ConfigError(
            f"FOLLOWUP_API_TOKEN is not accepted: use at least {MIN_TOKEN} ASCII characters "
            "without spaces, e.g. the output of `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`"
        )
    raw_hosts = env.get("FOLLOWUP_WEB_ALLOWED_HOSTS", "").strip()
    allowed = tuple(
        check_bind_host(h.strip(), "FOLLOWUP_WEB_ALLOWED_HOSTS")
        for h in raw_hosts.split(",")
        if h.strip()
    )
    return WebSettings(host, port, password, token, allowed, _url(env))


def _url(env: Mapping[str, str]) -> str | None:
    raw = env.get("FOLLOWUP_WEB_URL", "").strip()
    if not raw:
        return None
    bad = ConfigError(
        f"FOLLOWUP_WEB_URL={shown(raw)} is not accepted: give the address you open followup at, "
        "e.g. http://127.0.0.1:8080 or https://followup.example.org"
    )
    if not raw.isascii() or not raw.isprintable() or " " in raw or len(raw) > 300:
        raise bad
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise bad
    if parts.username or parts.password:
        raise bad
    return raw.rstrip("/")
