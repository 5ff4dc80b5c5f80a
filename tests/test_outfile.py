"""`--out` writes only regular files: new, or replaced atomically with --force (issue 20 #7)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

OUTS = [
    ("backup", "--out"),
    ("export", "--ics", "--out"),
    ("export", "--json", "--out"),
]


@pytest.fixture
def ready(workdir, run, record_interview):
    run("migrate")
    record_interview()
    return workdir


def refused(result, words: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert words in result.err and result.err.count("\n") == 1, result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("command", OUTS, ids=" ".join)
def test_out_refuses_a_symlink_a_fifo_and_a_device(ready, run, tmp_path, command):
    kept = tmp_path / "precious.txt"
    kept.write_text("mine")
    link = tmp_path / "link.out"
    link.symlink_to(kept)
    refused(run(*command, str(link)), "is a symbolic link")
    refused(run(*command, str(link), "--force"), "is a symbolic link")
    assert link.is_symlink() and kept.read_text() == "mine"  # neither replaced nor written through

    fifo = tmp_path / "pipe.out"
    os.mkfifo(fifo)
    refused(run(*command, str(fifo), "--force"), "is a FIFO")  # refused, never opened: no hang
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

    device = Path("/dev/full")
    refused(run(*command, str(device), "--force"), "is a device")
    assert stat.S_ISCHR(os.lstat(device).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


@pytest.mark.parametrize("command", OUTS, ids=" ".join)
def test_out_writes_a_new_file_and_replaces_one_only_with_force(ready, run, tmp_path, command):
    target = tmp_path / "out.file"
    made = run(*command, str(target))
    assert made.code == 0, made.err
    assert target.stat().st_size > 0 and stat.S_IMODE(target.stat().st_mode) == 0o600

    target.write_text("an older file")
    refused(run(*command, str(target)), "exists: give --force")
    assert target.read_text() == "an older file"

    inode = target.stat().st_ino
    again = run(*command, str(target), "--force")
    assert again.code == 0, again.err
    assert target.read_bytes() != b"an older file"
    assert target.stat().st_ino != inode  # a new file renamed over it, not written in place
    assert stat.S_ISREG(os.lstat(target).st_mode)
