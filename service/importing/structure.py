"""Where a calendar's BEGIN/END nesting breaks: icalendar silently drops unclosed components."""

from __future__ import annotations


def structure_problem(lines: list[str]) -> tuple[int, str] | None:
    """(line, message) for the first place the BEGIN/END lines stop matching, or None.

    icalendar drops a component that is never closed and lets any END close a component, so a
    truncated download or a mangled edit would pass unnoticed, or lose events silently.
    """
    open_blocks: list[tuple[str, int]] = []
    for number, raw in enumerate(lines, 1):
        if raw[:1] in (" ", "\t"):
            continue  # a folded line continues a property's value
        line = raw.strip()
        key, _, value = line.partition(":")
        key, value = key.upper(), value.strip().upper()
        if key == "BEGIN":
            if not open_blocks and value != "VCALENDAR":
                return number, f"BEGIN:{value} is outside BEGIN:VCALENDAR: the calendar is broken"
            open_blocks.append((value, number))
        elif key == "END":
            if not open_blocks:
                return number, f"END:{value} closes nothing: the calendar is broken"
            name, opened = open_blocks.pop()
            if name != value:
                return number, (
                    f"END:{value} does not close BEGIN:{name} (line {opened}): the calendar is "
                    "broken"
                )
    if open_blocks:
        name, opened = open_blocks[-1]
        return opened, (
            f"BEGIN:{name} is never closed by END:{name}: the file is cut off (truncated) or broken"
        )
    return None
