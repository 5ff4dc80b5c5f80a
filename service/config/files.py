"""Where settings come from: the .env file found the way command-line tools look for theirs,
merged with the real environment; and which FOLLOWUP_* names are settings at all."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from service.config.values import path
from service.errors import ConfigError
from service.validation import is_file, user_path

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
        "RENDER_TIMEOUT",
        "MY_ADDRESSES",
        "IMAP_HOST",
        "IMAP_PORT",
        "IMAP_SECURITY",
        "IMAP_USERNAME",
        "IMAP_PASSWORD",
        "IMAP_FOLDERS",
        "IMAP_SENT",
        "IMAP_TIMEOUT",
        "RENDER_MAX_KB",
        # the web app (issue 11)
        "WEB_HOST",
        "WEB_PORT",
        "WEB_PASSWORD",
        "WEB_ALLOWED_HOSTS",
        "WEB_URL",
        "WEB_TRUSTED_PROXIES",
        "WEB_MAX_BODY",
        "API_TOKEN",
        # set-up, secrets and languages (issue 13)
        "SMTP_AUTH",
        "SMTP_PASSWORD_COMMAND",
        "IMAP_PASSWORD_COMMAND",
        "OAUTH2_TOKEN_COMMAND",
        "LANGUAGE",
    ]
)
#: Names the test suite and benchmarks use for themselves; not settings, not typos.
NOT_SETTINGS_PREFIXES = ("FOLLOWUP_TEST_", "FOLLOWUP_BENCH_")


def user_env_file() -> Path:
    """The user's own settings file: ~/.config/followup/.env on Linux."""
    from platformdirs import user_config_path

    return user_config_path("followup") / ".env"


def find_env_file(workdir: Path, environ: Mapping[str, str]) -> Path | None:
    """The .env to read, as command-line tools look for their settings: FOLLOWUP_ENV_FILE if
    set, else ./.env, else the user's config folder; None if there is none."""
    named = environ.get("FOLLOWUP_ENV_FILE", "").strip()
    if named:
        path = user_path(named)
        path = path if path.is_absolute() else workdir / path
        if not is_file(path):
            raise ConfigError(f"FOLLOWUP_ENV_FILE={named} is not accepted: no such file")
        return path
    for candidate in (workdir / ".env", user_env_file()):
        if is_file(candidate):
            return candidate
    return None


def data_dir_for(env: Mapping[str, str], workdir: Path, env_file: Path | None) -> Path:
    """Where relative data paths live: FOLLOWUP_DATA_DIR; else next to a .env in the working
    folder (or the one FOLLOWUP_ENV_FILE names); else the user's data folder, so running
    followup from another folder never scatters databases around."""
    given = path(env, "FOLLOWUP_DATA_DIR", workdir)
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
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{env_file} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot read {env_file}: {exc.strerror}") from None
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
