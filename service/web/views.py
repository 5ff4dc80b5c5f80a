"""How records read on a page: times in the user's zone and the recipient's, statuses, events."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from service.formatting import human_delta, local
from service.models import Event

_ZONES: dict[str, ZoneInfo] = {}


def zone_of(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    if name not in _ZONES:
        _ZONES[name] = ZoneInfo(name)
    return _ZONES[name]


def when(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment in a zone, as listings show it: 'Tue 2026-09-01 14:00'."""
    return local(moment, zone) if moment else "-"


def when_there(moment: datetime | None, zone_name: str | None) -> str:
    """The same moment in the recipient's zone, with the zone's name."""
    zone = zone_of(zone_name)
    if moment is None or zone is None:
        return ""
    return f"{local(moment, zone)} {zone.key}"


def input_value(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as a datetime-local field's value in a zone: '2026-09-01T14:00'."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def status_label(status: str) -> str:
    return status.replace("_", " ")


def event_detail(event: Event) -> str:
    """An event's detail in words: JSON objects as `key: value` pairs."""
    text = event.detail or ""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        return "; ".join(f"{k}: {v}" for k, v in data.items() if k != "content_hash")
    return text


FILTERS = {
    "when": when,
    "when_there": when_there,
    "input_value": input_value,
    "status_label": status_label,
    "event_detail": event_detail,
    "ago": human_delta,
}
