"""Reading one setting's value: booleans, whole numbers, durations, paths, database URLs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from service.errors import ConfigError, UsageError
from service.validation import parse_duration, shown, user_path

#: Durations longer than this are typos (and overflow date arithmetic).
LONGEST = timedelta(days=3650)


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "yes", "1"):
        return True
    if raw in ("off", "false", "no", "0"):
        return False
    raise ConfigError(f"{name}={shown(raw)} is not accepted: use 'on' or 'off'")


def whole(
    env: Mapping[str, str], name: str, default: int, minimum: int = 0, maximum: int = 10**6
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if raw.isascii() else minimum - 1
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ConfigError(
            f"{name}={shown(raw)} is not accepted: use a whole number from {minimum} to {maximum}"
        )
    return value


def duration(
    env: Mapping[str, str], name: str, default: str, longest: timedelta = LONGEST
) -> timedelta:
    raw = env.get(name, "").strip() or default
    try:
        value = parse_duration(raw, name)
    except UsageError:
        raise ConfigError(
            f"{name}={shown(raw)} is not accepted: use seconds or a number with a unit, e.g. '30s', "
            "'10m', '2h', '3d'"
        ) from None
    if value <= timedelta(0):
        raise ConfigError(f"{name}={shown(raw)} is not accepted: it must be longer than zero")
    if value > longest:
        raise ConfigError(
            f"{name}={shown(raw)} is not accepted: at most {longest.days} days"
            if longest >= timedelta(days=1)
            else f"{name}={shown(raw)} is not accepted: at most {int(longest.total_seconds())}s"
        )
    return value


def path(env: Mapping[str, str], name: str, base: Path) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    found = user_path(raw)
    return found if found.is_absolute() else base / found


def database_url(env: Mapping[str, str], data_dir: Path) -> str:
    raw = env.get("FOLLOWUP_DATABASE_URL", "").strip()
    if not raw:
        return f"sqlite:///{data_dir / 'followup.db'}"
    if raw.startswith("sqlite:") and not raw.startswith("sqlite:///"):
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL={shown(raw)} is not accepted: use sqlite:///followup.db (a file "
            "here) or sqlite:////absolute/path.db"
        )
    if raw.startswith("sqlite:///") and not raw.startswith("sqlite:////"):
        rest = raw[len("sqlite:///") :]
        if not rest or rest.startswith(":memory:") or rest.startswith("?"):
            raise ConfigError(
                f"FOLLOWUP_DATABASE_URL={shown(raw)} is not accepted: that is a database in memory, "
                "gone when the command ends; give a file, e.g. sqlite:///followup.db"
            )
        return f"sqlite:///{data_dir / rest}"
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    if raw.startswith("postgresql://"):
        raw = "postgresql+psycopg://" + raw[len("postgresql://") :]
    # Only the scheme is shown in errors: the rest may carry a password.
    scheme = raw.split("://")[0] + "://..." if "://" in raw else "(no scheme)"
    if not (raw.startswith("sqlite:") or raw.startswith("postgresql+psycopg://")):
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL={scheme} is not accepted: use "
            "'sqlite:///followup.db' or 'postgresql://user@host/dbname'"
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        make_url(raw).port  # noqa: B018 - a port that is not a number raises here
    except (ArgumentError, ValueError):
        raise ConfigError(
            f"FOLLOWUP_DATABASE_URL={scheme} is not accepted: it is not a valid URL (check the "
            "port, and %-encode special characters in the password)"
        ) from None
    return raw


def holidays_code(env: Mapping[str, str]) -> str | None:
    raw = env.get("FOLLOWUP_HOLIDAYS", "").strip().upper()
    if not raw:
        return None
    import holidays as holidays_lib  # noqa: I001

    country, _, subdiv = raw.partition("-")
    supported = holidays_lib.list_supported_countries()
    if country not in supported or (subdiv and subdiv not in supported[country]):
        raise ConfigError(
            f"FOLLOWUP_HOLIDAYS={shown(raw)} is not accepted: use a country code such as 'US' or 'DE', "
            "optionally with a subdivision such as 'DE-BY', or leave it empty for none"
        )
    return raw


def default_zone() -> str:
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
