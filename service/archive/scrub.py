"""No live secret leaves the database: approve links cut out of what an export or backup holds.

A review digest's text holds `/approve/<token>` links; whoever holds one approves a follow-up
without logging in. An export or backup keeps the digest, with each token replaced by `removed`
(`/approve/removed`, which no server accepts), and leaves out the web app's secrets (the key
that signs links, a generated login password's hash) and the table of links.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from service.links import PATH

#: What a removed token reads as: `/approve/removed` is refused as "not valid" by every server.
REMOVED = "removed"
#: Tables of secrets: in no export, and emptied in a SQLite backup.
SECRET_TABLES = ("web_approve_links", "web_secrets")

_TOKEN_TEXT = re.compile(re.escape(PATH) + r"[A-Za-z0-9_\-.]+")
# In a message as it went out, a quoted-printable soft line break (`=` CRLF) may cut the path or
# the token anywhere; a token holds only characters that quoted-printable leaves as they are.
_SOFT = rb"(?:=\r?\n)?"
_TOKEN_BYTES = re.compile(
    _SOFT.join(re.escape(bytes([c])) for c in PATH.encode("ascii"))
    + rb"(?:[A-Za-z0-9_\-.]|=\r?\n)+"
)


def text(value: str) -> str:
    """`value` with every approve token replaced by `removed`."""
    if PATH not in value:
        return value
    return _TOKEN_TEXT.sub(PATH + REMOVED, value)


def raw(value: bytes) -> bytes:
    """A message's bytes with every approve token replaced (through soft line breaks too)."""
    if b"approve" not in value and b"=\n" not in value and b"=\r\n" not in value:
        return value
    return _TOKEN_BYTES.sub(PATH.encode("ascii") + REMOVED.encode("ascii"), value)


def value(value: Any) -> Any:
    """Any column's value, scrubbed when it is text or bytes."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return raw(bytes(value))
    return value


def sqlite_copy(path: str) -> None:
    """Scrub a SQLite copy in place: tokens replaced, secret tables emptied, and the freed pages
    overwritten (secure_delete, then VACUUM), so no old text stays in the file."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            if table in SECRET_TABLES:
                conn.execute(f'DELETE FROM "{table}"')  # noqa: S608 (names from the file itself)
                continue
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                found = conn.execute(
                    f'SELECT rowid, "{column}" FROM "{table}" '  # noqa: S608
                    f'WHERE instr("{column}", \'approve\') > 0 OR (typeof("{column}") = '
                    f"'blob' AND (instr(\"{column}\", X'3D0A') > 0 OR instr(\"{column}\", "
                    "X'3D0D0A') > 0))"
                ).fetchall()
                for rowid, old in found:
                    new = value(old)
                    if new != old:
                        conn.execute(
                            f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?',  # noqa: S608
                            (new, rowid),
                        )
        conn.commit()
        conn.execute("VACUUM")
    finally:
        conn.close()
