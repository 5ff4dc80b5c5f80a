"""CONTRIBUTING.md stays true: its state-machine table is the one in service/lifecycle.py, and
the modules and commands it names exist."""

from __future__ import annotations

import re
from pathlib import Path

from service.lifecycle import MOVES

REPO = Path(__file__).resolve().parents[1]
GUIDE = (REPO / "CONTRIBUTING.md").read_text()


def test_the_state_machine_table_is_the_one_the_code_enforces():
    table = GUIDE.split("<!-- moves:", 1)[1].split("<!-- /moves -->", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+?) \|$", table, flags=re.M)
    assert rows == [(str(a), str(b), who) for (a, b), who in MOVES.items()]


def test_every_path_it_names_exists():
    named = set(re.findall(r"`((?:service|tests|templates|migrations|bench|docs)/[\w/.]+)`", GUIDE))
    named |= set(re.findall(r"\]\(((?:service|docs)/[\w/.-]+)\)", GUIDE))
    assert len(named) > 15
    missing = [p for p in sorted(named) if "NAME" not in p and not (REPO / p).exists()]
    assert missing == []
