"""An export file read safely: a regular file (or a pipe), its size and every line bounded, and
each line checked as it comes (JSON, nesting, column types) before anything is written.

A hostile or damaged file ends in one UsageError line (exit 2), never a traceback, never memory
that grows with the file: `load /dev/zero` is refused before a byte is read, and a pipe of zeros
stops at the first line's bound.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import IO, Any, cast

from sqlalchemy import JSON, Boolean, Date, Integer, LargeBinary, String, Table

from service.errors import UsageError
from service.models import UTCDateTime
from service.validation import YEARS

#: The largest file read: ten times the largest export measured (176 MB for 133,000 follow-ups).
MAX_FILE = 2 * 1024**3
#: The longest line: a follow-up with its texts and the message as sent (1 MiB, in base64).
MAX_LINE = 16 * 1024**2
#: The longest first line: the header is a few hundred characters.
MAX_HEADER = 64 * 1024
#: How deep a value may nest (a list of questions is 1 deep).
MAX_DEPTH = 4
BOM = "\ufeff"
INT_RANGE = range(-(2**63), 2**63)


def open_source(file: str) -> IO[bytes]:
    """The file to read, as bytes: `-` is the input; anything else must be a regular file."""
    if file == "-":
        return getattr(sys.stdin, "buffer", None) or cast(IO[bytes], _Encoded(sys.stdin))
    try:
        fh = open(file, "rb")  # noqa: SIM115 (the caller closes it)
    except OSError as exc:
        raise UsageError(f"{file}: cannot be read ({exc.strerror})") from None
    except ValueError:  # a NUL in the name
        raise UsageError(f"{file!r} is not a file name") from None
    info = os.fstat(fh.fileno())
    if not stat.S_ISREG(info.st_mode):
        fh.close()
        raise UsageError(
            f"{file} is not a regular file (a device, a pipe or a folder): give the export file"
        )
    if info.st_size > MAX_FILE:
        fh.close()
        raise UsageError(f"{file} is larger than {MAX_FILE // 1024**3} GiB: not a followup export")
    return fh


class _Encoded(io.RawIOBase):
    """A text input (one replaced in-process, without `.buffer`) read as UTF-8 bytes."""

    def __init__(self, text: IO[str]) -> None:
        self.text = text

    def readline(self, size: int | None = -1) -> bytes:
        return self.text.readline(-1 if size is None else size).encode("utf-8", "surrogateescape")


def lines(fh: IO[bytes], name: str) -> Iterator[tuple[int, str]]:
    """(line number, text without its line end) for each line; a BOM and CRLF ends are taken
    as they come from an editor. Bounded: a line, or the whole, too long is a UsageError."""
    total = 0
    number = 0
    while True:
        limit = MAX_HEADER if number == 0 else MAX_LINE
        data = fh.readline(limit + 1)
        if not data:
            return
        number += 1
        total += len(data)
        if total > MAX_FILE:
            raise UsageError(f"{name} is longer than {MAX_FILE // 1024**3} GiB: nothing was loaded")
        if len(data) > limit:
            what = "its first line is not a header" if number == 1 else f"line {number} is"
            raise UsageError(
                f"{name}: {what} longer than {limit // 1024} KiB: not a followup export; "
                "nothing was loaded"
            )
        try:
            line = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(
                f"{name} line {number} is not UTF-8 text: is it a followup export?"
            ) from None
        if number == 1:
            line = line.removeprefix(BOM)
        yield number, line.rstrip("\r\n")


def parse(line: str) -> Any:
    """A line's JSON; ValueError for anything else, nesting too deep included."""
    try:
        return json.loads(line)
    except RecursionError:
        raise ValueError("nested too deep") from None


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _in_years(moment: Any, value: str) -> Any:
    """The one rule for every date that enters (validation.YEARS), as the CLI says it."""
    if moment.year not in YEARS:
        raise ValueError(f"{value!r} is not between the years 2000 and 2099: check the year")
    return moment


def column(value: Any, kind: Any) -> Any:
    """A value of the file as the database takes it; ValueError saying what does not fit."""
    if value is None:
        return None
    if isinstance(kind, UTCDateTime):
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a time")
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} has no time zone (followup writes UTC, with a Z)")
        return _in_years(moment.astimezone(UTC), value)
    if isinstance(kind, Date):
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a date")
        return _in_years(date.fromisoformat(value), value)
    if isinstance(kind, LargeBinary):
        if not isinstance(value, str):
            raise ValueError("bytes are written in base64")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("not base64") from None
    if isinstance(kind, Boolean):
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if isinstance(kind, Integer):
        if isinstance(value, bool) or not isinstance(value, int) or value not in INT_RANGE:
            raise ValueError(f"{_short(value)} is not a whole number the database holds")
        return value
    if isinstance(kind, String):
        if not isinstance(value, str):
            raise ValueError(f"{_short(value)} is not text")
        return value
    if isinstance(kind, JSON):
        if _depth(value) > MAX_DEPTH:
            raise ValueError(f"a value nested deeper than {MAX_DEPTH}")
        return value
    raise ValueError(f"a column of type {kind} is not read")  # pragma: no cover (every type)


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def row(item: Any, known: dict[str, Table]) -> tuple[Table, dict[str, Any]]:
    """The table and the values of a row line; ValueError/KeyError/TypeError if it is none."""
    if not isinstance(item, dict) or not isinstance(item.get("row"), dict):
        raise ValueError("not a row")
    table = known[item["table"]]
    values = item["row"]
    unknown = set(values) - {c.name for c in table.columns}
    if unknown:
        raise ValueError(f"no column {sorted(unknown)[0][:40]!r} in {table.name}")
    # A column the file does not have (it comes from an older followup) gets its default.
    found = {}
    for c in table.columns:
        if c.name in values:
            try:
                found[c.name] = column(values[c.name], c.type)
            except ValueError as exc:
                raise ValueError(f"{table.name}.{c.name}: {exc}") from None
    return table, found
