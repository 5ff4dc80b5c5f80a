"""Time zones of invitations: TZID names to IANA zones, and wall-clock times to UTC."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from service.errors import UsageError
from service.validation import check_zone, local_to_utc, wall_time_status


def zone_for_tzid(tzid: str) -> str | None:
    """The IANA zone a TZID names: an IANA name, a Windows name as Outlook writes it (mapped by
    the CLDR windowsZones table that icalendar ships), or a "globally unique" /vendor/Area/City."""
    name = tzid.strip().strip('"')
    candidates = [name, WINDOWS_TO_OLSON.get(name)]
    if name.startswith("/"):
        parts = name.strip("/").split("/")
        candidates += ["/".join(parts[i:]) for i in range(1, len(parts))]
    for candidate in candidates:
        if candidate:
            try:
                return check_zone(candidate).key
            except UsageError:
                continue
    return None


def localize(wall: datetime, zone: ZoneInfo, what: str) -> tuple[datetime, str | None]:
    """The UTC moment of a wall-clock time in zone, and a note when that time was ambiguous.

    A time the clocks skip is refused; a time that happens twice is its first occurrence, as
    RFC 5545 (3.3.5) says.
    """
    status = wall_time_status(wall, zone)
    shown = wall.strftime("%Y-%m-%d %H:%M")
    if status == "nonexistent":
        raise UsageError(
            f"{what} {shown} does not exist in {zone.key} (the clocks jump forward then): "
            "ask for a corrected invitation"
        )
    note = None
    if status == "ambiguous":
        note = f"{what} {shown} happens twice in {zone.key}: the first is used (RFC 5545)"
    return local_to_utc(wall, zone), note
