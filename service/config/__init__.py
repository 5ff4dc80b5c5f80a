"""Settings: the one place that reads `.env` and the FOLLOWUP_* environment variables."""

from service.config.files import (
    KNOWN_SETTINGS,
    find_env_file,
    read_environment,
    unknown_names,
    user_env_file,
)
from service.config.imap import ImapSettings
from service.config.settings import OUTBOX_PLACEHOLDER, Settings, load_settings
from service.config.smtp import SmtpSettings
from service.config.web import WebSettings

__all__ = [
    "ImapSettings",
    "KNOWN_SETTINGS",
    "OUTBOX_PLACEHOLDER",
    "Settings",
    "SmtpSettings",
    "WebSettings",
    "find_env_file",
    "load_settings",
    "read_environment",
    "unknown_names",
    "user_env_file",
]
