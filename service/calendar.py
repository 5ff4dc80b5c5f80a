"""Business calendar: open hours, working days and public holidays on a time zone's wall clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from service.validation import local_to_utc, require_aware, wall_time_status

if TYPE_CHECKING:
    from holidays import HolidayBase

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: How far ahead to look for an open day before declaring the calendar closed for good.
SEARCH_DAYS = 800


@dataclass(frozen=True)
class Window:
    """When mail may go out, in the recipient's local time; `enabled=False` means any time."""

    enabled: bool = True
    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))

    def describe(self) -> str:
        if not self.enabled:
            return "any time"
        names = ", ".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} on {names}"


@lru_cache(maxsize=16)
def _holiday_set(code: str) -> HolidayBase:
    import holidays

    country, _, subdiv = code.partition("-")
    return holidays.country_holidays(country, subdiv=subdiv or None)


class Calendar:
    """Answers "when is the next moment mail may go out" for a window and a holiday country."""

    def __init__(self, window: Window, holidays: str | None = None):
        self.window = window
        self.holidays_code = holidays
        self._holidays = _holiday_set(holidays) if holidays else None

    def holiday_name(self, day: date) -> str | None:
        """The public holiday on day, if any."""
        if self._holidays is None:
            return None
        return self._holidays.get(day)

    def is_business_day(self, day: date) -> bool:
        """A working day of the window that is not a public holiday."""
        return day.weekday() in self.window.days and self.holiday_name(day) is None

    def is_open(self, moment: datetime, zone: ZoneInfo) -> bool:
        """Whether mail may go out at moment: the wall clock in zone is inside the window."""
        if not self.window.enabled:
            return True
        local = require_aware(moment, "moment").astimezone(zone)
        return (
            self.is_business_day(local.date())
            and self.window.start <= local.time() < self.window.end
        )

    def next_open(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after moment inside the window, in UTC."""
        moment = require_aware(moment, "moment")
        if self.is_open(moment, zone):
            return moment
        local_day = moment.astimezone(zone).date()
        for offset in range(SEARCH_DAYS):
            day = local_day + timedelta(days=offset)
            if not self.is_business_day(day):
                continue
            # A clock change can skip the opening time (or the whole day), or repeat it.
            for opens in _occurrences(datetime.combine(day, self.window.start), zone):
                if opens > moment and self.is_open(opens, zone):
                    return opens
        raise ValueError(f"no open business hours within {SEARCH_DAYS} days of {moment:%Y-%m-%d}")

    def add_business_days(self, moment: datetime, count: int, zone: ZoneInfo) -> datetime:
        """The same wall-clock time `count` business days later, in UTC (not yet snapped)."""
        local = require_aware(moment, "moment").astimezone(zone)
        day = local.date()
        remaining = count
        for _ in range(SEARCH_DAYS):
            if remaining <= 0:
                break
            day += timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        else:
            raise ValueError(f"no {count} business days within {SEARCH_DAYS} days")
        return local_to_utc(datetime.combine(day, local.time().replace(tzinfo=None)), zone)


def _occurrences(wall: datetime, zone: ZoneInfo) -> list[datetime]:
    """The instants (UTC) at which the clock in zone reaches the naive wall time, in order.

    Usually one; two when the clocks go back over it; when they jump over it, the instant of the
    jump, the first moment the clock reads later than wall.
    """
    status = wall_time_status(wall, zone)
    if status == "ok":
        return [local_to_utc(wall, zone)]
    if status == "ambiguous":
        return [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
    # Skipped: with the offset from after the jump, wall is an instant before the jump; with the
    # one from before, an instant after it. The jump, on a whole second, lies in between.
    before = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    after = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) < wall:
            before = middle
        else:
            after = middle
    return [datetime.fromtimestamp(after, UTC)]


def add_calendar_days(moment: datetime, count: int, zone: ZoneInfo) -> datetime:
    """The same wall-clock time `count` days later in zone, in UTC (days, not 24-hour blocks)."""
    local = require_aware(moment, "moment").astimezone(zone)
    wall = datetime.combine(local.date() + timedelta(days=count), local.time().replace(tzinfo=None))
    return local_to_utc(wall, zone)
