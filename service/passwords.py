"""Web login passwords: what is too weak to take (short, few different characters, or common),
and a strong one to suggest instead."""

from __future__ import annotations

import secrets
import string
from functools import cache
from pathlib import Path

#: Fewer characters are guessable offline in hours, whatever they are.
MIN_LENGTH = 12
#: "aaaaaaaaaaaa", "abababababab", twelve spaces: not a password.
MIN_DIFFERENT = 5
COMMON = Path(__file__).resolve().parent / "data" / "common-passwords.txt"
_AROUND = string.digits + string.punctuation + " "


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (service/data/common-passwords.txt), lower case."""
    lines = COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def weakness(password: str) -> str | None:
    """Why the password is too weak to guard the web app (one line), or None when it will do."""
    if len(password) < MIN_LENGTH:
        return f"it is {len(password)} characters long: use at least {MIN_LENGTH}"
    if not password.isprintable():
        return "it holds a control character: use printable characters only"
    if len(set(password)) < MIN_DIFFERENT:
        return f"it has fewer than {MIN_DIFFERENT} different characters"
    lowered = password.lower()
    core = lowered.strip(_AROUND)
    if lowered in common_passwords() or core in common_passwords():
        return "it is a common password, among the first any attacker tries"
    return None


def suggestion() -> str:
    """A password to type: four groups of four letters and digits (about 80 bits)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
