"""An error names a bad setting without echoing a 5,000-character value whole (issue 20 #12)."""

from __future__ import annotations

import pytest

from service.config import KNOWN_SETTINGS

LONG = "x" * 5000


def test_shown_cuts_a_long_value_and_says_how_long_it_was():
    from service.validation import shown

    assert shown("short") == "'short'"
    assert shown(LONG) == f"{'x' * 80!r}... (5000 characters)"


@pytest.mark.parametrize("name", sorted(KNOWN_SETTINGS - {"FOLLOWUP_DATABASE_URL"}))
def test_no_error_echoes_a_long_setting_whole(workdir, run, monkeypatch, name):
    monkeypatch.setenv(name, LONG)
    result = run("doctor")
    assert "x" * 200 not in result.err + result.out, (result.err + result.out)[:300]
    assert "Traceback" not in result.err
