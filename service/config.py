"""Settings: the one place that reads `.env` and the FOLLOWUP_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dotenv import dotenv_values

from service.errors import ConfigError, UsageError
from service.validation import Mailbox, check_zone, parse_duration, parse_mailbox

#: Every setting followup reads; any other FOLLOWUP_* name is a typo to warn about.
KNOWN_SETTINGS = frozenset(
    [
        "ENV_FILE",
        "DATA_DIR",
        "DATABASE_URL",
        "FROM",
        "TIMEZONE",
        "HOLIDAYS",
        "PLAN",
        "TEMPLATES_DIR",
        "REVIEW",
        "REVIEW_LEAD",
        "DIGEST_INTERVAL",
        "OUTBOX_DIR",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_SECURITY",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_CA_FILE",
        "SMTP_TIMEOUT",
        "BCC_SELF",
        "MAX_PER_HOUR",
        "RETRY_MIN",
        "RETRY_MAX",
        "RETRY_LIFETIME",
        "SEND_LEASE",
        "TICK",
        "BATCH_SIZE",
        "LOG_LEVEL",
    ]
)
#: Names the test suite and benchmarks use for themselves; not settings, not typos.
NOT_SETTINGS_PREFIXES = ("FOLLOWUP_TEST_", "FOLLOWUP_BENCH_")
#: A sender copied from the example file unchanged: never to be sent from over SMTP.
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
PLACEHOLDER_NAMES = ("your name",)
#: Who outbox-mode mail is from until FOLLOWUP_FROM is set (.invalid can never be delivered).
OUTBOX_PLACEHOLDER = Mailbox("Your Name", "you@example.invalid")
SECURITY_CHOICES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


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

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to know about its environment, read once when it runs."""

    workdir: Path
    #: The .env file the settings came from (None: none found, the environment only).
    env_file: Path | None
    #: Where relative data paths (the SQLite file, the outbox) live.
    data_dir: Path
    database_url: str = field(repr=False)  # it may carry the database password
    timezone: ZoneInfo
    sender: Mailbox | None
    holidays: str | None
    plan_path: Path | None
    review: bool
    review_lead: timedelta
    digest_interval: timedelta
    outbox_dir: Path
    templates_dir: Path | None
    smtp: SmtpSettings | None
    bcc_self: bool
    max_per_hour: int
    retry_min: timedelta
    retry_max: timedelta
    retry_lifetime: timedelta
    send_lease: timedelta
    tick: timedelta
    batch_size: int
    log_level: str
    #: Things worth saying once, e.g. a misspelled FOLLOWUP_ name that is ignored.
    warnings: tuple[str, ...] = ()

    @property
    def sender_is_placeholder(self) -> bool:
        """FOLLOWUP_FROM still says "Your Name <you@example.com>" or another example address."""
        return self.sender is not None and (
            self.sender.domain in PLACEHOLDER_DOMAINS
            or self.sender.domain.endswith(".invalid")
            or self.sender.name.strip().lower() in PLACEHOLDER_NAMES
        )

    def describe_env_file(self) -> str:
        """Which .env was used, in words (for doctor and for errors about missing data)."""
        if self.env_file is not None:
            return f"settings from {self.env_file}"
        return (
            f"no .env found (looked for FOLLOWUP_ENV_FILE, {self.workdir / '.env'} and "
            f"{user_env_file()}): settings from the environment only"
        )

    def require_sender(self) -> Mailbox:
        """The From of outgoing mail. In outbox mode (nothing leaves the machine) a placeholder
        stands in until FOLLOWUP_FROM is set; over SMTP a missing or example sender is refused."""
        if self.smtp is None:
            return self.sender or OUTBOX_PLACEHOLDER
        if self.sender is None:
            raise ConfigError(
                "FOLLOWUP_FROM is not set: set it in .env to your name and address, "
                'e.g. FOLLOWUP_FROM="Ada Lovelace <ada@fastmail.com>"'
            )
        if self.sender_is_placeholder:
            raise ConfigError(
                f"FOLLOWUP_FROM is still the example ({self.sender}): set your own name and "
                "address in .env before sending through SMTP"
            )
        return self.sender


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "yes", "1"):
        return True
    if raw in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{name}={raw!r} is not accepted: use 'on' or 'off'")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigError(f"{name}={raw!r} is not accepted: use a whole number >= {minimum}")
    return value


def _duration(env: Mapping[str, str], name: str, default: str) -> timedelta:
    raw = env.get(name, "").strip() or default
    try:
        value = parse_duration(raw, name)
    except UsageError:
        raise ConfigError(
            f"{name}={raw!r} is not accepted: use seconds or a number with a unit, e.g. '30s', "
            "'10m', '2h', '3d'"
        ) from None
    if value <= timedelta(0):
        raise ConfigError(f"{name}={raw!r} is not accepted: it must be longer than zero")
    return value


def _path(env: Mapping[str, str], name: str, base: Path) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def _database_url(env: Mapping[str, str], data_dir: Path) -> str:
    raw = env.get("FOLLOWUP_DATABASE_URL", "").strip()
    if not raw:
        return f"sqlite:///{data_dir / 'followup.db'}"
    if raw.startswith("sqlite:") and not raw.startswith("sqlite:///"):
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL={raw!r} is not accepted: use sqlite:///followup.db (a file "
            "here) or sqlite:////absolute/path.db"
        )
    if raw.startswith("sqlite:///") and not raw.startswith("sqlite:////"):
        rest = raw[len("sqlite:///") :]
        if not rest or rest.startswith(":memory:") or rest.startswith("?"):
            raise ConfigError(
                f"FOLLOWUP_DATABASE_URL={raw!r} is not accepted: that is a database in memory, "
                "gone when the command ends; give a file, e.g. sqlite:///followup.db"
            )
        return f"sqlite:///{data_dir / rest}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    if not (raw.startswith("sqlite:") or raw.startswith("postgresql+psycopg://")):
        # Only the scheme is shown: the rest may carry a password.
        scheme = raw.split("://")[0] + "://..." if "://" in raw else "(no scheme)"
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL={scheme} is not accepted: use "
            "'sqlite:///followup.db' or 'postgresql://user@host/dbname'"
        )
    return raw


def _holidays(env: Mapping[str, str]) -> str | None:
    raw = env.get("FOLLOWUP_HOLIDAYS", "").strip().upper()
    if not raw:
        return None
    import holidays as holidays_lib

    country, _, subdiv = raw.partition("-")
    supported = holidays_lib.list_supported_countries()
    if country not in supported or (subdiv and subdiv not in supported[country]):
        raise ConfigError(
            f"FOLLOWUP_HOLIDAYS={raw!r} is not accepted: use a country code such as 'US' or 'DE', "
            "optionally with a subdivision such as 'DE-BY', or leave it empty for none"
        )
    return raw


def _default_zone() -> str:
    """The machine's own zone name, as a sensible default for FOLLOWUP_TIMEZONE."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        return Path("/etc/timezone").read_text().strip() or "UTC"
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        return target.split("zoneinfo/", 1)[1]
    except (OSError, IndexError):
        return "UTC"


def _smtp(env: Mapping[str, str], workdir: Path) -> SmtpSettings | None:
    security = env.get("FOLLOWUP_SMTP_SECURITY", "").strip().lower() or "starttls"
    if security not in SECURITY_CHOICES:
        raise ConfigError(
            f"FOLLOWUP_SMTP_SECURITY={security!r} is not accepted: use starttls, ssl or none"
        )
    host = env.get("FOLLOWUP_SMTP_HOST", "").strip()
    if not host:
        return None
    port = _int(env, "FOLLOWUP_SMTP_PORT", DEFAULT_PORTS[security], minimum=1)
    if port > 65535:
        raise ConfigError(f"FOLLOWUP_SMTP_PORT={port} is not accepted: use a port from 1 to 65535")
    ca_file = _path(env, "FOLLOWUP_SMTP_CA_FILE", workdir)
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(
            f"FOLLOWUP_SMTP_CA_FILE={ca_file} is not accepted: no such file (give a PEM file)"
        )
    if any(c in host for c in " /\r\n"):
        raise ConfigError(f"FOLLOWUP_SMTP_HOST={host!r} is not accepted: give a host name")
    username = env.get("FOLLOWUP_SMTP_USERNAME", "").strip() or None
    password = env.get("FOLLOWUP_SMTP_PASSWORD", "") or None
    if bool(username) != bool(password):
        raise ConfigError(
            "FOLLOWUP_SMTP_USERNAME and FOLLOWUP_SMTP_PASSWORD go together: set both or neither"
        )
    if username and security == "none" and host not in LOCAL_HOSTS:
        raise ConfigError(
            f"FOLLOWUP_SMTP_SECURITY=none would send your password to {host} unencrypted: "
            "use starttls or ssl (none is only for a relay on this machine)"
        )
    timeout = _duration(env, "FOLLOWUP_SMTP_TIMEOUT", "30s").total_seconds()
    return SmtpSettings(host, port, security, username, password, ca_file, timeout)


def _send_lease(env: Mapping[str, str], smtp: SmtpSettings | None) -> timedelta:
    lease = _duration(env, "FOLLOWUP_SEND_LEASE", "10m")
    # A send may legitimately take a few SMTP timeouts (connect, DATA, reply).
    if smtp is not None and lease.total_seconds() < 3 * smtp.timeout:
        raise ConfigError(
            f"FOLLOWUP_SEND_LEASE={env.get('FOLLOWUP_SEND_LEASE')!r} is not accepted: it must be "
            f"at least 3 x FOLLOWUP_SMTP_TIMEOUT ({int(3 * smtp.timeout)}s), or a slow send would "
            "be flagged uncertain while it is still running"
        )
    return lease


def user_env_file() -> Path:
    """The user's own settings file: ~/.config/followup/.env on Linux."""
    from platformdirs import user_config_path

    return user_config_path("followup") / ".env"


def find_env_file(workdir: Path, environ: Mapping[str, str]) -> Path | None:
    """The .env to read, as command-line tools look for their settings: FOLLOWUP_ENV_FILE if
    set, else ./.env, else the user's config folder; None if there is none."""
    named = environ.get("FOLLOWUP_ENV_FILE", "").strip()
    if named:
        path = Path(named).expanduser()
        path = path if path.is_absolute() else workdir / path
        if not path.is_file():
            raise ConfigError(f"FOLLOWUP_ENV_FILE={named} is not accepted: no such file")
        return path
    for candidate in (workdir / ".env", user_env_file()):
        if candidate.is_file():
            return candidate
    return None


def _data_dir(env: Mapping[str, str], workdir: Path, env_file: Path | None) -> Path:
    """Where relative data paths live: FOLLOWUP_DATA_DIR; else next to a .env in the working
    folder (or the one FOLLOWUP_ENV_FILE names); else the user's data folder, so running
    followup from another folder never scatters databases around."""
    given = _path(env, "FOLLOWUP_DATA_DIR", workdir)
    if given is not None:
        return given
    if env_file is not None and (
        env_file.parent == workdir or env.get("FOLLOWUP_ENV_FILE", "").strip()
    ):
        return env_file.parent
    from platformdirs import user_data_path

    return user_data_path("followup")


def read_environment(
    workdir: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, str], Path | None]:
    """Merge the .env file found (see find_env_file) with the real environment, which wins."""
    workdir = workdir or Path.cwd()
    environ = os.environ if environ is None else environ
    env_file = find_env_file(workdir, environ)
    merged: dict[str, str] = {}
    if env_file is not None:
        try:
            values = dotenv_values(env_file, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {env_file}: {exc}") from None
        merged = {k: v for k, v in values.items() if v is not None}
    merged.update({k: v for k, v in environ.items() if k.startswith("FOLLOWUP_")})
    return merged, env_file


def unknown_names(env: Mapping[str, str]) -> list[str]:
    """A warning for each FOLLOWUP_* name that is no setting, with the closest real one."""
    import difflib

    known = [f"FOLLOWUP_{n}" for n in sorted(KNOWN_SETTINGS)]
    found = []
    for name in sorted(env):
        if not name.startswith("FOLLOWUP_") or name in known:
            continue
        if name.startswith(NOT_SETTINGS_PREFIXES):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        found.append(f"{name} is not a followup setting and is ignored{hint}")
    return found


def load_settings(
    workdir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and check every FOLLOWUP_* setting; a bad value raises ConfigError naming it."""
    workdir = (workdir or Path.cwd()).resolve()
    env, env_file = read_environment(workdir, environ)
    config_dir = env_file.parent if env_file is not None else workdir
    data_dir = _data_dir(env, workdir, env_file)

    zone_name = env.get("FOLLOWUP_TIMEZONE", "").strip() or _default_zone()
    try:
        zone = check_zone(zone_name, "FOLLOWUP_TIMEZONE")
    except UsageError:
        raise ConfigError(
            f"FOLLOWUP_TIMEZONE={zone_name!r} is not accepted: use an IANA zone such as "
            "'Europe/Berlin'"
        ) from None

    sender = None
    raw_from = env.get("FOLLOWUP_FROM", "").strip()
    if raw_from:
        try:
            sender = parse_mailbox(raw_from, "FOLLOWUP_FROM")
        except UsageError as exc:
            raise ConfigError(
                f"FOLLOWUP_FROM is not accepted ({exc}): use 'Your Name <you@example.org>'"
            ) from None

    plan_path = _path(env, "FOLLOWUP_PLAN", config_dir)
    if plan_path is not None and not plan_path.is_file():
        raise ConfigError(f"FOLLOWUP_PLAN={plan_path} is not accepted: no such file (a TOML plan)")
    templates_dir = _path(env, "FOLLOWUP_TEMPLATES_DIR", config_dir)
    if templates_dir is not None and not templates_dir.is_dir():
        raise ConfigError(f"FOLLOWUP_TEMPLATES_DIR={templates_dir} is not accepted: no such folder")

    retry_min = _duration(env, "FOLLOWUP_RETRY_MIN", "1m")
    retry_max = _duration(env, "FOLLOWUP_RETRY_MAX", "1h")
    if retry_max < retry_min:
        raise ConfigError("FOLLOWUP_RETRY_MAX is shorter than FOLLOWUP_RETRY_MIN: swap them")

    log_level = env.get("FOLLOWUP_LOG_LEVEL", "").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"FOLLOWUP_LOG_LEVEL={log_level!r} is not accepted: use DEBUG, INFO, WARNING or ERROR"
        )

    smtp = _smtp(env, config_dir)
    return Settings(
        workdir=workdir,
        env_file=env_file,
        data_dir=data_dir,
        database_url=_database_url(env, data_dir),
        timezone=zone,
        sender=sender,
        holidays=_holidays(env),
        plan_path=plan_path,
        review=_bool(env, "FOLLOWUP_REVIEW", False),
        review_lead=_duration(env, "FOLLOWUP_REVIEW_LEAD", "24h"),
        digest_interval=_duration(env, "FOLLOWUP_DIGEST_INTERVAL", "6h"),
        outbox_dir=_path(env, "FOLLOWUP_OUTBOX_DIR", data_dir) or data_dir / "outbox",
        templates_dir=templates_dir,
        smtp=smtp,
        bcc_self=_bool(env, "FOLLOWUP_BCC_SELF", False),
        max_per_hour=_int(env, "FOLLOWUP_MAX_PER_HOUR", 60),
        retry_min=retry_min,
        retry_max=retry_max,
        retry_lifetime=_duration(env, "FOLLOWUP_RETRY_LIFETIME", "3d"),
        send_lease=_send_lease(env, smtp),
        tick=_duration(env, "FOLLOWUP_TICK", "30s"),
        batch_size=_int(env, "FOLLOWUP_BATCH_SIZE", 20, minimum=1),
        log_level=log_level,
        warnings=tuple(unknown_names(env)),
    )
