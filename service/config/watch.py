"""The settings in force for a long-running service (the worker, the web app): read again when
`.env` or the plan file changes (a cheap look at the files, as often as the service asks) or at
once when asked (SIGHUP). A change that does not check out keeps the last good settings in force
and says what is wrong; the service decides what that means for it (the worker pauses sending,
the web app shows a banner)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from service.config.files import find_env_file, user_env_file
from service.config.settings import Settings
from service.errors import UsageError

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Settings whose values never appear in the log.
SECRET_FIELDS = ("password", "database_url", "password_command", "token_command", "api_token")


def fingerprint(settings: Settings) -> tuple:
    """What the settings are read from: any .env that could be found, and the plan file (path,
    modification time, size and inode of each; a file that is not there counts too)."""
    files: list[Path | None] = [settings.workdir / ".env", user_env_file(), settings.plan_path]
    with contextlib.suppress(UsageError):
        files.append(find_env_file(settings.workdir, os.environ))
    marks = []
    for path in files:
        try:
            stat = path.stat() if path else None
        except OSError:
            stat = None
        marks.append((str(path), stat and (stat.st_mtime_ns, stat.st_size, stat.st_ino)))
    return tuple(marks)


class SettingsWatch:
    """The settings in force, and why the latest change to them is not (`problem`)."""

    def __init__(
        self, settings: Settings, load: Callable[[], Settings] | None = None, service: str = ""
    ):
        self.settings = settings
        #: What to restart for a setting read only at start ("the worker").
        self.service = service or "the service"
        #: Reads the settings again; None: never (a service under test keeps what it was given).
        self.load = load
        #: What is wrong with the files, when their latest change does not check out.
        self.problem: str | None = None
        self._marks = fingerprint(settings)
        self._asked = threading.Event()
        self._lock = threading.Lock()

    def ask(self) -> None:
        """Read the settings again at the next look, changed or not (SIGHUP; safe from a signal
        handler)."""
        self._asked.set()

    def _due(self) -> bool:
        return self.load is not None and (
            self._asked.is_set() or fingerprint(self.settings) != self._marks
        )

    def refresh(self, check: Callable[[Settings], T]) -> tuple[Settings, T] | None:
        """The new settings, and what `check` made of them, when the files changed (or a reload
        was asked for) and they check out; else None, and the settings in force stay. `check`
        raises UsageError for settings the service must not use (a plan that does not read)."""
        if not self._due():
            return None
        with self._lock:
            if not self._due():  # another thread read them meanwhile
                return None
            assert self.load is not None
            self._asked.clear()
            self._marks = fingerprint(self.settings)
            try:
                new = self.load()
                made = check(new)
            except UsageError as exc:
                log.error("the new settings do not check out: %s", exc)
                self.problem = str(exc)
                return None
            if new.database_url != self.settings.database_url:
                log.warning(
                    "FOLLOWUP_DATABASE_URL changed: restart %s to use the new database",
                    self.service,
                )
                new = dataclasses.replace(new, database_url=self.settings.database_url)
            for warning in new.warnings:
                log.warning("%s", warning)
            changes = describe_changes(self.settings, new)
            if new.plan_path != self.settings.plan_path:
                self._marks = fingerprint(new)
            self.settings = new
            if self.problem:
                log.info("settings fixed: %s", self.problem)
            self.problem = None
            log.info("settings re-read: %s", "; ".join(changes) or "no setting changed")
            return new, made


def describe_changes(old: Settings, new: Settings) -> list[str]:
    """Which settings changed, in words; secrets say only that they changed."""
    changes = []
    for f in dataclasses.fields(Settings):
        if f.name in ("warnings", "workdir"):
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before == after:
            continue
        if f.name in ("smtp", "web") and before is not None and after is not None:
            for g in dataclasses.fields(before):
                b, a = getattr(before, g.name), getattr(after, g.name)
                if b != a:
                    shown = "changed" if g.name in SECRET_FIELDS else f"{b} -> {a}"
                    changes.append(f"{f.name}.{g.name}: {shown}")
            continue
        shown = "changed" if f.name in SECRET_FIELDS else f"{_show(before)} -> {_show(after)}"
        changes.append(f"{f.name}: {shown}")
    return changes


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, timedelta):
        return f"{int(value.total_seconds())}s"
    if value is None:
        return "(none)"
    if hasattr(value, "host"):  # SmtpSettings, ImapSettings: never a password
        return value.address
    return str(value)
