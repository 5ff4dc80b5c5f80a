"""Settings: everything a command needs to know about its environment, read once and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from service.config.files import data_dir_for, read_environment, unknown_names, user_env_file
from service.config.imap import ImapSettings, imap_settings
from service.config.smtp import SmtpSettings, send_lease, smtp_settings
from service.config.values import (
    boolean,
    database_url,
    default_zone,
    duration,
    holidays_code,
    path,
    whole,
)
from service.config.web import WebSettings, web_settings
from service.errors import ConfigError, UsageError
from service.languages import check_language
from service.validation import (
    Mailbox,
    check_email,
    check_zone,
    is_dir,
    is_file,
    parse_mailbox,
    shown,
)

#: A sender copied from the example file unchanged: never to be sent from over SMTP.
PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")
PLACEHOLDER_NAMES = ("your name",)
#: Who outbox-mode mail is from until FOLLOWUP_FROM is set (.invalid can never be delivered).
OUTBOX_PLACEHOLDER = Mailbox("Your Name", "you@example.invalid")


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
    #: The user's other addresses (FOLLOWUP_MY_ADDRESSES): never taken for a contact.
    my_addresses: tuple[str, ...]
    holidays: str | None
    plan_path: Path | None
    review: bool
    review_lead: timedelta
    digest_interval: timedelta
    outbox_dir: Path
    templates_dir: Path | None
    smtp: SmtpSettings | None
    #: The mailbox read for replies and bounces; None: no inbox reading.
    imap: ImapSettings | None
    bcc_self: bool
    max_per_hour: int
    retry_min: timedelta
    retry_max: timedelta
    retry_lifetime: timedelta
    send_lease: timedelta
    tick: timedelta
    batch_size: int
    log_level: str
    #: How long one template may take to render, and how much text it may make.
    render_timeout: float = 1.0
    render_max_kb: int = 256
    #: The language follow-ups are written in unless an interview names its own (and the
    #: language of reminders to the user).
    language: str = "en"
    #: Things worth saying once, e.g. a misspelled FOLLOWUP_ name that is ignored.
    warnings: tuple[str, ...] = ()
    #: `followup serve`: where it listens, who may log in, the address digest links point at.
    web: WebSettings = field(default_factory=WebSettings)

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


def load_settings(
    workdir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read and check every FOLLOWUP_* setting; a bad value raises ConfigError naming it."""
    workdir = (workdir or Path.cwd()).resolve()
    env, env_file = read_environment(workdir, environ)
    config_dir = env_file.parent if env_file is not None else workdir
    data_dir = data_dir_for(env, workdir, env_file)

    zone_name = env.get("FOLLOWUP_TIMEZONE", "").strip() or default_zone()
    try:
        zone = check_zone(zone_name, "FOLLOWUP_TIMEZONE")
    except UsageError:
        raise ConfigError(
            f"FOLLOWUP_TIMEZONE={shown(zone_name)} is not accepted: use an IANA zone such as "
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

    plan_path = path(env, "FOLLOWUP_PLAN", config_dir)
    if plan_path is not None and not is_file(plan_path):
        raise ConfigError(f"FOLLOWUP_PLAN={plan_path} is not accepted: no such file (a TOML plan)")
    templates_dir = path(env, "FOLLOWUP_TEMPLATES_DIR", config_dir)
    if templates_dir is not None and not is_dir(templates_dir):
        raise ConfigError(f"FOLLOWUP_TEMPLATES_DIR={templates_dir} is not accepted: no such folder")

    retry_min = duration(env, "FOLLOWUP_RETRY_MIN", "1m")
    retry_max = duration(env, "FOLLOWUP_RETRY_MAX", "1h")
    if retry_max < retry_min:
        raise ConfigError("FOLLOWUP_RETRY_MAX is shorter than FOLLOWUP_RETRY_MIN: swap them")

    log_level = env.get("FOLLOWUP_LOG_LEVEL", "").strip().upper() or "INFO"
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(
            f"FOLLOWUP_LOG_LEVEL={shown(log_level)} is not accepted: use DEBUG, INFO, WARNING or ERROR"
        )

    smtp = smtp_settings(env, config_dir)
    raw_language = env.get("FOLLOWUP_LANGUAGE", "").strip() or "en"
    try:
        language = check_language(raw_language, "FOLLOWUP_LANGUAGE")
    except UsageError:
        raise ConfigError(
            f"FOLLOWUP_LANGUAGE={shown(raw_language)} is not accepted: use a language code such as "
            "en, de, fr or es"
        ) from None
    return Settings(
        workdir=workdir,
        env_file=env_file,
        data_dir=data_dir,
        database_url=database_url(env, data_dir),
        timezone=zone,
        sender=sender,
        my_addresses=_my_addresses(env),
        holidays=holidays_code(env),
        plan_path=plan_path,
        review=boolean(env, "FOLLOWUP_REVIEW", False),
        review_lead=duration(env, "FOLLOWUP_REVIEW_LEAD", "24h", longest=timedelta(days=365)),
        digest_interval=duration(env, "FOLLOWUP_DIGEST_INTERVAL", "6h"),
        outbox_dir=path(env, "FOLLOWUP_OUTBOX_DIR", data_dir) or data_dir / "outbox",
        templates_dir=templates_dir,
        smtp=smtp,
        imap=imap_settings(env, config_dir),
        bcc_self=boolean(env, "FOLLOWUP_BCC_SELF", False),
        max_per_hour=whole(env, "FOLLOWUP_MAX_PER_HOUR", 60, maximum=100_000),
        retry_min=retry_min,
        retry_max=retry_max,
        retry_lifetime=duration(env, "FOLLOWUP_RETRY_LIFETIME", "3d"),
        send_lease=send_lease(env, smtp),
        tick=duration(env, "FOLLOWUP_TICK", "30s", longest=timedelta(days=1)),
        batch_size=whole(env, "FOLLOWUP_BATCH_SIZE", 100, minimum=1, maximum=1000),
        log_level=log_level,
        render_timeout=duration(
            env, "FOLLOWUP_RENDER_TIMEOUT", "1s", longest=timedelta(minutes=1)
        ).total_seconds(),
        render_max_kb=whole(env, "FOLLOWUP_RENDER_MAX_KB", 256, minimum=1, maximum=100_000),
        language=language,
        warnings=tuple(unknown_names(env)),
        web=web_settings(env),
    )


def _my_addresses(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("FOLLOWUP_MY_ADDRESSES", "").strip()
    found = []
    for part in raw.replace(";", ",").split(","):
        if part.strip():
            try:
                found.append(check_email(part.strip(), "FOLLOWUP_MY_ADDRESSES"))
            except UsageError as exc:
                raise ConfigError(str(exc)) from None
    return tuple(found)
