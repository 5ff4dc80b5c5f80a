"""Bytes to text for imports: UTF-8 only, a byte-order mark tolerated, binary files refused."""

from __future__ import annotations

import codecs

from service.importing.records import Problems

#: Byte-order marks of encodings that are not UTF-8 (longest first: UTF-32 LE starts like UTF-16 LE).
_OTHER_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
SAVE_AS_UTF8 = "save it as UTF-8"
#: The same for a spreadsheet, where the choice has a name of its own.
SAVE_CSV_AS_UTF8 = "save it as UTF-8 (in Excel: 'CSV UTF-8')"


def other_encoding(head: bytes) -> str | None:
    """The name of a non-UTF-8 encoding the file's byte-order mark announces, if any."""
    for bom, name in _OTHER_BOMS:
        if head.startswith(bom):
            return name
    return None


def strip_bom(data: bytes) -> bytes:
    """Drop a UTF-8 byte-order mark: Excel and Windows Notepad write one; it is not content."""
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def decode(data: bytes, file: str, problems: Problems, *, charset: str = "utf-8") -> str | None:
    """The text of a whole file (or MIME part), or None after recording why it is not text."""
    encoding = other_encoding(data)
    if encoding:
        problems.add(file, f"is {encoding} text: {SAVE_AS_UTF8}")
        return None
    data = strip_bom(data)
    if b"\x00" in data:
        problems.add(
            file, "is a binary file, not text", line=data[: data.index(b"\x00")].count(b"\n") + 1
        )
        return None
    try:
        return data.decode(charset)
    except LookupError:
        problems.add(file, f"declares an unknown character set {charset!r}")
        return None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = sum(1 for raw in data.split(b"\n") if not _decodes(raw, charset))
        others = f"; {bad - 1} more line{'s' if bad > 2 else ''} like it" if bad > 1 else ""
        problems.add(
            file,
            f"is not {charset.upper()} text (byte 0x{data[exc.start]:02X}{others}): {SAVE_AS_UTF8}",
            line=line,
        )
        return None


def _decodes(raw: bytes, charset: str) -> bool:
    try:
        raw.decode(charset)
    except UnicodeDecodeError:
        return False
    return True
