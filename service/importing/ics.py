"""Calendar invitations (.ics): each VEVENT, parsed by icalendar, read as an ImportedInterview."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component
from icalendar.prop import vDDDTypes

from service.errors import UsageError
from service.importing.attendees import People
from service.importing.records import ImportedInterview, ImportOptions, Problems
from service.importing.structure import structure_problem
from service.importing.summary import company_and_role
from service.importing.zones import localize, zone_for_tzid
from service.validation import check_moment, clean_line

#: What an invitation may ask; REPLY, COUNTER and the like answer one and are no interview.
METHODS = ("PUBLISH", "REQUEST", "CANCEL")
#: Properties an event has at most once (RFC 5545 3.6.1); two are a broken file, not a choice.
SINGLE = (
    "UID",
    "DTSTART",
    "DTEND",
    "DURATION",
    "SEQUENCE",
    "SUMMARY",
    "ORGANIZER",
    "LOCATION",
    "STATUS",
    "RECURRENCE-ID",
)
SHORTEST, LONGEST = timedelta(minutes=1), timedelta(hours=24)


def read_calendar(
    text: str, file: str, options: ImportOptions, problems: Problems, *, numbered: bool = True
) -> list[ImportedInterview]:
    """Every interview in a calendar's text; problems are recorded, never raised.

    numbered: report line numbers (false for a calendar inside an email, whose lines are not the
    file's).
    """
    lines = text.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.upper() != "BEGIN:VCALENDAR":
        start = f"it starts with {first[:30]!r}" if first else "it is empty"
        problems.add(file, f"is not a calendar ({start}): export the invitation as an .ics file")
        return []
    broken = structure_problem(lines)
    if broken:
        problems.add(file, broken[1], line=broken[0] if numbered else None)
        return []
    try:
        with warnings.catch_warnings():
            # icalendar warns when it guesses a vendor TZID; zone_for_tzid decides those itself.
            warnings.simplefilter("ignore")
            calendars = Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # however the parser fails on a malformed file, the file is at fault
        problems.add(file, f"is not a readable calendar: {exc}")
        return []
    starts = [n for n, line in enumerate(lines, 1) if line.rstrip().upper() == "BEGIN:VEVENT"]
    events = [(cal, ev) for cal in calendars for ev in cal.walk("VEVENT")]
    if len(events) != len(starts):
        problems.add(file, "is not a readable calendar: its events do not nest as they should")
        return []
    if not events:
        problems.add(file, "holds no event (VEVENT): there is no invitation in it")
        return []
    found = []
    for (cal, event), begin in zip(events, starts, strict=True):
        reader = _EventReader(event, cal, file, lines, begin if numbered else None, options)
        interview = reader.read()
        problems.items.extend(reader.problems.items)
        if interview is not None:
            found.append(interview)
    return found


@dataclass
class _EventReader:
    event: Component
    calendar: Component
    file: str
    lines: list[str]
    line: int | None
    options: ImportOptions
    problems: Problems = field(default_factory=Problems)
    notes: list[str] = field(default_factory=list)

    @property
    def uid(self) -> str | None:
        uid = self.event.get("UID", "")
        return None if isinstance(uid, list) else (str(uid).strip() or None)

    def fail(self, message: str, prop: str | None = None, needle: str = "") -> None:
        line = self._line_of(prop, needle) if prop else self.line
        self.problems.add(self.file, message, line=line, uid=self.uid)

    def read(self) -> ImportedInterview | None:
        ev = self.event
        broken = set()
        for name, message in ev.errors:
            broken.add(name)
            self.fail(f"{name or 'a line'} cannot be read: {message}", name)
        twice = [name for name in SINGLE if isinstance(ev.get(name), list)]
        for name in twice:
            self.fail(f"{name} appears {len(ev.get(name))} times: an event has one", name)
        methods = self.calendar.get("METHOD")
        if isinstance(methods, list):
            self.fail(f"METHOD appears {len(methods)} times in the calendar: it has one")
        if twice or isinstance(methods, list):
            return None
        method = str(self.calendar.get("METHOD", "PUBLISH")).strip().upper()
        if method not in METHODS:
            self.fail(
                f"METHOD:{method} answers an invitation, it is not one: import the invitation itself"
            )
            return None
        if "RRULE" in ev or "RDATE" in ev:
            self.fail(
                "is a recurring event (RRULE): an interview happens once; export the single "
                "occurrence, or record it with `followup interview add`",
                "RRULE" if "RRULE" in ev else "RDATE",
            )
            return None
        if "RECURRENCE-ID" in ev:
            self.fail(
                "is one occurrence of a recurring event (RECURRENCE-ID): record it with "
                "`followup interview add`",
                "RECURRENCE-ID",
            )
            return None
        cancelled = method == "CANCEL" or str(ev.get("STATUS", "")).upper() == "CANCELLED"
        start = ev.get("DTSTART")
        if "DTSTART" in broken:
            return None
        if start is None:
            self.fail("DTSTART is missing: the event has no start time")
            return None
        if not isinstance(start.dt, datetime):
            self.fail(
                "is an all-day event: an interview needs a start time; record it with "
                "`followup interview add --at ...`",
                "DTSTART",
            )
            return None
        starts_at, zone = self._start(start)
        duration = self._duration(starts_at, zone, broken) if starts_at else None
        company, role = self._company_and_role(cancelled)
        location = self._location()
        contacts = People(self.options, self.fail, self.notes).read(ev, cancelled)
        sequence = self._sequence(broken)
        if self.uid is None:
            if cancelled:
                self.fail("has no UID: a cancellation is matched to its interview by UID")
            else:
                self.notes.append("the invitation has no UID: importing it again adds it again")
        if self.problems or starts_at is None:
            return None
        where = f"{self.file}:{self.line}" if self.line else self.file
        return ImportedInterview(
            source=f"{where}/{self.uid}" if self.uid else where,
            company=company or "",
            role=role or "",
            starts_at=starts_at,
            timezone=zone,
            duration=duration,
            location=location,
            contacts=tuple(contacts),
            uid=self.uid,
            sequence=sequence,
            cancelled=cancelled,
            warnings=tuple(self.notes),
        )

    # --- time --------------------------------------------------------------------------------

    def _fallback_zone(self) -> str | None:
        """--tz, else the zone the calendar declares for its floating times (X-WR-TIMEZONE)."""
        if self.options.tz:
            return self.options.tz
        declared = self.calendar.get("X-WR-TIMEZONE")
        return zone_for_tzid(str(declared)) if declared else None

    def _start(self, prop: vDDDTypes) -> tuple[datetime | None, str]:
        fallback = self._fallback_zone()
        try:
            starts_at, named = self._instant(prop, "DTSTART", fallback or self.options.user_zone)
            check_moment(starts_at, "DTSTART", prop.to_ical().decode(errors="replace"))
        except UsageError as exc:
            self.fail(str(exc), "DTSTART")
            return None, ""
        tzid = prop.params.get("TZID")
        if self.options.tz:
            return starts_at, self.options.tz
        if named:
            return starts_at, named
        if tzid:
            self.fail(
                f"DTSTART's TZID {str(tzid)!r} is not a time zone name followup knows: give the "
                "interviewers' zone with --tz, e.g. --tz America/New_York",
                "DTSTART",
            )
            return None, ""
        if not fallback:
            self.notes.append(
                f"the invitation names no time zone for the interviewers: {self.options.user_zone}"
                " (yours) is used; give --tz if they are elsewhere"
            )
        return starts_at, fallback or self.options.user_zone

    def _instant(
        self, prop: vDDDTypes, what: str, floating_zone: str
    ) -> tuple[datetime, str | None]:
        """The UTC moment of a DATE-TIME property and the IANA zone its TZID names, if any."""
        moment, tzid = prop.dt, prop.params.get("TZID")
        if not isinstance(moment, datetime):  # callers let only DATE-TIME values this far
            raise UsageError(f"{what} is not a date with a time")
        check_moment(moment, what, prop.to_ical().decode(errors="replace"))
        if tzid:
            named = zone_for_tzid(str(tzid))
            if named:
                return self._localize(moment.replace(tzinfo=None), ZoneInfo(named), what), named
            if moment.tzinfo is None:
                raise UsageError(
                    f"{what} has TZID {str(tzid)!r}: no time zone of that name is known and the "
                    "file does not define it (no VTIMEZONE)"
                )
            return moment.astimezone(UTC), None  # defined by the file's own VTIMEZONE
        if moment.tzinfo is not None:
            return moment.astimezone(UTC), None
        return self._localize(moment, ZoneInfo(floating_zone), what), None

    def _localize(self, wall: datetime, zone: ZoneInfo, what: str) -> datetime:
        moment, note = localize(wall, zone, what)
        if note:
            self.notes.append(note)
        return moment

    def _duration(self, starts_at: datetime, zone: str, broken: set) -> timedelta | None:
        end, length = self.event.get("DTEND"), None
        if "DTEND" in broken or "DURATION" in broken:
            return None
        if end is not None:
            if not isinstance(end.dt, datetime):
                self.fail("DTEND is a date but DTSTART has a time: give both a time", "DTEND")
                return None
            try:
                length = self._instant(end, "DTEND", zone)[0] - starts_at
            except UsageError as exc:
                self.fail(str(exc), "DTEND")
                return None
        elif self.event.get("DURATION") is not None:
            length = self.event.get("DURATION").dt
        if not length:
            return None
        if length < timedelta(0):
            self.fail("DTEND is before DTSTART", "DTEND" if end is not None else "DURATION")
        elif not SHORTEST <= length <= LONGEST:
            self.fail(
                f"the event lasts {length}: an interview lasts between 1 minute and 24 hours",
                "DTEND" if end is not None else "DURATION",
            )
        else:
            return length
        return None

    # --- what and where ----------------------------------------------------------------------

    def _company_and_role(self, cancelled: bool) -> tuple[str | None, str | None]:
        summary = " ".join(str(self.event.get("SUMMARY", "")).split())
        company, role = company_and_role(summary, self.options.company, self.options.role)
        missing = [flag for flag, value in (("--company", company), ("--role", role)) if not value]
        if missing and not cancelled:
            what = " and ".join(m[2:] for m in missing)
            self.fail(
                f"cannot tell the {what} from the title {summary!r}: give {' and '.join(missing)}",
                "SUMMARY",
            )
        try:
            company = clean_line(company, "the company", max_len=200) if company else None
            role = clean_line(role, "the role", max_len=200) if role else None
        except UsageError as exc:
            self.fail(str(exc), "SUMMARY")
        return company, role

    def _location(self) -> str:
        raw = str(self.event.get("LOCATION", ""))
        # Apple writes a postal address over several lines; one line reads the same.
        text = ", ".join(part.strip() for part in raw.splitlines() if part.strip())
        if len(text) > 300:
            self.notes.append("LOCATION is longer than 300 characters: it was shortened")
            text = text[:299] + "…"
        try:
            return clean_line(text, "LOCATION", max_len=300, required=False)
        except UsageError as exc:
            self.fail(str(exc), "LOCATION")
            return ""

    def _sequence(self, broken: set) -> int:
        if "SEQUENCE" in broken:
            return 0
        value = self.event.get("SEQUENCE", 0)
        if int(value) < 0:
            self.fail("SEQUENCE is negative", "SEQUENCE")
            return 0
        return int(value)

    def _line_of(self, prop: str, needle: str = "") -> int | None:
        """The line where the event's property prop (the one holding needle) starts."""
        if self.line is None:
            return None
        name = prop.upper()
        start, text = self.line, ""
        for number in range(self.line, len(self.lines) + 1):
            line = self.lines[number - 1].rstrip("\r")
            if line[:1] in (" ", "\t"):  # a folded line continues the property above
                text += line[1:]
                continue
            if (
                re.split(r"[;:]", text, maxsplit=1)[0].upper() == name
                and needle.lower() in text.lower()
            ):
                return start
            if line.strip().upper() == "END:VEVENT":
                break
            start, text = number, line
        return self.line
