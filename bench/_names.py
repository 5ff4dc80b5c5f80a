"""Realistic people's names for the benchmarks' recipients (standard library only: the peers'
venv imports it too).

The service holds a follow-up for review when a name does not say how to greet the person
("Person 12" has digits in it), so every benchmark that sends uses names like these.
"""

from __future__ import annotations

FIRST = ("Ada", "Ben", "Cleo", "Dev", "Eve", "Finn", "Gia", "Hugo", "Iris", "Jon")
LAST = ("Roe", "Lee", "Diaz", "Khan", "Moss", "Ng", "Ortiz", "Park", "Quist", "Reyes")


def person_name(n: int) -> str:
    """The n-th recipient's name (n from 1): 100 different names, then they repeat."""
    return f"{FIRST[(n - 1) % 10]} {LAST[(n - 1) // 10 % 10]}"


def first_name(n: int) -> str:
    return FIRST[(n - 1) % 10]
