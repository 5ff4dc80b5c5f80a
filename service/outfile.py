"""Files written where the user says (`--out`): regular files only, new or replaced atomically."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from service.errors import UsageError


def check_target(target: Path, *, force: bool) -> None:
    """Refuse, with one line, a target that is not a new or (with `force`) a regular file: a
    device, a FIFO, a socket, a folder or a symbolic link is never replaced nor written through."""
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a file name"
        raise UsageError(f"cannot write {str(target)!r}: {reason}") from None
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        raise UsageError(
            f"{target} is a symbolic link: name the file itself, or a new file (--out writes "
            "only regular files)"
        )
    if stat.S_ISDIR(mode):
        raise UsageError(f"{target} is a folder: name the file to write")
    if not stat.S_ISREG(mode):
        what = (
            "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        )
        raise UsageError(
            f"{target} is {what}, not a regular file: name a new file (--out writes only regular "
            "files)"
        )
    if not force:
        raise UsageError(f"{target} exists: give --force to replace it, or name a new file")


@contextlib.contextmanager
def out_file(target: Path, *, force: bool) -> Iterator[str]:
    """The one way to write an `--out` file: `check_target`, then `atomic_path` (0600)."""
    check_target(target, force=force)
    with atomic_path(target) as tmp:
        yield tmp


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[str]:
    """A temporary file (0600) next to `target`, renamed over it only when complete (and
    synced): a reader never sees half a file, and a failure leaves the old one as it was."""
    try:
        if target.is_dir():
            raise UsageError(f"{target} is a folder: name the file to write")
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=target.suffix)
    except OSError as exc:
        raise UsageError(f"cannot write in {target.parent}: {exc.strerror}") from None
    except ValueError:  # a NUL in the name
        raise UsageError(f"{str(target)!r} is not a file name") from None
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            os.replace(tmp, target)
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
