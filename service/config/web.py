"""The web app's settings (FOLLOWUP_WEB_*, FOLLOWUP_API_TOKEN): where it listens, who may log
in, which Host names it answers to, and the address digest links point at."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from service.config.values import whole
from service.errors import ConfigError, UsageError
from service.passwords import suggestion, weakness
from service.validation import check_host, shown

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Shorter tokens are guessable: refused rather than trusted (passwords: service/passwords.py).
MIN_TOKEN = 24
#: The largest request body taken by default (1 MiB): a form or an API call is a few kilobytes.
DEFAULT_MAX_BODY = 1024 * 1024
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024 * 1024}


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
    #: FOLLOWUP_WEB_TRUSTED_PROXIES: the proxies whose X-Forwarded-For is believed (none: ignored).
    trusted_proxies: tuple[str, ...] = ()
    #: FOLLOWUP_WEB_MAX_BODY: the largest request body taken, in bytes.
    max_body: int = DEFAULT_MAX_BODY

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def password_problem(self) -> str | None:
        """Why FOLLOWUP_WEB_PASSWORD may not guard the web app, if it may not. Only `serve`
        refuses it: the worker and the other commands do not use it, and must keep sending."""
        weak = weakness(self.password) if self.password is not None else None
        if weak is None:
            return None
        return (
            f"FOLLOWUP_WEB_PASSWORD is not accepted: {weak} (e.g. {suggestion()}, or leave it "
            "empty for a generated one)"
        )

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
    return WebSettings(
        host, port, password, token, allowed, _url(env), _proxies(env), _max_body(env)
    )


def _proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    """FOLLOWUP_WEB_TRUSTED_PROXIES: addresses or networks (CIDR), separated by commas."""
    raw = env.get("FOLLOWUP_WEB_TRUSTED_PROXIES", "").strip()
    found = []
    for item in (x.strip() for x in raw.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            shown = item if len(item) <= 60 else item[:60] + "..."
            raise ConfigError(
                f"FOLLOWUP_WEB_TRUSTED_PROXIES: {shown!r} is not an IP address or network: give "
                "the addresses of your https proxy, e.g. 127.0.0.1 or 10.0.0.0/8"
            ) from None
    return tuple(found)


def _max_body(env: Mapping[str, str]) -> int:
    """FOLLOWUP_WEB_MAX_BODY: bytes, or with a k or M suffix (1024 and 1024*1024 bytes)."""
    raw = env.get("FOLLOWUP_WEB_MAX_BODY", "").strip()
    if not raw:
        return DEFAULT_MAX_BODY
    number, unit = raw[:-1], raw[-1:].lower()
    if unit.isdigit():
        number, unit = raw, ""
    if (
        unit not in _SIZE_UNITS
        or not number.isascii()
        or not number.isdecimal()
        or len(number) > 12
    ):
        number = ""
    size = int(number) * _SIZE_UNITS[unit] if number else 0
    if not 1024 <= size <= 1024**3:
        shown = raw if len(raw) <= 30 else raw[:30] + "..."
        raise ConfigError(
            f"FOLLOWUP_WEB_MAX_BODY={shown!r} is not accepted: give a size from 1k to 1024M, in "
            "bytes or with k or M, e.g. 1M (the default) or 512k"
        )
    return size


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
