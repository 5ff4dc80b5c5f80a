"""Bounds on what comes in from files: how big a message may be and how deeply it may nest."""

from __future__ import annotations

import re
from pathlib import Path

from service.errors import UsageError

#: A message (.eml) or an invitation (.ics) larger than this is not one: refused after reading
#: at most this much, so that /dev/zero or a huge file costs neither memory nor time.
LARGEST_MESSAGE = 50 * 1024 * 1024
#: Multipart and message/rfc822 parts one message may hold. Mail clients nest a handful; Python's
#: parser recurses once per level and fails near a thousand (RecursionError).
MOST_MIME_CONTAINERS = 100
_CONTAINER = re.compile(rb"(?im)^content-type:[ \t]*(?:multipart|message)/")


def mime_nesting_problem(raw: bytes) -> str | None:
    """Why a message nests too many MIME parts to be read, or None: checked before parsing."""
    for found, _ in enumerate(_CONTAINER.finditer(raw), 1):
        if found > MOST_MIME_CONTAINERS:
            return (
                f"holds more than {MOST_MIME_CONTAINERS} nested MIME parts (multipart or "
                "message/rfc822): not a message followup reads"
            )
    return None


def read_message_file(name: str) -> bytes:
    """A message file's bytes, at most LARGEST_MESSAGE of them; UsageError (one line) if it
    cannot be read or is larger."""
    try:
        with Path(name).open("rb") as fh:
            raw = fh.read(LARGEST_MESSAGE + 1)
    except OSError as exc:
        raise UsageError(f"{name!r}: cannot be read ({exc.strerror or exc})") from None
    except ValueError:  # a NUL in the name
        raise UsageError(f"{name!r} is not a file name") from None
    if len(raw) > LARGEST_MESSAGE:
        raise UsageError(
            f"{name}: is larger than {LARGEST_MESSAGE // 2**20} MB: no message is that big"
        )
    return raw
