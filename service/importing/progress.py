"""A progress bar for long imports: shown on a terminal, silent in scripts and with --json."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

#: Imports smaller than this finish before a bar would be read: no bar.
SMALLEST = 1024 * 1024


class Progress:
    """Bytes read so far out of a total; draws on stream only when a person is watching."""

    def __init__(
        self,
        total: int,
        *,
        json_output: bool = False,
        stream: TextIO | None = None,
        smallest: int = SMALLEST,
    ):
        stream = stream if stream is not None else sys.stderr
        self.shown = shows_progress(stream, json_output=json_output) and total >= smallest
        self._bar = (
            tqdm(
                total=total,
                file=stream,
                unit="B",
                unit_scale=True,
                desc="importing",
                leave=False,
                dynamic_ncols=True,
            )
            if self.shown
            else None
        )

    def advance(self, count: int) -> None:
        """Count bytes read (pass this as `on_bytes` to `files.read_files`)."""
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def shows_progress(stream: TextIO, *, json_output: bool) -> bool:
    """A bar only for a person at a terminal: never with --json, never into a pipe or file."""
    if json_output:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
