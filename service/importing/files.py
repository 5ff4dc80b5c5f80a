"""Input files of an import: what kind each one is, and the interviews read from it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from service.bounds import LARGEST_MESSAGE
from service.importing import csvfile, eml, ics
from service.importing.records import ImportedInterview, ImportOptions, Problems
from service.importing.text import decode, other_encoding, strip_bom

#: File name endings and the kind of file each promises.
KINDS = {".ics": "ics", ".ical": "ics", ".ifb": "ics", ".eml": "eml", ".csv": "csv"}
KIND_NAMES = {"ics": "a calendar (.ics)", "eml": "an email message (.eml)", "csv": "a CSV file"}
_HEADER = re.compile(rb"^[A-Za-z0-9-]+:[ \t]?\S")


def sniff(head: bytes) -> str:
    """What the first bytes of a file look like: 'ics', 'eml', 'binary' or 'text'."""
    if other_encoding(head):
        return "text"
    head = strip_bom(head)
    if b"\x00" in head:
        return "binary"
    first = head.lstrip().split(b"\n", 1)[0].strip()
    if first.upper() == b"BEGIN:VCALENDAR":
        return "ics"
    if _HEADER.match(head) and re.search(rb"(?im)^(from|date|subject|mime-version):", head):
        return "eml"
    return "text"


def kind_of(path: Path, head: bytes, problems: Problems) -> str | None:
    """The kind of a file by its name, checked against its content, or None after a problem."""
    name, looks = str(path), sniff(head)
    if path.suffix.lower() == ".msg":
        problems.add(
            name,
            "is an Outlook .msg file: save the invitation as .ics, or forward it and save it as .eml",
        )
        return None
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        if looks in ("ics", "eml"):
            return looks
        problems.add(name, "is not a file followup imports: give a .ics, .eml or .csv file")
        return None
    if kind == looks or (kind == "csv" and looks == "text"):
        return kind
    if looks == "binary":
        problems.add(name, f"is a binary file, not {KIND_NAMES[kind]}")
    elif looks in KIND_NAMES:
        problems.add(name, f"looks like {KIND_NAMES[looks]}, not {KIND_NAMES[kind]}: rename it")
    elif kind == "eml":
        problems.add(
            name, f"is not an email message ({_start(head)}): save the invitation email as .eml"
        )
    elif kind == "ics" and other_encoding(head) is None:
        problems.add(
            name, f"is not a calendar ({_start(head)}): export the invitation as an .ics file"
        )
    else:
        return kind  # a UTF-16 calendar: decoding says so
    return None


def _start(head: bytes) -> str:
    text = strip_bom(head).lstrip()[:30].decode("utf-8", errors="replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return f"it starts with {text!r}" if text else "it is empty"


def read_file(
    path: Path,
    options: ImportOptions,
    problems: Problems,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[ImportedInterview]:
    """The interviews in one file, as they are read; problems are recorded, never raised."""
    name = str(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
            kind = kind_of(path, head, problems)
            if kind is None:
                return
            stream.seek(0)
            if kind == "csv":
                yield from csvfile.read_csv(stream, name, options, problems, on_bytes)
                return
            data = stream.read(LARGEST_MESSAGE + 1)
    except IsADirectoryError:
        problems.add(name, "is a folder: give the files in it")
        return
    except OSError as exc:
        problems.add(name, f"cannot be read: {exc.strerror or exc}")
        return
    except ValueError:  # a NUL in the name
        problems.add(repr(name), "is not a file name")
        return
    if on_bytes is not None:
        on_bytes(len(data))
    if len(data) > LARGEST_MESSAGE:
        problems.add(
            name, f"is larger than {LARGEST_MESSAGE // 2**20} MB: no invitation is that big"
        )
        return
    if kind == "eml":
        yield from eml.read_message(data, name, options, problems)
        return
    text = decode(data, name, problems)
    if text is not None:
        yield from ics.read_calendar(text, name, options, problems)


def read_files(
    paths: Iterable[Path],
    options: ImportOptions,
    problems: Problems,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[ImportedInterview]:
    """The interviews in every file, in order. Store them as they come, and when the loop ends
    call `problems.raise_if_any()` inside the same transaction: one bad cell writes nothing."""
    for path in paths:
        yield from read_file(Path(path), options, problems, on_bytes)


def total_size(paths: Iterable[Path]) -> int:
    """The bytes an import will read, for its progress bar (unreadable files count as 0)."""
    total = 0
    for path in paths:
        try:
            total += Path(path).stat().st_size
        except (OSError, ValueError):
            continue
    return total
