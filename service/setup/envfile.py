"""The settings file `followup init` writes: its text, written atomically with mode 0600 and
never over an existing file unless asked (then with a backup), and whether a settings file that
holds a password can be read by other users."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from service.errors import FollowupError, UsageError

#: Settings whose values are secrets: a file holding one should be readable by its owner only.
SECRET_SETTINGS = ("FOLLOWUP_SMTP_PASSWORD", "FOLLOWUP_IMAP_PASSWORD")


def quote(value: str) -> str:
    """A value as python-dotenv reads it back exactly: single quotes, \\ and ' escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(values: Mapping[str, str], comments: Mapping[str, str], header: str) -> str:
    """The file's text: a header, then the settings, a group under each comment line."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    for name, value in values.items():
        if comments.get(name):
            lines += ["", f"# {comments[name]}"]
        lines.append(f"{name}={quote(value)}")
    text = "\n".join(lines) + "\n"
    _check_round_trip(text, values)
    return text


def _check_round_trip(text: str, values: Mapping[str, str]) -> None:
    from dotenv import dotenv_values

    read = dotenv_values(stream=io.StringIO(text))
    if dict(read) != dict(values):
        changed = sorted(k for k in values if read.get(k) != values[k])
        raise UsageError(
            f"{', '.join(changed)} cannot be written to .env as given: it would be read back "
            "changed (.env expands ${NAME} in a value): check the value"
        )


def write(path: Path, text: str, *, force: bool, now: datetime) -> Path | None:
    """Write the file atomically, readable by its owner only. An existing file is replaced only
    with `force`, after copying it to a backup (returned) next to it."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {folder}: {exc.strerror}") from None
    exists = path.exists() or path.is_symlink()
    if exists and not force:
        raise UsageError(
            f"{path} already exists: nothing was changed (run again with --force to replace it; "
            "a backup of it is kept)"
        )
    backup = _backup(path, now) if exists else None
    tmp = _temporary(folder, text)
    try:
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never overwritten
            except FileExistsError:
                raise UsageError(f"{path} appeared meanwhile: nothing was changed") from None
            finally:
                os.unlink(tmp)
        _sync(folder)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FollowupError(f"cannot write {path}: {exc.strerror}") from None
    return backup


def _temporary(folder: Path, text: str) -> str:
    """A new file in `folder` holding `text`, mode 0600 from its creation, on disk."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".env-", suffix=".tmp")
    except OSError as exc:
        raise FollowupError(f"cannot write in {folder}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise FollowupError(f"cannot write in {folder}: {exc.strerror}") from None
    return tmp


def _backup(path: Path, now: datetime) -> Path:
    """Copy the file to NAME.backup-YYYYmmdd-HHMMSS (mode 0600: it may hold a password)."""
    stamp = now.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        target = path.with_name(f"{path.name}.backup-{stamp}" + (f"-{n}" if n else ""))
        if not (target.exists() or target.is_symlink()):
            break
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path} to back it up: {exc.strerror}") from None
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise FollowupError(f"cannot back up {path} to {target}: {exc.strerror}") from None
    return target


def _sync(folder: Path) -> None:
    """Make the rename itself durable."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def exposure(env_file: Path | None) -> str:
    """Why the settings file is a risk ("" if it is not): it holds a password and other users
    can read it."""
    if env_file is None:
        return ""
    try:
        mode = stat.S_IMODE(env_file.stat().st_mode)
    except OSError:
        return ""
    if not mode & 0o077:
        return ""
    from dotenv import dotenv_values

    try:
        values = dotenv_values(env_file, encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    held = [name for name in SECRET_SETTINGS if values.get(name)]
    url = values.get("FOLLOWUP_DATABASE_URL") or ""
    if "://" in url and ":" in url.split("://", 1)[1].split("@", 1)[0] and "@" in url:
        held.append("FOLLOWUP_DATABASE_URL (with a password)")
    if not held:
        return ""
    who = {True: "other users", False: "its group"}[bool(mode & 0o007)]
    return f"{env_file} holds {', '.join(held)} and can be read by {who} (mode {mode:o})"
